"""Title matching: the candidate-first rapidfuzz matcher of test.py against a per-title
pure-Python Levenshtein scan of the whole catalogue (the reference's approach).

  python benchmarks/bench_matching.py [--catalogue 100000] [--outputs 1000] [--scan_sample 3]

The pure-Python scan is timed on --scan_sample outputs and extrapolated (it takes hours for all).
"""
import argparse
import random
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from solar.evaluation import Matcher  # noqa: E402


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def scan(title, catalogue):
    best = min(catalogue, key=lambda t: levenshtein(title.lower(), t.lower()))
    return best if levenshtein(title.lower(), best.lower()) <= 3 else None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--catalogue", type=int, default=100_000)
    p.add_argument("--outputs", type=int, default=1000)
    p.add_argument("--scan_sample", type=int, default=3)
    a = p.parse_args()
    rng = random.Random(0)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))).title() for _ in range(5000)]
    catalogue = list(dict.fromkeys(f"{' '.join(rng.sample(words, rng.randint(1, 4)))} ({rng.randint(1920, 2024)})"
                                   for _ in range(int(a.catalogue * 1.1))))[:a.catalogue]
    cases = []
    for _ in range(a.outputs):  # 20 candidates, 5 answer lines with typos, one hallucinated
        cands = rng.sample(catalogue, 20)
        lines = []
        for t in rng.sample(cands, 4):
            i = rng.randrange(len(t))
            lines.append(t[:i] + t[i + 1:])  # one deleted character
        lines.append(rng.choice(catalogue))
        cases.append((cands, lines))
    m = Matcher(catalogue)
    t0 = time.perf_counter()
    for cands, lines in cases:
        m.match(lines, cands, list(range(20)), 5)
    fast = (time.perf_counter() - t0) / a.outputs
    t0 = time.perf_counter()
    for cands, lines in cases[:a.scan_sample]:
        for line in lines:
            scan(line, catalogue)
    slow = (time.perf_counter() - t0) / a.scan_sample
    print(f"catalogue {len(catalogue)} titles, {a.outputs} outputs x 5 lines")
    print(f"candidate-first rapidfuzz: {fast * 1e3:.2f} ms/output, {fast * a.outputs:.1f} s for all")
    print(f"pure-Python catalogue scan: {slow:.1f} s/output (on {a.scan_sample}), ~{slow * a.outputs / 3600:.1f} h for all")
    print(f"speed-up: {slow / fast:.0f}x")


if __name__ == "__main__":
    main()
