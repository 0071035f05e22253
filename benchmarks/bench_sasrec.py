"""SASRec speed on MovieLens-1M: seconds per training epoch, candidate export for all users,
full-ranking test evaluation, and peak memory — at the paper's size and at a small CPU size.

  python benchmarks/bench_sasrec.py [--configs paper,small] [--threads N]

Reference code on this machine kind (as measured by the issue's author): 109 s per epoch,
92 s export (one forward pass per user), 24 s test evaluation.
"""
import argparse
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from solar import data, sasrec  # noqa: E402

CONFIGS = {"paper": dict(hidden_units=512, maxlen=100, num_blocks=2, num_heads=2, dropout_rate=0.2),
           "small": dict(hidden_units=64, maxlen=50, num_blocks=2, num_heads=2, dropout_rate=0.2)}
REFERENCE = {"epoch_s": 109.0, "export_s": 92.0, "eval_s": 24.0}


def bench(ds, cfg, batch_size=128):
    torch.manual_seed(0)
    model = sasrec.build_model(cfg, ds.n_items)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.98))
    inp, pos, w = sasrec._training_tensors(ds, cfg["maxlen"], finetune=False)
    model.train()
    t0 = time.perf_counter()
    for x, y, m in sasrec.epoch_batches(inp, pos, w, batch_size):
        loss = sasrec._loss(model, x, y, m, "bce", 0.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    epoch = time.perf_counter() - t0
    t0 = time.perf_counter()
    sasrec.export_candidates(model, ds, ["train", "valid", "test"], 20)
    export = time.perf_counter() - t0
    cases = sasrec.eval_cases(ds, ds.split_users("test"), cfg["maxlen"])
    t0 = time.perf_counter()
    sasrec.evaluate(model, cases)
    ev = time.perf_counter() - t0
    return dict(epoch_s=epoch, export_s=export, eval_s=ev)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default="paper,small")
    p.add_argument("--dataset", default="ml-1m")
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    ds = data.resolve(a.dataset)
    print(f"dataset {a.dataset}: {ds.meta['n_users']} users, {ds.n_items} items, torch threads {torch.get_num_threads()}")
    for name in a.configs.split(","):
        r = bench(ds, CONFIGS[name])
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        line = ", ".join(f"{k} {v:.2f}" for k, v in r.items())
        print(f"{name:6s} {CONFIGS[name]}: {line}, peak RSS {peak:.0f} MB")
        if name == "paper":
            print("       speed-up vs reference: " + ", ".join(
                f"{k} {REFERENCE[k] / r[k]:.1f}x" for k in REFERENCE))


if __name__ == "__main__":
    main()
