"""Train SASRec on relevance data, or fine-tune it on serendipity labels (--finetune).

  python datagen/train_id_model.py --dataset data/ml-1m --train_dir runs/ml-1m/sasrec
  python datagen/train_id_model.py --dataset data/ml-1m --train_dir runs/ml-1m/sasrec_ser \
      --finetune --state_dict_path runs/ml-1m/sasrec/best.pt --num_epochs 20 --lr 1e-4
  python datagen/train_id_model.py --dataset data/ml-1m --inference_only --state_dict_path runs/ml-1m/sasrec/best.pt
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from solar import data, sasrec  # noqa: E402
from solar.errors import SolarError, cli  # noqa: E402

PAPER = dict(hidden_units=512, num_blocks=2, num_heads=2, maxlen=100)


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, help="processed folder, or ml-1m / ml-100k (prepared on demand)")
    p.add_argument("--train_dir", help="output folder (default: runs/<dataset>/sasrec[_ser])")
    p.add_argument("--batch_size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-4)
    for k, v in PAPER.items():
        p.add_argument(f"--{k}", type=int, default=None, help=f"default {v}, or the checkpoint's")
    p.add_argument("--num_epochs", type=int, default=200)
    p.add_argument("--dropout_rate", type=float, default=0.2)
    p.add_argument("--l2_emb", type=float, default=0.0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--inference_only", action="store_true")
    p.add_argument("--state_dict_path", help="checkpoint to fine-tune from or to evaluate")
    p.add_argument("--finetune", action="store_true", help="train the last block on serendipity labels")
    p.add_argument("--loss", choices=["bce", "ce"], default="bce", help="bce: 1 negative (paper); ce: full softmax")
    p.add_argument("--eval_every", type=int, default=5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--no_resume", action="store_true", help="ignore last.pt in --train_dir")
    return p


@cli
def main(argv=None):
    a = parser().parse_args(argv)
    ds = data.resolve(a.dataset)
    cfg = {k: v for k, v in vars(a).items() if k not in ("dataset", "train_dir", "state_dict_path")}
    if a.finetune and not a.state_dict_path:
        raise SolarError("--finetune needs --state_dict_path (the relevance-trained checkpoint)")
    if a.inference_only:
        if not a.state_dict_path:
            raise SolarError("--inference_only needs --state_dict_path")
        model, ck = sasrec.load_model(a.state_dict_path, cfg, ds.n_items, a.device)
        report = sasrec.test_report(model, ds, ck["config"]["maxlen"], a.device)
        print(sasrec.format_report(report))
        return report
    if not a.finetune:
        cfg.update({k: v if cfg[k] is None else cfg[k] for k, v in PAPER.items()})
    train_dir = a.train_dir or f"runs/{ds.root.name}/sasrec{'_ser' if a.finetune else ''}"
    summary = sasrec.train(ds, cfg, train_dir, finetune_from=a.state_dict_path if a.finetune else None,
                           resume=not a.no_resume)
    print(f"best epoch {summary['best_epoch']} ({summary['mode']} validation); checkpoint {train_dir}/best.pt")
    print(sasrec.format_report(summary))
    print(json.dumps({"train_dir": train_dir}))
    return summary


if __name__ == "__main__":
    main()
