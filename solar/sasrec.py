"""Training, evaluation and candidate export for SASRec; every hot path is batched.

Training users are the `train` split (all their positive positions are targets); valid and
test users are held out whole: their last positive is the target, the rest the history.
Serendipity fine-tuning uses the same sequences but puts the loss only on positions whose
target carries a serendipity label, and trains only the last block's attention and FFN.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm import tqdm

from . import data as D
from .errors import SolarError
from .metrics import rank_metrics
from .model import SASRec

ARCH_KEYS = ("hidden_units", "num_blocks", "num_heads", "maxlen")
# Inference batch (users). On CPU small batches keep the activations in cache: at hidden 512,
# 64 users per batch scored ML-1M 2.6x faster than 1024. A GPU wants larger ones (--batch_size).
INFER_BATCH = 64


# ----------------------------------------------------------------------------- cases

@dataclass
class Cases:
    """Held-out users: the model input (last `maxlen` history items), the target, and every
    history item as (row, item) pairs sorted by row, so ranking can mask the whole history."""
    users: np.ndarray
    hist: np.ndarray
    targets: np.ndarray
    seen_rows: np.ndarray
    seen_items: np.ndarray

    def __len__(self):
        return len(self.users)

    def seen(self, start: int, stop: int):
        lo, hi = np.searchsorted(self.seen_rows, [start, stop])
        return torch.as_tensor(self.seen_rows[lo:hi] - start), torch.as_tensor(self.seen_items[lo:hi])

    def by_length(self) -> tuple["Cases", np.ndarray]:
        """The same cases sorted by history length (and the order used), so that batches of
        similar lengths can drop their padding columns: on ML-1M 40 % of a maxlen-100 window
        is padding."""
        order = np.argsort((self.hist != 0).sum(1), kind="stable")
        inv = np.empty_like(order)
        inv[order] = np.arange(len(order))
        rows = inv[self.seen_rows]
        o = np.argsort(rows, kind="stable")
        return Cases(self.users[order], self.hist[order], self.targets[order], rows[o], self.seen_items[o]), order

    def batches(self, batch_size: int, device="cpu", desc: str | None = None):
        """(start, history) batches, each cut to its longest history (see SASRec.features)."""
        starts = range(0, len(self), batch_size)
        for s in tqdm(starts, desc=desc, unit="batch", leave=False) if desc else starts:
            h = self.hist[s:s + batch_size]
            yield s, torch.as_tensor(h[:, -trimmed_width(h):], device=device)


def trimmed_width(seqs) -> int:
    """Columns needed by the longest left-padded sequence of the batch (at least 1)."""
    return max(int((seqs != 0).sum(1).max()), 1) if len(seqs) else 1


def eval_cases(ds: D.Dataset, users: np.ndarray, maxlen: int, kind: str = "accuracy") -> Cases:
    """The evaluation cases of held-out users.

    accuracy: target = the last positive. serendipity: target = the last serendipity-labelled
    positive, history = the positives before it; users without a label are left out.
    """
    inter = ds.inter[ds.inter["user"].isin(users)]
    if kind == "serendipity":
        idx = np.arange(len(inter))
        ser_idx = pd.Series(np.where(inter["serendipitous"].to_numpy(bool), idx, -1)).groupby(
            inter["user"].to_numpy()).max()
        ser_idx = ser_idx[ser_idx >= 0]
        first_idx = pd.Series(idx).groupby(inter["user"].to_numpy()).min()
        ser_idx = ser_idx[ser_idx > first_idx.reindex(ser_idx.index)]  # needs >= 1 history item
        cut = pd.Series(ser_idx).reindex(inter["user"].to_numpy()).to_numpy()
        inter = inter[idx <= np.nan_to_num(cut, nan=-1)]
        users = ser_idx.index.to_numpy()
    elif kind != "accuracy":
        raise ValueError(kind)
    targets = D.last_items(inter, users)
    hist = D.padded_sequences(inter, users, maxlen, drop_last=True)
    history = inter[inter.groupby("user").cumcount(ascending=False).to_numpy() > 0]
    rows = pd.Series(np.arange(len(users)), index=users)[history["user"].to_numpy()].to_numpy()
    order = np.argsort(rows, kind="stable")
    return Cases(users, hist, targets, rows[order], history["item"].to_numpy()[order])


# ----------------------------------------------------------------------------- evaluation

@torch.no_grad()
def evaluate(model: SASRec, cases: Cases, *, num_neg: int = 100, batch_size: int = INFER_BATCH, seed: int = 0,
             device="cpu") -> dict:
    """HR/NDCG@1/5/10 under full ranking (whole history masked) and among `num_neg` sampled
    negatives (items outside the history)."""
    model.eval()
    g = torch.Generator(device="cpu").manual_seed(seed)
    full, sampled = [], []
    cases, _ = cases.by_length()
    for s, h in cases.batches(batch_size, device):
        t = torch.as_tensor(cases.targets[s:s + batch_size], device=device)
        scores = model.score_all(h)
        t_score = scores.gather(1, t[:, None])
        blocked = torch.zeros_like(scores, dtype=torch.bool)
        r, i = cases.seen(s, s + len(h))
        blocked[r.to(device), i.to(device)] = True
        blocked[:, 0] = True
        blocked.scatter_(1, t[:, None], False)
        full.append((scores.masked_fill(blocked, -math.inf) > t_score).sum(1))
        allowed = (~blocked).float().scatter_(1, t[:, None], 0.0).cpu()
        negs = torch.multinomial(allowed, min(num_neg, int(allowed.sum(1).min())), generator=g).to(device)
        sampled.append((scores.gather(1, negs) > t_score).sum(1))
    out = {f"full_{k}": v for k, v in rank_metrics(torch.cat(full).cpu().numpy()).items()}
    out.update({f"sampled_{k}": v for k, v in rank_metrics(torch.cat(sampled).cpu().numpy()).items()})
    out["n_users"] = int(len(cases))
    return out


@torch.no_grad()
def topk(model: SASRec, cases: Cases, k: int, batch_size: int = INFER_BATCH, device="cpu") -> np.ndarray:
    """(n, k) best item ids per case, the whole history and padding masked."""
    if k > model.n_items:
        raise SolarError(f"--topk {k} is larger than the catalogue ({model.n_items} items)")
    model.eval()
    out = []
    cases, order = cases.by_length()
    for s, h in cases.batches(batch_size, device, desc="export"):
        scores = model.score_all(h)
        r, i = cases.seen(s, s + len(h))
        scores[r.to(device), i.to(device)] = -math.inf
        scores[:, 0] = -math.inf
        out.append(scores.topk(k, dim=1).indices.cpu())
    top = np.empty((len(cases), k), dtype=np.int64)
    top[order] = torch.cat(out).numpy()  # back to the callers' order
    return top


# ----------------------------------------------------------------------------- checkpoints

def build_model(cfg: dict, n_items: int) -> SASRec:
    return SASRec(n_items, cfg["hidden_units"], cfg["num_blocks"], cfg["num_heads"], cfg["maxlen"],
                  cfg["dropout_rate"])


def load_model(path, cfg: dict | None, n_items: int, device="cpu") -> tuple[SASRec, dict]:
    """Load a checkpoint; architecture flags come from the checkpoint, and any explicit flag
    that disagrees with it is an error (not a silent shape mismatch)."""
    path = Path(path)
    if not path.is_file():
        raise SolarError(f"checkpoint not found: {path}")
    try:
        ck = torch.load(path, map_location=device, weights_only=False)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the user's input problem
        raise SolarError(f"cannot read checkpoint {path}: {e}") from None
    if not isinstance(ck, dict) or "model" not in ck or "config" not in ck:
        raise SolarError(f"{path} is not a SASRec checkpoint written by this project")
    saved = ck["config"]
    if ck.get("n_items") != n_items:
        raise SolarError(f"checkpoint {path} was trained for {ck.get('n_items')} items, "
                         f"the dataset has {n_items}")
    if cfg:
        bad = [f"--{k} {cfg[k]} (checkpoint: {saved[k]})" for k in ARCH_KEYS if cfg.get(k) not in (None, saved[k])]
        if bad:
            raise SolarError(f"checkpoint {path} does not match the flags: " + ", ".join(bad))
    model = build_model({**saved, "dropout_rate": (cfg or saved).get("dropout_rate", saved["dropout_rate"])},
                        n_items).to(device)
    model.load_state_dict(ck["model"])
    return model, ck


def _save(path: Path, obj):
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)  # atomic: an interrupted save never leaves a broken checkpoint


# ----------------------------------------------------------------------------- training

def _training_tensors(ds: D.Dataset, maxlen: int, finetune: bool):
    users = ds.split_users("train")
    seq = D.padded_sequences(ds.inter, users, maxlen + 1)
    inp, pos = seq[:, :-1], seq[:, 1:]
    weight = (inp != 0) & (pos != 0)
    if finetune:
        ser = D.padded_sequences(ds.inter, users, maxlen + 1, column="serendipitous").astype(bool)[:, 1:]
        weight &= ser
    keep = weight.any(1)
    if finetune and not keep.any():
        raise SolarError(f"--finetune: the dataset {ds.root} has no serendipity-labelled training targets")
    return (torch.as_tensor(inp[keep]), torch.as_tensor(pos[keep]), torch.as_tensor(weight[keep]))


def epoch_batches(inp, pos, weight, batch_size: int, generator=None):
    """One epoch of (inp, pos, weight) batches in random order, each batch of similar sequence
    lengths and cut to its longest sequence: padding columns carry no loss, and dropping them
    saves most of the compute they cost (40 % of ML-1M's maxlen-100 window is padding)."""
    lengths = (inp != 0).sum(1).float()
    jitter = torch.rand(len(inp), generator=generator) * 8  # varies the batch mates between epochs
    groups = torch.argsort(lengths + jitter).split(batch_size)
    for j in torch.randperm(len(groups), generator=generator).tolist():
        idx = groups[j]
        w = trimmed_width(inp[idx])
        yield inp[idx, -w:], pos[idx, -w:], weight[idx, -w:]


def _loss(model: SASRec, inp, pos, weight, loss_type: str, l2_emb: float):
    h = model.features(inp)[weight]           # (P, d) states at supervised positions
    target = pos[weight]
    if loss_type == "ce":                      # full softmax over the catalogue
        logits = h @ model.item_emb.weight[1:].T
        loss = F.cross_entropy(logits, target - 1)
    else:                                      # the paper's BCE with one random negative
        neg = torch.randint(1, model.n_items + 1, target.shape, device=target.device)
        neg = torch.where(neg == target, neg % model.n_items + 1, neg)
        pl = (h * model.item_emb(target)).sum(-1)
        nl = (h * model.item_emb(neg)).sum(-1)
        loss = F.binary_cross_entropy_with_logits(pl, torch.ones_like(pl)) + \
            F.binary_cross_entropy_with_logits(nl, torch.zeros_like(nl))
    return loss + l2_emb * model.item_emb.weight.norm()


def train(ds: D.Dataset, cfg: dict, train_dir, *, finetune_from=None, resume: bool = True, log=print) -> dict:
    """Train (or fine-tune) and keep the best checkpoint by validation NDCG@10 (full ranking).

    Writes to train_dir: best.pt, last.pt (for resume), metrics.jsonl, curves.png.
    Returns the final summary (best epoch, valid and test metrics of the best model).
    """
    device = cfg.get("device", "cpu")
    torch.manual_seed(cfg.get("seed", 42))
    train_dir = Path(train_dir)
    train_dir.mkdir(parents=True, exist_ok=True)
    finetune = finetune_from is not None
    kind = "serendipity" if finetune else "accuracy"
    if finetune:
        model, ck = load_model(finetune_from, cfg, ds.n_items, device)
        model.freeze_for_finetune()
        cfg = {**cfg, **{k: ck["config"][k] for k in ARCH_KEYS}}
    else:
        model = build_model(cfg, ds.n_items).to(device)
    inp, pos, weight = _training_tensors(ds, cfg["maxlen"], finetune)
    valid = eval_cases(ds, ds.split_users("valid"), cfg["maxlen"], kind)
    if len(valid) == 0:
        raise SolarError(f"no validation users with a {kind} target")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg["lr"], betas=(0.9, 0.98))

    state = dict(epoch=0, best=-1.0, best_epoch=0, history=[])
    last = train_dir / "last.pt"
    if resume and last.is_file():
        ck = torch.load(last, map_location=device, weights_only=False)
        if ck.get("finetune") == finetune and all(ck["config"][k] == cfg[k] for k in ARCH_KEYS):
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optim"])
            state = ck["state"]
            log(f"[sasrec] resuming from {last} after epoch {state['epoch']}")
    if state["epoch"] >= cfg["num_epochs"]:
        log(f"[sasrec] {train_dir}: already trained {state['epoch']} epochs")

    bar = tqdm(range(state["epoch"] + 1, cfg["num_epochs"] + 1), desc=f"sasrec {'finetune' if finetune else 'train'}",
               unit="epoch", initial=state["epoch"], total=cfg["num_epochs"])
    for epoch in bar:
        model.train()
        t0, total, steps = time.perf_counter(), 0.0, 0
        for x, y, w in epoch_batches(inp, pos, weight, cfg["batch_size"]):
            loss = _loss(model, x.to(device), y.to(device), w.to(device), cfg.get("loss", "bce"), cfg["l2_emb"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total, steps = total + loss.item(), steps + 1
        rec = dict(epoch=epoch, loss=total / max(steps, 1), seconds=time.perf_counter() - t0)
        if epoch % cfg.get("eval_every", 5) == 0 or epoch == cfg["num_epochs"]:
            rec["valid"] = evaluate(model, valid, device=device)
            score = rec["valid"]["full_NDCG@10"]
            if score > state["best"]:
                state.update(best=score, best_epoch=epoch)
                _save(train_dir / "best.pt", dict(model=model.state_dict(), config=cfg, n_items=ds.n_items,
                                                  epoch=epoch, finetune=finetune, valid=rec["valid"]))
        state["epoch"] = epoch
        state["history"].append(rec)
        post = dict(loss=f"{rec['loss']:.4f}")
        if state["best"] >= 0:  # -1 until the first validation
            post["best_ndcg10"] = f"{state['best']:.4f}"
        bar.set_postfix(**post)
        with open(train_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")
        _save(last, dict(model=model.state_dict(), optim=opt.state_dict(), config=cfg, n_items=ds.n_items,
                         finetune=finetune, state=state))
    bar.close()
    plot_curves(state["history"], train_dir / "curves.png", "serendipity fine-tuning" if finetune else "training")

    best, _ = load_model(train_dir / "best.pt", None, ds.n_items, device)
    summary = dict(best_epoch=state["best_epoch"], mode=kind, **test_report(best, ds, cfg["maxlen"], device))
    (train_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def test_report(model: SASRec, ds: D.Dataset, maxlen: int, device="cpu") -> dict:
    """Full-ranking and sampled metrics on valid and test users, accuracy and serendipity targets."""
    out = {}
    for split in ("valid", "test"):
        for kind in ("accuracy", "serendipity"):
            cases = eval_cases(ds, ds.split_users(split), maxlen, kind)
            if len(cases):
                out[f"{split}_{kind}"] = evaluate(model, cases, device=device)
    return out


def plot_curves(history, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ep = [r["epoch"] for r in history]
    ev = [(r["epoch"], r["valid"]["full_NDCG@10"]) for r in history if "valid" in r]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ax[0].plot(ep, [r["loss"] for r in history], marker=".")
    ax[0].set(xlabel="epoch", ylabel="training loss", title=f"SASRec {title}: loss")
    if ev:
        ax[1].plot(*zip(*ev), marker="o", color="C1")
    ax[1].set(xlabel="epoch", ylabel="valid NDCG@10 (full ranking)", title="validation")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def format_report(summary: dict) -> str:
    """A plain-text table of the test_report() dicts inside `summary`."""
    cols = [("full", "HR@1"), ("full", "HR@5"), ("full", "HR@10"), ("full", "NDCG@5"), ("full", "NDCG@10"),
            ("sampled", "HR@10"), ("sampled", "NDCG@10")]
    rows = {name: {"users": m["n_users"], **{f"{p} {c}": m[f"{p}_{c}"] for p, c in cols}}
            for name, m in summary.items() if isinstance(m, dict) and "n_users" in m}
    return pd.DataFrame.from_dict(rows, orient="index").to_string(float_format=lambda x: f"{x:.4f}")


def export_candidates(model: SASRec, ds: D.Dataset, splits, k: int, batch_size: int = INFER_BATCH,
                      device="cpu") -> pd.DataFrame:
    """One row per user of `splits`: user, split, history, topk_items, target (ids space-separated)."""
    users = ds.users.loc[ds.users["split"].isin(splits), "user"].to_numpy()
    if len(users) == 0:
        raise SolarError(f"no users in splits {list(splits)}")
    cases = eval_cases(ds, users, model.maxlen)
    top = topk(model, cases, k, batch_size, device)
    history = pd.Series(cases.seen_items.astype(str)).groupby(cases.seen_rows).agg(" ".join)
    return pd.DataFrame({
        "user": users,
        "split": ds.users.set_index("user").loc[users, "split"].to_numpy(),
        "history": history.reindex(range(len(users))).fillna("").to_numpy(),
        "topk_items": [" ".join(map(str, r)) for r in top.tolist()],
        "target": cases.targets,
    })
