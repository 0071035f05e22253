"""Stage 2 against a real loopback HTTP stub that injects faults, plus kill-and-resume."""
import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, assert_clean_error, run_script
from solar import prompts, rerank
from solar.client import ChatClient
from solar.stub import StubServer, candidate_ids, random_candidates


@pytest.fixture(scope="module")
def cands(ml100k, tmp_path_factory):
    """A candidate CSV in the exporter's format: 20 unseen items per user (no training needed)."""
    d = tmp_path_factory.mktemp("cands")
    random_candidates(ml100k, 40).to_csv(d / "cands.csv", index=False)
    return d / "cands.csv"


def cli_args(ml100k, cands, out, base_url, *extra):
    return ["llm_rerank.py", "--dataset", ml100k.root, "--res_path", cands, "--output_file", out,
            "--base_url", base_url, "--model", "stub", "--num_samples", "6", "--num_icls", "2", "--timeout", "2",
            "--max_retries", "2", *extra]


def test_parse_ids():
    allowed = [5, 7, 9, 11]
    assert prompts.parse_ids("I pick [5, 9] ... final: [11, 7, 7, 42]", allowed) == [11, 7]
    assert prompts.parse_ids("[ 9 ,5, ]", allowed) == [9, 5]
    assert prompts.parse_ids("no list here 5 7", allowed) == []
    assert prompts.parse_ids("no list here (5, X) 2. (7, Y) 1999", allowed, lenient=True) == [5, 7]
    # a year in a title is not an ID, even when the year is a candidate ID
    assert prompts.parse_ids("1. (7, Lady and the Tramp (1955))\n2. (5, Y (1999))", [5, 7, 1955],
                             lenient=True) == [7, 5]
    assert prompts.parse_ids("[100, 200]", allowed) == []
    assert prompts.parse_ids("", allowed) == []


def test_prompt_has_history_candidates_and_real_negatives(ml100k, cands):
    df = rerank.load_candidates(cands)
    titles = rerank.load_titles(ml100k.root / "titles.csv")
    r = rerank.Reranker(df, titles, client=None, topic="movie", num_icls=3, low_rated=rerank.low_rated_items(ml100k))
    user = int(df["user"].iloc[0])
    ex = r.examples(user, np.random.default_rng(0))
    assert len(ex) == 3
    low = rerank.low_rated_items(ml100k)
    for e in ex:
        other = df[df["target"] == e["liked_id"]].iloc[0]
        assert e["disliked_id"] != e["liked_id"]
        # a real negative: rated low by that user, or never interacted with
        assert e["disliked_id"] in low.get(int(other["user"]), []) or e["disliked_id"] not in set(other["history"])
        assert int(other["user"]) != user
    row = df.iloc[0]
    turn = prompts.rerank_turn("movie", [titles[i] for i in row["history"][-10:]],
                               [(i, titles[i]) for i in row["topk_items"]], 10, ex)
    assert all(f"({i}, {titles[i]})" in turn for i in row["topk_items"])
    assert turn.count("\n- ") == 10 and titles[row["history"][-1]] in turn and "{" not in turn


def test_rerank_with_stub(ml100k, cands, tmp_path):
    with StubServer() as s:
        p = run_script(*cli_args(ml100k, cands, tmp_path / "r.csv", s.base_url), check=True)
        assert s.bodies[0]["temperature"] == 0.0 and s.bodies[0]["seed"] == 42
    out = pd.read_csv(tmp_path / "r.csv", dtype=str)
    assert list(out.columns) == ["user", "split", "history", "candidates", "reranked", "target"]
    assert len(out) == 6
    for _, r in out.iterrows():
        assert r["reranked"].split() == r["candidates"].split()[:5]
    assert "done 6, failed 0" in p.stdout
    # three turns, asked once (shared): 2 understanding requests + 6 rerank requests
    assert len(s.bodies) == 8 and len(s.bodies[-1]["messages"]) == 6


@pytest.mark.parametrize("fault", ["500", "429", "slow", "empty"])
def test_transient_faults_are_retried(ml100k, cands, tmp_path, fault):
    seen = set()

    def reply(body, n):
        key = body["messages"][-1]["content"]
        if n > 2 and key not in seen:  # every rerank request fails once, then succeeds
            seen.add(key)
            return {"500": (500, None, 0), "429": (429, None, 0), "slow": (200, "[1]", 3.0),
                    "empty": (200, None, 0)}[fault]
        return 200, f"[{', '.join(map(str, candidate_ids(body['messages'])[:3]))}]", 0
    with StubServer(reply) as s:
        p = run_script(*cli_args(ml100k, cands, tmp_path / "r.csv", s.base_url), check=True)
    assert "done 6, failed 0" in p.stdout, p.stdout
    assert ("retries 0," not in p.stdout) or fault == "empty"  # empty choice = a parse retry
    assert len(pd.read_csv(tmp_path / "r.csv")) == 6


