import math

import numpy as np
import pytest

from solar.metrics import rank_metrics, ranks_in_lists


def test_rank_metrics_hand_computed():
    m = rank_metrics([0, 2, 7, np.inf])
    assert m["HR@1"] == pytest.approx(0.25)
    assert m["HR@5"] == pytest.approx(0.5)
    assert m["HR@10"] == pytest.approx(0.75)
    assert m["NDCG@1"] == pytest.approx(0.25)
    assert m["NDCG@5"] == pytest.approx((1 + 1 / math.log2(4)) / 4)
    assert m["NDCG@10"] == pytest.approx((1 + 1 / math.log2(4) + 1 / math.log2(9)) / 4)


def test_ranks_in_lists():
    r = ranks_in_lists(np.array([[3, 1, 2], [5, 6, -1], [-1, -1, -1]]), [2, 9, 1])
    assert r[0] == 2 and np.isinf(r[1]) and np.isinf(r[2])


from solar import metrics as M  # noqa: E402

# items 1..4; genres: 1=[1,0], 2=[0,1], 3=[1,1], 4=[1,0]
G = np.array([[0, 0], [1, 0], [0, 1], [1, 1], [1, 0]], dtype=float)
POP = np.array([0, 10, 5, 1, 8])


def test_serendipity_ge_hand_computed():
    cands = np.array([[1, 2, 3, 4], [1, 2, 3, 4]])
    # primitive top-2 by popularity among candidates: [1, 4]
    lists = np.array([[3, 1], [1, 2]])
    targets = np.array([3, 1])
    # user 0: target 3 listed and not in primitive -> 1 serendipitous of k=2; user 1: target 1 is in primitive -> 0
    assert M.serendipity_ge(lists, targets, cands, POP) == pytest.approx((0.5 + 0.0) / 2)


def test_unexpectedness_novelty_diversity_coverage_hand_computed():
    lists = np.array([[2, 3], [1, -1]])
    hist = np.array([[1, 4], [2, 0]])  # profiles [2,0] and [0,1]
    # user 0: item 2 [0,1] vs [2,0] -> 1; item 3 [1,1] vs [2,0] -> 1 - 1/sqrt2; user 1: item 1 [1,0] vs [0,1] -> 1
    expected = (1 + (1 - 1 / np.sqrt(2)) + 1) / 3
    assert M.unexpectedness(lists, hist, G) == pytest.approx(expected)
    assert M.novelty(lists, POP, 20) == pytest.approx(np.mean([-np.log2(5 / 20), -np.log2(1 / 20), -np.log2(10 / 20)]))
    # list 0: d(2,3) = 1 - 1/sqrt2; list 1 has one item -> ignored
    assert M.intra_list_diversity(lists, G) == pytest.approx(1 - 1 / np.sqrt(2))
    assert M.coverage(lists, 4) == pytest.approx(3 / 4)


def test_list_metrics_ranks():
    lists = np.array([[5, 6, 7, 8, 9], [1, 2, -1, -1, -1]])
    out = M.list_metrics(lists, np.array([7, 3]), np.tile(np.arange(1, 10), (2, 1)), np.array([[1], [2]]),
                         np.ones(10), np.ones((10, 2)), 10, 9)
    assert out["HR@1"] == 0 and out["HR@5"] == 0.5 and out["NDCG@5"] == pytest.approx(0.5 / np.log2(4))
