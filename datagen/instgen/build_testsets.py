"""Build the 20-candidate test sets from test users: accuracy and serendipity.

  python datagen/instgen/build_testsets.py --dataset data/ml-1m --out_dir testset --name movielens

Writes testset/<name>_accuracy.{pkl,jsonl} and testset/<name>_serendipity.{pkl,jsonl} with
columns history, candidate, target (titles; read by test.py) and user, history_ids,
candidate_ids, target_id (for ID-based baselines).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from solar import data, instructions  # noqa: E402
from solar.errors import cli  # noqa: E402


@cli
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True)
    p.add_argument("--out_dir", default="testset")
    p.add_argument("--name", help="default: the dataset folder name")
    p.add_argument("--num_candidates", type=int, default=20)
    p.add_argument("--hist_len", type=int, default=10)
    p.add_argument("--max_users", type=int, help="sample this many test users per set")
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args(argv)
    ds = data.load(a.dataset)
    name = a.name or ds.root.name
    for kind in ("accuracy", "serendipity"):
        df = instructions.build_testset(ds, kind, n_candidates=a.num_candidates, hist_len=a.hist_len, seed=a.seed,
                                        max_users=a.max_users)
        path = Path(a.out_dir) / f"{name}_{kind}"
        instructions.write_testset(df, path)
        print(f"[testset] {kind}: {len(df)} test users x {a.num_candidates} candidates -> {path}.pkl / .jsonl")


if __name__ == "__main__":
    main()
