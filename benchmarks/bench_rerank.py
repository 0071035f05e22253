"""Reranker client throughput against a loopback stub that answers after a fixed delay
(concurrency 1 vs 16), client overhead per request, and optionally seconds per user with
the real embedded model.

  python benchmarks/bench_rerank.py [--users 200] [--delay 0.1] [--embedded 3]
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from solar import rerank  # noqa: E402
from solar.client import ChatClient  # noqa: E402
from solar.stub import StubServer, candidate_ids, random_candidates  # noqa: E402


def fake_inputs(n_users, n_items=2000, seed=0):
    rng = np.random.default_rng(seed)
    rows = [dict(user=u, split="train", history=list(rng.integers(1, n_items, 30)),
                 topk_items=list(rng.choice(np.arange(1, n_items), 20, replace=False)), target=int(rng.integers(1, n_items)))
            for u in range(1, n_users + 1)]
    return pd.DataFrame(rows), {i: f"Movie {i} (1999)" for i in range(1, n_items)}


def run(df, titles, base_url, concurrency):
    client = ChatClient(base_url, "stub", concurrency=concurrency, max_retries=0)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        rerank.rerank(df, titles, client, Path(d) / "r.csv", topic="movie", num_icls=2, understanding="none")
        return time.perf_counter() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=200)
    p.add_argument("--delay", type=float, default=0.1)
    p.add_argument("--embedded", type=int, default=0, help="also rerank N users with the embedded model")
    a = p.parse_args()
    df, titles = fake_inputs(a.users)
    reply = lambda b, n: (200, str(candidate_ids(b["messages"])[:10]), a.delay)  # noqa: E731
    with StubServer(reply) as s:
        t1 = run(df, titles, s.base_url, 1)
        t16 = run(df, titles, s.base_url, 16)
    with StubServer(lambda b, n: (200, str(candidate_ids(b["messages"])[:10]), 0.0)) as s:
        t0 = run(df, titles, s.base_url, 1)
    print(f"{a.users} users, stub answers after {a.delay * 1000:.0f} ms")
    print(f"concurrency 1:  {t1:.1f} s ({a.users / t1:.1f} users/s)")
    print(f"concurrency 16: {t16:.1f} s ({a.users / t16:.1f} users/s) -> {t1 / t16:.1f}x")
    print(f"client + stub overhead per request (0 ms stub, concurrency 1): {t0 / a.users * 1000:.1f} ms")
    if a.embedded:
        import subprocess
        from solar import data
        ds = data.resolve("ml-100k")
        with tempfile.TemporaryDirectory() as d:
            random_candidates(ds, a.embedded + 2, seed=1).to_csv(Path(d) / "c.csv", index=False)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "llm_rerank.py", "--dataset", str(ds.root), "--res_path", f"{d}/c.csv",
                            "--output_file", f"{d}/r.csv", "--num_samples", str(a.embedded), "--num_icls", "2",
                            "--understanding", "none", "--lenient_parse", "--max_tokens", "96", "--max_retries", "1"],
                           check=True, cwd=Path(__file__).resolve().parents[1])
            wall = time.perf_counter() - t0
        print(f"embedded SmolLM2-135M via llamafactory-cli api: {wall:.0f} s for {a.embedded} users "
              f"(incl. server start), {wall / a.embedded:.1f} s/user")


if __name__ == "__main__":
    main()
