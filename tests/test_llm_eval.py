"""test.py: parsing and snapping tricky answers, bad inputs, and a run against the stub."""
import json
import re

import pandas as pd
import pytest

from conftest import assert_clean_error, run_script
from solar import evaluation
from solar.stub import StubServer

CANDS = ["Toy Story (1995)", "Usual Suspects, The (1995)", "Heat (1995)", "Se7en (1995)", "Fargo (1996)",
         "Alien (1979)"]
IDS = [11, 12, 13, 14, 15, 16]


@pytest.mark.parametrize("answer,expected", [
    ("1. Toy Story (1995)\n2. Heat (1995)\n3. Fargo (1996)", [11, 13, 15]),
    ('1) "Toy Story (1995)"\n2) **Heat (1995)**\n3) Fargo (1996) - a dark comedy', [11, 13, 15]),
    ("Here are my picks:\n- Toy Stroy (1995)\n- Se7en\n* Alien (1979)\nHope you like them!", [11, 14, 16]),
    ("1. Heat (1995)\n2. Heat (1995)\n3. Jurassic Park (1993)", [13]),
    ("", []),
    ("I cannot help with that.", []),
])
def test_parse_and_snap_candidates_first(answer, expected):
    m = evaluation.Matcher(CANDS + ["Jurassic Park (1993)", "Heath (1995)"])
    ids, stats = m.match(evaluation.parse_titles(answer), CANDS, IDS, 5)
    assert ids == expected


def test_counts_hallucinations_and_duplicates():
    m = evaluation.Matcher(CANDS + ["Jurassic Park (1993)"])
    ids, st = m.match(evaluation.parse_titles("1. Heat (1995)\n2. Heat (1995)\n3. Jurassic Park (1993)\n"
                                              "4. Made Up Film (2031)"), CANDS, IDS, 5)
    assert st == dict(hallucinated=2, off_catalogue=1, duplicates=1)


def reply_first_five(body, n):
    user = body["messages"][-1]["content"]
    block = user.split("Candidates:\n", 1)[1].split("\n\n", 1)[0]
    titles = re.findall(r"^\d+\. (.*)$", block, flags=re.M)
    return 200, "\n".join(f"{i}. {t}" for i, t in enumerate(titles[:5], 1)), 0


@pytest.fixture(scope="module")
def testsets(ml100k, tmp_path_factory):
    d = tmp_path_factory.mktemp("ts")
    run_script("datagen/instgen/build_testsets.py", "--dataset", ml100k.root, "--out_dir", d, "--name", "ml",
               "--max_users", "30", check=True)
    return d


def test_test_py_with_stub(ml100k, testsets, tmp_path):
    with StubServer(reply_first_five) as s:
        run_script("test.py", "--data", ml100k.root, "--testset", testsets / "ml_accuracy", "--base_url",
                       s.base_url, "--model_name", "stub", "--output_dir", tmp_path, "--label", "r", check=True)
        assert s.bodies[0]["temperature"] == 0.0
        assert "<|" not in json.dumps(s.bodies[0]["messages"])  # no model-specific special tokens
    m = json.loads((tmp_path / "ml_accuracy_r.json").read_text())
    ts = pd.read_pickle(testsets / "ml_accuracy.pkl")
    # the stub picks the first five shown candidates: HR@5 = share of targets shown in the first five
    expected = ts.apply(lambda r: r["candidate_ids"].index(r["target_id"]) < 5, axis=1).mean()
    assert m["HR@5"] == pytest.approx(expected) and m["miss_count"] == 0 and m["valid_ratio"] == 1.0
    assert m["users"] == 30 and 0 <= m["serendipity"] <= m["HR@5"]


def test_garbage_answers_are_counted_misses(ml100k, testsets, tmp_path):
    with StubServer(lambda b, n: (200, "¯\\_(ツ)_/¯", 0)) as s:
        run_script("test.py", "--data", ml100k.root, "--testset", testsets / "ml_serendipity", "--base_url",
                   s.base_url, "--model_name", "stub", "--output_dir", tmp_path, "--label", "r", "--num_users", "5", check=True)
    m = json.loads((tmp_path / "ml_serendipity_r.json").read_text())
    assert m["miss_count"] == 5 and m["HR@5"] == 0 and m["valid_ratio"] == 0


def test_test_py_bad_inputs(ml100k, testsets, tmp_path):
    base = ["test.py", "--data", ml100k.root, "--model_name", "stub", "--output_dir", tmp_path]
    with StubServer(reply_first_five) as s:
        assert_clean_error(run_script(*base, "--testset", tmp_path / "nope", "--base_url", s.base_url), "not found")
        df = pd.read_pickle(testsets / "ml_accuracy.pkl")
        df.drop(columns=["target"]).to_pickle(tmp_path / "cols.pkl")
        assert_clean_error(run_script(*base, "--testset", tmp_path / "cols.pkl", "--base_url", s.base_url),
                           "missing column")
        assert_clean_error(run_script(*base, "--testset", testsets / "ml_accuracy", "--base_url", s.base_url,
                                      "--topk", "25"), "fewer than --topk")
        assert_clean_error(run_script("test.py", "--data", ml100k.root, "--testset", testsets / "ml_accuracy",
                                      "--base_url", s.base_url, "--model_name", "other"), "does not serve")
    assert_clean_error(run_script(*base, "--testset", testsets / "ml_accuracy", "--vllm_port", "9"), "cannot reach")
