"""Build the SUN instruction set (LLaMA-Factory alpaca JSON + dataset_info.json).

  python datagen/instgen/build_instructions.py --dataset data/ml-1m --rerank_csv runs/ml-1m/rerank.csv \
      --profiles runs/ml-1m/profiles.jsonl --out_dir runs/ml-1m/sft_data --name solarlm_ml

Then `dataset_dir: runs/ml-1m/sft_data` and `dataset: solarlm_ml` in a configs/*.yaml.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from solar import data, instructions, profiles  # noqa: E402
from solar.errors import SolarError, cli  # noqa: E402


def parse_mix(s):
    try:
        return {k: float(v) for k, v in (x.split("=") for x in s.split(","))} if s else None
    except ValueError:
        raise SolarError(f"--mix must look like T0_rerank=1,List=2 (got {s!r})") from None


@cli
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True)
    p.add_argument("--rerank_csv", required=True)
    p.add_argument("--profiles", required=True, help="JSONL from gen_profiles.py")
    p.add_argument("--out_dir", required=True)
    p.add_argument("--name", default="solarlm_ml", help="dataset name registered in dataset_info.json")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--size", type=int, help="total examples (default: all)")
    p.add_argument("--mix", help="family weights, e.g. T0_rerank=1,T1_next=1,List=2 (default: equal)")
    p.add_argument("--general", help="a local alpaca-format JSON to mix in (the paper mixes alpaca)")
    p.add_argument("--general_ratio", type=float, default=0.2, help="general examples per task example")
    a = p.parse_args(argv)
    ds = data.load(a.dataset)
    rr = instructions.load_rerank(a.rerank_csv, ds)
    s = instructions.build(rr, profiles.load(a.profiles), ds, Path(a.out_dir), name=a.name, seed=a.seed, size=a.size,
                           mix=parse_mix(a.mix), general=a.general, general_ratio=a.general_ratio)
    print(f"[instructions] {s['examples']} examples from {s['users']} users ({s['skipped_users']} skipped) "
          f"-> {a.out_dir}/{a.name}.json")
    print(f"[instructions] per family: {json.dumps(s['per_family'])}")
    print(f"[instructions] length (chars): mean {s['chars_mean']:.0f}, p95 {s['chars_p95']:.0f}, max {s['chars_max']}")


if __name__ == "__main__":
    main()