@pytest.mark.parametrize("answer", ["I like movies!", "[99999, 88888]"])
def test_unusable_answers_are_counted_failures(ml100k, cands, tmp_path, answer):
    with StubServer(lambda b, n: (200, answer, 0)) as s:
        p = run_script(*cli_args(ml100k, cands, tmp_path / "r.csv", s.base_url), check=True)
    assert "done 0, failed 6" in p.stdout and "parse failures 18" in p.stdout  # 1 + 2 retries each
    recs = [json.loads(x) for x in (tmp_path / "r.csv.jsonl").read_text().splitlines()]
    assert len(recs) == 6 and all(r["status"] == "failed" for r in recs)


def test_client_retries_then_raises():
    import openai
    with StubServer(lambda b, n: (503, None, 0)) as s:
        async def go():
            c = ChatClient(s.base_url, "stub", max_retries=2, backoff=0.01)
            try:
                await c.chat([{"role": "user", "content": "hi"}])
            finally:
                await c.close()
            return c
        with pytest.raises(openai.InternalServerError):
            asyncio.run(go())
        assert s.count == 3


def test_bad_inputs_are_clean_errors(ml100k, cands, tmp_path):
    with StubServer() as s:
        args = lambda *x: cli_args(ml100k, cands, tmp_path / "r.csv", s.base_url, *x)  # noqa: E731
        assert_clean_error(run_script(*cli_args(ml100k, tmp_path / "none.csv", tmp_path / "r.csv", s.base_url)),
                           "not found")
        (tmp_path / "empty.csv").write_text("")
        assert_clean_error(run_script(*cli_args(ml100k, tmp_path / "empty.csv", tmp_path / "r.csv", s.base_url)),
                           "empty")
        (tmp_path / "bad.csv").write_text("user,items\n1,2 3\n")
        assert_clean_error(run_script(*cli_args(ml100k, tmp_path / "bad.csv", tmp_path / "r.csv", s.base_url)),
                           "missing column")
        (tmp_path / "ill.csv").write_text("user,history,topk_items,target\n1,2 3,,4\n")
        assert_clean_error(run_script(*cli_args(ml100k, tmp_path / "ill.csv", tmp_path / "r.csv", s.base_url)),
                           "no candidates")
        t = pd.read_csv(ml100k.root / "titles.csv").iloc[:100]
        t.to_csv(tmp_path / "few_titles.csv", index=False)
        assert_clean_error(run_script(*args("--title_path", tmp_path / "few_titles.csv")), "no title")
        assert_clean_error(run_script(*cli_args(ml100k, cands, tmp_path / "missing" / "r.csv", s.base_url)),
                           "folder does not exist")
        assert_clean_error(run_script(*args("--num_icls", "100")), "--num_icls")
        assert_clean_error(run_script(*args("--model", "gpt-9")), "does not serve")
    assert_clean_error(run_script(*cli_args(ml100k, cands, tmp_path / "r.csv", "http://127.0.0.1:9/v1")),
                       "cannot reach")


def test_kill_and_resume_loses_and_duplicates_nothing(ml100k, cands, tmp_path):
    out = tmp_path / "r.csv"
    with StubServer(lambda b, n: (200, f"[{(candidate_ids(b['messages']) or [0])[0]}]", 0.15)) as s:
        args = [sys.executable, *map(str, cli_args(ml100k, cands, out, s.base_url))]
        args[args.index("6")] = "30"
        proc = subprocess.Popen(args + ["--concurrency", "2"], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        jl = tmp_path / "r.csv.jsonl"
        deadline = time.time() + 60
        while time.time() < deadline and (not jl.exists() or len(jl.read_text().splitlines()) < 8):
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        first = len(jl.read_text().splitlines())
        assert 8 <= first < 30
        p = run_script(*[a for a in args[1:]], "--concurrency", "2", check=True)
    assert "resuming" in p.stdout + p.stderr
    users = [json.loads(x)["user"] for x in jl.read_text().splitlines()]
    assert len(users) == len(set(users)) == 30
    assert len(pd.read_csv(out)) == 30
