"""Stage 3a: templates, profiles (with the stub), builder determinism and leakage, test sets."""
import json

import numpy as np
import pandas as pd
import pytest

from conftest import assert_clean_error, run_script
from solar import profiles
from solar import templates as T
from solar.stub import StubServer

FULL = dict(history="- A\n- B", candidates="1. X\n2. Y", candidate="X", profile="I like noir.", chosen="1. X",
            k=5, n=20, item="movie", items="movies")


def test_every_template_renders_with_no_placeholder_left():
    assert len(T.FAMILIES) == 8 and all(len(w) >= 3 for w in T.FAMILIES.values())
    for family, wordings in T.FAMILIES.items():
        assert len(set(wordings)) == len(wordings), f"{family}: duplicated (glued?) wording"
        for w in wordings:
            out = T.render(w, **FULL)
            assert "{" not in out and "}" not in out, (family, w)


def test_empty_field_is_an_error():
    with pytest.raises(ValueError, match="profile"):
        T.render(T.FAMILIES["novelty"][0], **{**FULL, "profile": ""})


def test_list_prompt_is_the_one_test_py_sends():
    msgs = T.list_messages(["A", "B"], [f"T{i}" for i in range(20)], 5, "movies")
    assert "Select a recommendation list with 5 different items from the 20 candidates" in msgs[1]["content"]
    assert T.FAMILIES["List"][0] == T.LIST_PROMPT


def test_profile_prompts_use_most_recent_history_and_three_wordings():
    for f in profiles.FIELDS:
        texts = {profiles.prompt(f, "movie", ["Old", "New"], v)[1]["content"] for v in range(3)}
        assert len(texts) == 3
    book = profiles.prompt("explicit_preference", "book", ["X"], 0)[1]["content"]
    assert "read" in book and "books" in book


@pytest.fixture(scope="module")
def rerank_csv(ml100k, tmp_path_factory):
    d = tmp_path_factory.mktemp("rr")
    rng = np.random.default_rng(0)
    rows = []
    train = set(ml100k.split_users("train"))
    for u, g in ml100k.inter.groupby("user"):
        if u not in train or len(rows) >= 12:
            continue
        items = g["item"].tolist()
        cands = rng.choice(np.setdiff1d(np.arange(1, ml100k.n_items + 1), items), 20, replace=False)
        rows.append(dict(user=u, split="train", history=" ".join(map(str, items[:-1])),
                         candidates=" ".join(map(str, cands)), reranked=" ".join(map(str, cands[[3, 1, 7]])),
                         target=items[-1]))
    pd.DataFrame(rows).to_csv(d / "rerank.csv", index=False)
    return d / "rerank.csv"


