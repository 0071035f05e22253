"""The results table: random, most-popular, SASRec (relevance), SASRec (serendipity) scored by id,
and LLM rows from test.py's JSON files, on the same test sets -> Markdown, CSV and a bar chart.

  python make_results.py --data data/ml-1m --testsets testset/ml-1m_accuracy testset/ml-1m_serendipity \
      --sasrec runs/ml-1m/sasrec/best.pt --sasrec_ser runs/ml-1m/sasrec_ser/best.pt \
      --llm "base LLM=runs/ml-1m/test/{set}_base.json" "SOLAR=runs/ml-1m/test/{set}_solar.json" \
      --num_users 40 --out_dir runs/ml-1m/results
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from solar import data, results  # noqa: E402
from solar.errors import SolarError, cli  # noqa: E402


@cli
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--testsets", nargs="+", required=True, help="paths; the part after the last '_' names the set")
    p.add_argument("--sasrec", help="relevance checkpoint")
    p.add_argument("--sasrec_ser", help="serendipity fine-tuned checkpoint")
    p.add_argument("--llm", nargs="*", default=[], help="LABEL=PATH with {set} standing for the set name")
    p.add_argument("--topk", type=int, default=5)
    p.add_argument("--num_users", type=int, help="the same seeded sample test.py scored")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out_dir", required=True)
    a = p.parse_args(argv)
    ds = data.load(a.data)
    sets = {Path(t).stem.rsplit("_", 1)[-1]: t for t in a.testsets}
    ckpts = {k: v for k, v in (("SASRec (relevance)", a.sasrec), ("SASRec (serendipity)", a.sasrec_ser)) if v}
    rows = results.id_rows(ds, sets, ckpts, a.topk, a.num_users, a.seed)
    llm = {}
    for spec in a.llm:
        if "=" not in spec:
            raise SolarError(f"--llm expects LABEL=PATH, got {spec!r}")
        label, pattern = spec.split("=", 1)
        for s in sets:
            path = Path(pattern.format(set=s))
            if not path.is_file():
                raise SolarError(f"--llm {label}: no test.py result at {path}")
            llm[(label, s)] = path
    rows += results.llm_rows(llm)
    out = results.write(results.table(rows), Path(a.out_dir))
    print(out["text"])
    print(f"\n-> {out['md']}, {out['csv']}, {out['png']}")


if __name__ == "__main__":
    main()
