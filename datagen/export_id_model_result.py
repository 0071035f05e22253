"""Export SASRec's top-k candidates per user (history masked) for the LLM reranker.

  python datagen/export_id_model_result.py --dataset data/ml-1m --ckpt runs/ml-1m/sasrec_ser/best.pt \
      --topk 20 --output runs/ml-1m/candidates.csv

CSV columns: user, split, history, topk_items, target — ids space-separated, history in
time order (all positives before the target), target = the user's last positive.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from solar import data, sasrec  # noqa: E402
from solar.errors import cli  # noqa: E402


@cli
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", "--data", required=True, help="processed dataset folder")
    p.add_argument("--ckpt", required=True, help="SASRec checkpoint (best.pt)")
    p.add_argument("--topk", type=int, default=20)
    p.add_argument("--batch_size", type=int, default=sasrec.INFER_BATCH)
    p.add_argument("--splits", default="train,valid,test", help="which users to export")
    p.add_argument("--device", default="cpu")
    p.add_argument("--output", help="CSV path (default: next to the checkpoint, candidates.csv)")
    a = p.parse_args(argv)
    ds = data.resolve(a.dataset)
    model, ck = sasrec.load_model(a.ckpt, None, ds.n_items, a.device)
    out = Path(a.output or Path(a.ckpt).parent / "candidates.csv")
    df = sasrec.export_candidates(model, ds, a.splits.split(","), a.topk, a.batch_size, a.device)
    data.write_csv(df, out)
    print(f"[export] {len(df)} users x top-{a.topk} -> {out}")


if __name__ == "__main__":
    main()
