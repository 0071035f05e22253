"""The managed local server with the real embedded model: loopback only, always stopped,
no orphan after the owner is killed; and one real rerank run through it."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pandas as pd
import pytest

from conftest import ROOT, run_script
from solar.client import model_names
from solar.embedded import model_dir
from solar.server import LocalServer


def listening_addresses(port):
    out = set()
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(f).read().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.split(":")
            if int(p, 16) == port and state == "0A":
                out.add(addr)
    return out


def answers(base_url):
    try:
        model_names(base_url, timeout=2)
        return True
    except OSError:
        return False


def test_server_lifecycle_and_chat():
    with LocalServer(model_dir()) as srv:
        assert srv.base_url.startswith("http://127.0.0.1:")
        assert listening_addresses(srv.port) == {"0100007F"}  # 127.0.0.1, nothing else
        req = urllib.request.Request(srv.base_url + "/chat/completions", method="POST",
                                     headers={"Content-Type": "application/json"},
                                     data=json.dumps({"model": srv.model_name, "temperature": 0, "max_tokens": 8,
                                                      "messages": [{"role": "user", "content": "Say hi"}]}).encode())
        text = json.load(urllib.request.urlopen(req, timeout=120))["choices"][0]["message"]["content"]
        assert text.strip()
        proc = srv.proc
    assert proc.poll() is not None and not answers(srv.base_url)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_no_orphan_when_the_owner_dies(sig):
    owner = subprocess.Popen([sys.executable, "-m", "solar.server"], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "HF_HUB_OFFLINE": "1"})
    line = owner.stdout.readline()
    assert line.startswith("serving"), line
    base_url = line.split(" at ")[1].split()[0]
    assert answers(base_url)
    os.kill(owner.pid, sig)
    owner.wait(30)
    deadline = time.time() + 20
    while answers(base_url) and time.time() < deadline:
        time.sleep(0.5)
    assert not answers(base_url), "the server outlived its owner"



@pytest.fixture
def small_cands(ml100k, tmp_path):
    from solar.stub import random_candidates
    random_candidates(ml100k, 5, seed=1).to_csv(tmp_path / "cands.csv", index=False)
    return tmp_path / "cands.csv"


def test_rerank_through_the_managed_embedded_server(ml100k, small_cands, tmp_path):
    p = run_script("llm_rerank.py", "--dataset", ml100k.root, "--res_path", small_cands, "--output_file",
                   tmp_path / "r.csv", "--num_samples", "2", "--num_icls", "1", "--understanding", "none",
                   "--lenient_parse", "--max_tokens", "96", check=True)
    assert "[rerank] done" in p.stdout
    recs = [json.loads(x) for x in (tmp_path / "r.csv.jsonl").read_text().splitlines()]
    assert len(recs) == 2 and all(r["answer"] for r in recs)
    out = pd.read_csv(tmp_path / "r.csv", dtype=str)
    for _, r in out.iterrows():  # whatever the tiny model says, only candidates survive
        assert set(r["reranked"].split()) <= set(r["candidates"].split())
