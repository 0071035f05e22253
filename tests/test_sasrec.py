"""A small real run of stage 1 on MovieLens-100K through the scripts, plus the error paths."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import assert_clean_error, run_script
from solar import sasrec
from solar.model import SASRec

TINY = ["--hidden_units", "32", "--maxlen", "20", "--num_blocks", "2", "--num_heads", "2", "--batch_size", "64",
        "--lr", "1e-3", "--eval_every", "1"]


@pytest.fixture(scope="module")
def trained(ml100k, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    run_script("datagen/train_id_model.py", "--dataset", ml100k.root, "--train_dir", out / "rel", "--num_epochs", "2",
               *TINY, check=True)
    p = run_script("datagen/train_id_model.py", "--dataset", ml100k.root, "--train_dir", out / "ser", "--finetune",
                   "--state_dict_path", out / "rel" / "best.pt", "--num_epochs", "2", "--eval_every", "1",
                   "--lr", "1e-3", check=True)
    return out, p


def test_training_writes_checkpoints_log_and_plot(trained):
    out, _ = trained
    for f in ("best.pt", "last.pt", "metrics.jsonl", "curves.png", "summary.json"):
        assert (out / "rel" / f).is_file(), f
    log = [json.loads(x) for x in (out / "rel" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2] and all("valid" in r for r in log)
    s = json.loads((out / "rel" / "summary.json").read_text())
    assert {"valid_accuracy", "test_accuracy", "test_serendipity"} <= s.keys()
    m = s["test_accuracy"]
    assert 0 <= m["full_HR@1"] <= m["full_HR@5"] <= m["full_HR@10"] <= 1
    assert m["sampled_HR@10"] >= m["full_HR@10"]  # 100 negatives are easier than the whole catalogue


def test_resume_continues_from_last_epoch(trained, ml100k, tmp_path):
    out, _ = trained
    import shutil
    shutil.copytree(out / "rel", tmp_path / "rel")
    p = run_script("datagen/train_id_model.py", "--dataset", ml100k.root, "--train_dir", tmp_path / "rel",
                   "--num_epochs", "3", *TINY, check=True)
    assert "resuming" in p.stdout + p.stderr
    log = [json.loads(x) for x in (tmp_path / "rel" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2, 3]


def test_finetune_changes_only_the_last_block(trained):
    out, _ = trained
    a = torch.load(out / "rel" / "best.pt", weights_only=False)
    b = torch.load(out / "ser" / "best.pt", weights_only=False)
    assert b["finetune"] and b["config"]["hidden_units"] == 32  # architecture taken from the checkpoint
    changed = {k for k in a["model"] if not torch.equal(a["model"][k], b["model"][k])}
    assert changed and all(k.startswith(("blocks.1.qkv", "blocks.1.out", "blocks.1.ffn")) for k in changed), changed


def test_export_candidates(trained, ml100k, tmp_path):
    out, _ = trained
    csv = tmp_path / "cands.csv"
    run_script("datagen/export_id_model_result.py", "--dataset", ml100k.root, "--ckpt", out / "ser" / "best.pt",
               "--topk", "20", "--output", csv, check=True)
    df = pd.read_csv(csv, dtype={"history": str, "topk_items": str})
    assert list(df.columns) == ["user", "split", "history", "topk_items", "target"]
    assert len(df) == ml100k.meta["n_users"]
    for _, r in df.sample(50, random_state=0).iterrows():
        top = list(map(int, r["topk_items"].split()))
        hist = set(map(int, r["history"].split()))
        assert len(top) == len(set(top)) == 20 and not hist & set(top) and 0 not in top


def test_vectorised_evaluation_matches_a_plain_loop(ml100k):
    torch.manual_seed(0)
    model = SASRec(ml100k.n_items, 16, 1, 1, 10, 0.0)
    cases = sasrec.eval_cases(ml100k, ml100k.split_users("valid"), 10)
    got = sasrec.evaluate(model, cases, batch_size=7)
    ranks = []
    with torch.no_grad():
        for u, h, t in zip(cases.users, cases.hist, cases.targets):
            s = model.score_all(torch.as_tensor(h[None]))[0]
            full = ml100k.inter.loc[ml100k.inter["user"] == u, "item"].tolist()[:-1]  # whole history, not maxlen
            seen = set(full) | {0}
            ranks.append(sum(1 for i in range(len(s)) if i not in seen and s[i] > s[t]))
    ranks = np.array(ranks)
    assert got["full_HR@10"] == pytest.approx(np.mean(ranks < 10))
    assert got["full_NDCG@10"] == pytest.approx(np.mean(np.where(ranks < 10, 1 / np.log2(ranks + 2), 0)))


def test_length_sorted_export_keeps_the_callers_order(ml100k):
    torch.manual_seed(0)
    model = SASRec(ml100k.n_items, 16, 2, 1, 30, 0.0).eval()
    cases = sasrec.eval_cases(ml100k, ml100k.split_users("test"), 30)
    assert len(set((cases.hist != 0).sum(1))) > 1  # lengths differ, so sorting reorders
    got = sasrec.topk(model, cases, 5, batch_size=16)
    with torch.no_grad():
        scores = model.score_all(torch.as_tensor(cases.hist))  # full width, no reordering
    for row in range(0, len(cases), 37):
        s = scores[row].clone()
        s[0] = -np.inf
        s[cases.seen_items[cases.seen_rows == row]] = -np.inf
        assert got[row].tolist() == s.topk(5).indices.tolist()


def test_epoch_batches_cover_every_sequence_once_and_drop_only_padding():
    inp = torch.tensor([[0, 0, 1, 2], [0, 3, 4, 5], [0, 0, 0, 6], [7, 8, 9, 1], [0, 0, 2, 3]])
    pos, w = inp + 10, inp != 0
    seen = []
    for x, y, m in sasrec.epoch_batches(inp, pos, w, 2):
        assert x.shape == y.shape == m.shape and x.shape[1] == max(int((x != 0).sum(1).max()), 1)
        seen += [tuple(r[r != 0].tolist()) for r in x]
    assert sorted(seen) == sorted(tuple(r[r != 0].tolist()) for r in inp)


def test_serendipity_cases_target_labelled_items(ml100k):
    c = sasrec.eval_cases(ml100k, ml100k.split_users("test"), 50, "serendipity")
    users, hist, tgt = c.users, c.hist, c.targets
    labelled = ml100k.inter[ml100k.inter["serendipitous"]]
    assert len(users) > 0
    assert set(zip(users, tgt)) <= set(zip(labelled["user"], labelled["item"]))
    # history ends right before the target
    for u, h, t in list(zip(users, hist, tgt))[:20]:
        seq = ml100k.inter.loc[ml100k.inter["user"] == u, "item"].tolist()
        k = seq.index(t)
        assert [x for x in h if x][-min(k, 50):] == seq[max(0, k - 50):k]


def test_cli_errors(trained, ml100k):
    out, _ = trained
    ds = str(ml100k.root)
    assert_clean_error(run_script("datagen/train_id_model.py", "--dataset", ds, "--finetune"), "--state_dict_path")
    assert_clean_error(run_script("datagen/train_id_model.py", "--dataset", ds, "--inference_only",
                                  "--state_dict_path", out / "rel" / "best.pt", "--hidden_units", "64"),
                       "does not match")
    assert_clean_error(run_script("datagen/export_id_model_result.py", "--dataset", ds, "--ckpt",
                                  out / "rel" / "best.pt", "--topk", "5000"), "larger than the catalogue")
    assert_clean_error(run_script("datagen/train_id_model.py", "--dataset", "nope"), "unknown dataset")
    assert_clean_error(run_script("datagen/export_id_model_result.py", "--dataset", ds, "--ckpt", out / "x.pt"),
                       "not found")


def test_finetune_without_labels_is_a_clean_error(trained, ml100k, tmp_path):
    out, _ = trained
    import shutil
    d = tmp_path / "nolabels"
    shutil.copytree(ml100k.root, d)
    inter = pd.read_csv(d / "interactions.csv")
    inter["serendipitous"] = False
    inter.to_csv(d / "interactions.csv", index=False)
    assert_clean_error(run_script("datagen/train_id_model.py", "--dataset", d, "--finetune", "--state_dict_path",
                                  out / "rel" / "best.pt", "--num_epochs", "1"), "no serendipity")
