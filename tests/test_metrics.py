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
    r = ranks_in_lists([[3, 1, 2], [5, 6], []], [2, 9, 1])
    assert r[0] == 2 and np.isinf(r[1]) and np.isinf(r[2])
