"""Ranking metrics, one implementation for every model (SASRec, baselines, LLMs).

A rank is 0-based (0 = the target is first); a miss (target not in the list) is rank = inf.
"""
from __future__ import annotations

import numpy as np

KS = (1, 5, 10)


def rank_metrics(ranks, ks=KS) -> dict:
    r = np.asarray(ranks, dtype=float)
    if r.size == 0:
        return {f"{m}@{k}": float("nan") for k in ks for m in ("HR", "NDCG")}
    out = {}
    for k in ks:
        hit = r < k
        out[f"HR@{k}"] = float(hit.mean())
        out[f"NDCG@{k}"] = float(np.where(hit, 1.0 / np.log2(np.where(hit, r, 0) + 2), 0.0).mean())
    return out


def ranks_in_lists(lists, targets) -> np.ndarray:
    """Position of each target in its ranked list (inf when absent)."""
    out = np.full(len(targets), np.inf)
    for i, (lst, t) in enumerate(zip(lists, targets)):  # lists are short (k <= 20)
        try:
            out[i] = list(lst).index(t)
        except ValueError:
            pass
    return out
