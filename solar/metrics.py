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


def ranks_in_lists(lists: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Position of each target in its (U, k) ranked list, -1 padded (inf when absent)."""
    hit = np.asarray(lists) == np.asarray(targets)[:, None]
    return np.where(hit.any(1), hit.argmax(1), np.inf)


# ----------------------------------------------------------------------------- beyond accuracy
# Lists are (U, k) int arrays of item ids, -1 where a list is shorter than k.

def _cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    num = (a * b).sum(-1)
    den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return 1 - np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)


def serendipity_ge(lists: np.ndarray, targets: np.ndarray, candidates: np.ndarray, popularity: np.ndarray) -> float:
    """Ge et al. (2010): |(list minus the primitive model's list) ∩ relevant| / k, averaged.
    The primitive model recommends the k most popular of the user's own candidates; the
    relevant item is the held-out target."""
    k = lists.shape[1]
    pop = np.where(candidates > 0, popularity[np.clip(candidates, 0, None)], -1)
    primitive = np.take_along_axis(candidates, np.argsort(-pop, axis=1, kind="stable")[:, :k], axis=1)
    hit = (lists == targets[:, None]) & (lists > 0)
    unexpected = ~(lists[:, :, None] == primitive[:, None, :]).any(-1)
    return float((hit & unexpected).sum(1).mean() / k)


def unexpectedness(lists: np.ndarray, histories: np.ndarray, genres: np.ndarray) -> float:
    """Mean genre cosine distance of each listed item from the user's history genre profile."""
    valid = lists > 0
    profile = genres[np.clip(histories, 0, None)].sum(1)  # padding row 0 of `genres` is all zeros
    d = _cosine_distance(genres[np.clip(lists, 0, None)], profile[:, None, :])
    return float(d[valid].mean()) if valid.any() else float("nan")


def novelty(lists: np.ndarray, popularity: np.ndarray, n_users: int) -> float:
    """Mean self-information -log2(p(i)), p(i) = share of users who consumed i."""
    valid = lists > 0
    p = np.clip(popularity[np.clip(lists, 0, None)] / n_users, 1e-12, 1)
    return float(-np.log2(p)[valid].mean()) if valid.any() else float("nan")


def intra_list_diversity(lists: np.ndarray, genres: np.ndarray) -> float:
    """Mean pairwise genre cosine distance within each list (lists with >= 2 items)."""
    g = genres[np.clip(lists, 0, None)]
    d = _cosine_distance(g[:, :, None, :], g[:, None, :, :])
    valid = lists > 0
    pair = valid[:, :, None] & valid[:, None, :] & ~np.eye(lists.shape[1], dtype=bool)
    per_list = np.divide((d * pair).sum((1, 2)), pair.sum((1, 2)), out=np.full(len(lists), np.nan),
                         where=pair.sum((1, 2)) > 0)
    return float(np.nanmean(per_list)) if np.isfinite(per_list).any() else float("nan")


def coverage(lists: np.ndarray, n_items: int) -> float:
    """Share of the catalogue that appears in at least one list."""
    return float(len(np.unique(lists[lists > 0])) / n_items)


def list_metrics(lists, targets, candidates, histories, popularity, genres, n_users, n_items) -> dict:
    """Accuracy and beyond-accuracy metrics of top-k lists, one dict (the results-table row)."""
    lists = np.asarray(lists)
    out = rank_metrics(ranks_in_lists(lists, targets))
    out.update(serendipity=serendipity_ge(lists, targets, candidates, popularity),
               unexpectedness=unexpectedness(lists, histories, genres),
               novelty=novelty(lists, popularity, n_users),
               diversity=intra_list_diversity(lists, genres),
               coverage=coverage(lists, n_items), users=int(len(lists)))
    return out
