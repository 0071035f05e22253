"""Scoring on the 20-candidate test sets: parsing LLM answers into candidate ids, the ID-based
baselines, and the metrics row every model gets (the same function for all of them)."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from . import data as D
from .metrics import list_metrics

MAX_DIST = 3
_LINE = re.compile(r"^\s*(?:\(?\d{1,2}\s*[.):\]-]|[-*•])\s*(.+?)\s*$", re.M)
_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")


def parse_titles(text: str) -> list[str]:
    """Numbered or bulleted lines -> titles (quotes, bold marks and trailing explanations after
    ' - ' when the title itself has a year are removed). Falls back to non-empty lines."""
    lines = _LINE.findall(text or "") or [x for x in (text or "").splitlines() if x.strip()]
    out = []
    for t in lines:
        t = t.strip().strip("*_").strip().strip("\"'“”‘’").strip()
        m = re.match(r"^(.*?\(\d{4}\))\s*[-–:—].*$", t)  # "Title (1999) - because ..."
        if m:
            t = m.group(1)
        if t:
            out.append(t)
    return out


def _norm(s: str) -> str:
    return " ".join(str(s).lower().replace("\"", "").split())


def _bare(s: str) -> str:
    return _YEAR.sub("", _norm(s))


class Matcher:
    """Snap generated titles to the candidates first (edit distance <= 3, also with the year
    stripped on both sides), then to the catalogue, which only tells a hallucinated real title
    from an invented one."""

    def __init__(self, catalogue_titles):
        self.catalogue = [_norm(t) for t in catalogue_titles]

    def match(self, titles, candidate_titles, candidate_ids, k):
        cn = [_norm(t) for t in candidate_titles]
        cb = [_bare(t) for t in candidate_titles]
        chosen, stats = [], dict(hallucinated=0, off_catalogue=0, duplicates=0)
        for t in titles:
            m = process.extractOne(_norm(t), cn, scorer=Levenshtein.distance, score_cutoff=MAX_DIST) or \
                process.extractOne(_bare(t), cb, scorer=Levenshtein.distance, score_cutoff=MAX_DIST)
            if m is None:
                stats["hallucinated"] += 1
                if process.extractOne(_norm(t), self.catalogue, scorer=Levenshtein.distance,
                                      score_cutoff=MAX_DIST) is None:
                    stats["off_catalogue"] += 1
                continue
            item = int(candidate_ids[m[2]])
            if item in chosen:
                stats["duplicates"] += 1
            elif len(chosen) < k:
                chosen.append(item)
        return chosen, stats


def pad_lists(lists, k) -> np.ndarray:
    out = np.full((len(lists), k), -1, dtype=np.int64)
    for i, lst in enumerate(lists):
        out[i, :len(lst[:k])] = lst[:k]
    return out


def history_matrix(testset: pd.DataFrame, maxlen: int | None = None) -> np.ndarray:
    """Left-padded history ids of the test set's rows."""
    lens = testset["history_ids"].map(len)
    flat = pd.DataFrame({"user": np.repeat(np.arange(len(testset)), lens),
                         "item": np.concatenate(testset["history_ids"].tolist()).astype(np.int64)})
    return D.padded_sequences(flat, np.arange(len(testset)), maxlen or max(int(lens.max()), 1))


def score(testset: pd.DataFrame, lists, ds: D.Dataset, k: int) -> dict:
    """The metrics row of one model on one test set (lists: candidate ids, best first)."""
    cands = np.array(testset["candidate_ids"].tolist())
    hist = history_matrix(testset)
    return list_metrics(pad_lists(lists, k), testset["target_id"].to_numpy(), cands, hist, ds.popularity(),
                        ds.genre_matrix(), ds.meta["n_users"], ds.n_items)


# ----------------------------------------------------------------------------- ID baselines

def rank_candidates(scores: np.ndarray, cands: np.ndarray, k: int) -> list[list[int]]:
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(cands, order, axis=1).tolist()


def random_lists(testset, k, seed=0):
    cands = np.array(testset["candidate_ids"].tolist())
    return rank_candidates(np.random.default_rng(seed).random(cands.shape), cands, k)


def popular_lists(testset, ds: D.Dataset, k):
    cands = np.array(testset["candidate_ids"].tolist())
    return rank_candidates(ds.popularity()[cands].astype(float), cands, k)


def sasrec_lists(testset, model, k):
    import torch
    cands = np.array(testset["candidate_ids"].tolist())
    hist = history_matrix(testset, model.maxlen)
    model.eval()
    with torch.no_grad():
        s = model.score_items(torch.as_tensor(hist), torch.as_tensor(cands)).numpy()
    return rank_candidates(s, cands, k)