@pytest.fixture(scope="module")
def profile_file(ml100k, rerank_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("prof") / "profiles.jsonl"
    with StubServer(lambda b, n: (200, "They like quiet, character-driven dramas with a twist.", 0)) as s:
        p = run_script("datagen/instgen/gen_profiles.py", "--dataset", ml100k.root, "--rerank_csv", rerank_csv,
                       "--output", out, "--base_url", s.base_url, "--model", "stub", check=True)
        prompts = [b["messages"][1]["content"] for b in s.bodies]
    assert "users 12, complete 12, failed fields 0" in p.stdout
    # exactly the 10 most recent titles, oldest first (requests arrive in any order)
    hist = pd.read_csv(rerank_csv).iloc[0]["history"].split()
    assert len(hist) > 10
    titles = ml100k.titles()
    block = "oldest first:\n" + "\n".join(f"- {titles[int(i)]}" for i in hist[-10:]) + "\n\n"
    assert sum(block in t for t in prompts) == len(profiles.FIELDS)
    return out


def test_builder_is_deterministic_and_loadable(ml100k, rerank_csv, profile_file, tmp_path):
    args = ["datagen/instgen/build_instructions.py", "--dataset", ml100k.root, "--rerank_csv", rerank_csv,
            "--profiles", profile_file, "--name", "solarlm_test"]
    p = run_script(*args, "--out_dir", tmp_path / "a", check=True)
    run_script(*args, "--out_dir", tmp_path / "b", check=True)
    a = (tmp_path / "a" / "solarlm_test.json").read_text()
    assert a == (tmp_path / "b" / "solarlm_test.json").read_text()
    rows = json.loads(a)
    assert len(rows) == 12 * 8 and "per family" in p.stdout
    assert all(r["instruction"] and r["output"] and "{" not in r["instruction"] for r in rows)
    info = json.loads((tmp_path / "a" / "dataset_info.json").read_text())
    assert info["solarlm_test"]["file_name"] == "solarlm_test.json"
    # LLaMA-Factory itself can read the folder
    from llamafactory.data.parser import get_dataset_list
    from llamafactory.hparams import DataArguments
    (attr,) = get_dataset_list(["solarlm_test"], str(tmp_path / "a"))
    assert attr.load_from == "file" and attr.dataset_name == "solarlm_test.json"
    assert DataArguments  # the import path of 0.9.2 exists


def test_no_test_user_in_training_and_leaky_input_refused(ml100k, rerank_csv, profile_file, tmp_path):
    run_script("datagen/instgen/build_instructions.py", "--dataset", ml100k.root, "--rerank_csv", rerank_csv,
               "--profiles", profile_file, "--out_dir", tmp_path, "--name", "x", check=True)
    users = {json.loads(x)["user"] for x in (tmp_path / "x.meta.jsonl").read_text().splitlines()}
    assert not users & set(ml100k.split_users("test"))
    bad = pd.read_csv(rerank_csv)
    bad.loc[0, "user"] = ml100k.split_users("test")[0]
    bad.to_csv(tmp_path / "leaky.csv", index=False)
    assert_clean_error(run_script("datagen/instgen/build_instructions.py", "--dataset", ml100k.root, "--rerank_csv",
                                  tmp_path / "leaky.csv", "--profiles", profile_file, "--out_dir", tmp_path),
                       "test user")
    bad.drop(columns=["reranked"]).to_csv(tmp_path / "cols.csv", index=False)
    assert_clean_error(run_script("datagen/instgen/build_instructions.py", "--dataset", ml100k.root, "--rerank_csv",
                                  tmp_path / "cols.csv", "--profiles", profile_file, "--out_dir", tmp_path),
                       "missing column")


def test_testsets(ml100k, tmp_path):
    run_script("datagen/instgen/build_testsets.py", "--dataset", ml100k.root, "--out_dir", tmp_path, "--name", "ml",
               check=True)
    seen = ml100k.ratings.groupby("user")["item"].agg(set)
    test_users = set(ml100k.split_users("test"))
    for kind in ("accuracy", "serendipity"):
        df = pd.read_pickle(tmp_path / f"ml_{kind}.pkl")
        assert len(df) == len(pd.read_json(tmp_path / f"ml_{kind}.jsonl", lines=True))
        assert set(df["user"]) <= test_users
        for _, r in df.iterrows():
            c = r["candidate_ids"]
            assert len(c) == len(set(c)) == 20 and r["target_id"] in c and len(r["history"]) <= 10
            assert not (set(c) - {r["target_id"]}) & seen[r["user"]]  # negatives never interacted with
            assert r["candidate"][c.index(r["target_id"])] == r["target"]
        # shuffled: the target is not always in the same slot
        assert df.apply(lambda r: r["candidate_ids"].index(r["target_id"]), axis=1).nunique() > 5
    ser = pd.read_pickle(tmp_path / "ml_serendipity.pkl")
    lab = ml100k.inter[ml100k.inter["serendipitous"]]
    assert set(zip(ser["user"], ser["target_id"])) <= set(zip(lab["user"], lab["item"]))
