"""The SUN instruction set (LLaMA-Factory alpaca format) and the 20-candidate test sets."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd

from . import data as D
from . import templates as T
from .errors import SolarError

RERANK_COLUMNS = ["user", "history", "candidates", "reranked", "target"]


def load_rerank(path, ds: D.Dataset) -> pd.DataFrame:
    rr = D.read_csv(path, "rerank CSV", RERANK_COLUMNS, dtype=str, keep_default_na=False)
    for c in ("history", "candidates", "reranked"):
        rr[c] = rr[c].map(D.parse_id_list)
    rr["user"] = rr["user"].astype(int)
    rr["target"] = rr["target"].astype(int)
    unknown = sorted(set(rr["user"]) - set(ds.users["user"]))
    if unknown:
        raise SolarError(f"rerank CSV {path}: {len(unknown)} user(s) unknown to {ds.root}, e.g. {unknown[:5]}")
    test_users = set(ds.split_users("test"))
    leaked = sorted(set(rr["user"]) & test_users)
    if leaked:
        raise SolarError(f"rerank CSV {path} holds {len(leaked)} test user(s) (e.g. {leaked[:5]}); "
                         f"instructions must come from train users only (llm_rerank.py --splits train)")
    return rr


def examples_for_user(row, profile: dict, titles, rng: random.Random, items: str, item: str, k_list: int = 5):
    """All task families for one user: [(family, instruction, output)], skipping the families whose
    profile field is missing (counted by the caller)."""
    t = lambda ids: [titles[i] for i in ids]  # noqa: E731
    hist = T.bulleted(t(row["history"][-10:]))
    cands = list(row["candidates"])
    shown = cands[:]
    rng.shuffle(shown)  # the prompt order must not give the answer away
    chosen = [i for i in row["reranked"] if i in cands]
    rest = [i for i in cands if i not in chosen]
    top = (chosen + rest)[:k_list]
    common = dict(history=hist, candidates=T.numbered(t(shown)), n=len(shown), items=items, item=item, k=k_list)
    out = []

    def add(family, output, **extra):
        wording = rng.choice(T.FAMILIES[family])
        fields = {**common, **extra}
        out.append((family, T.render(wording, **fields), output))

    add("T0_rerank", T.numbered(t(chosen + rest)))
    add("T1_next", titles[row["target"]])
    if rest and rng.random() < 0.5:
        add("T2_yesno", "No", candidate=titles[rng.choice(rest)])
    else:
        add("T2_yesno", "Yes", candidate=titles[rng.choice(chosen)])
    add("T2_pick", titles[chosen[0]])
    add("List", T.numbered(t(top)))
    for family, fields in T.PROFILE_FIELDS.items():
        field = next((f for f in rng.sample(fields, len(fields)) if profile.get(f)), None)
        if field is None:
            continue
        if family == "novelty":
            add(family, titles[chosen[0]], profile=profile[field])
        elif family == "search":
            add(family, T.numbered(t(chosen[:3])), profile=profile[field], k=3)
        else:
            add(family, profile[field], chosen=T.numbered(t(top)))
    return out


def build(rr: pd.DataFrame, profiles: dict, ds: D.Dataset, out_dir: Path, *, name: str, seed: int = 42,
          size: int | None = None, mix: dict | None = None, general: Path | None = None,
          general_ratio: float = 0.0) -> dict:
    titles = ds.titles()
    dom = {"movie": ("movies", "movie"), "book": ("books", "book")}.get(ds.topic, (f"{ds.topic}s", ds.topic))
    system = T.SYSTEM.format(items=dom[0])
    rng = random.Random(seed)
    rows, skipped = [], 0
    for _, row in rr.sort_values("user").iterrows():
        if not row["reranked"]:
            skipped += 1
            continue
        for family, instruction, output in examples_for_user(row, profiles.get(row["user"], {}), titles, rng, *dom):
            rows.append(dict(family=family, user=int(row["user"]), instruction=instruction, input="",
                             output=output, system=system))
    if not rows:
        raise SolarError("no instruction could be built (no reranked users with candidates)")
    if mix:
        unknown = set(mix) - set(T.FAMILIES)
        if unknown:
            raise SolarError(f"--mix: unknown task families {sorted(unknown)}; known: {list(T.FAMILIES)}")
    if mix or size:
        rows = _sample(rows, mix or {f: 1.0 for f in T.FAMILIES}, size or len(rows), rng)
    if general:
        rows += _general(general, general_ratio, len(rows), rng)
    rng.shuffle(rows)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keep = ["instruction", "input", "output", "system"]
    (out_dir / f"{name}.json").write_text(json.dumps([{k: r[k] for k in keep} for r in rows], ensure_ascii=False,
                                                     indent=1))
    with open(out_dir / f"{name}.meta.jsonl", "w") as f:  # provenance, for leakage checks
        for r in rows:
            f.write(json.dumps({"family": r["family"], "user": r["user"]}) + "\n")
    info_path = out_dir / "dataset_info.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    info[name] = {"file_name": f"{name}.json",
                  "columns": {"prompt": "instruction", "query": "input", "response": "output", "system": "system"}}
    info_path.write_text(json.dumps(info, indent=2))
    counts = pd.Series([r["family"] for r in rows]).value_counts().sort_index().to_dict()
    lens = np.array([len(r["instruction"]) + len(r["output"]) for r in rows])
    return dict(examples=len(rows), users=int(rr["user"].nunique()), skipped_users=skipped, per_family=counts,
                chars_mean=float(lens.mean()), chars_p95=float(np.percentile(lens, 95)), chars_max=int(lens.max()))


def _sample(rows, mix, size, rng):
    by = {}
    for r in rows:
        by.setdefault(r["family"], []).append(r)
    total = sum(w for f, w in mix.items() if f in by)
    out = []
    for f, w in mix.items():
        pool = by.get(f, [])
        n = min(len(pool), round(size * w / total)) if total else 0
        out += rng.sample(pool, n)
    return out


def _general(path, ratio, n, rng):
    """Mix in a local alpaca-format file (the paper mixes alpaca, which cannot be downloaded here)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise SolarError(f"--general {path}: cannot read an alpaca JSON list ({e})") from None
    if not isinstance(data, list) or not all(isinstance(x, dict) and "instruction" in x and "output" in x
                                             for x in data):
        raise SolarError(f"--general {path}: expected a JSON list of {{instruction, input, output}} objects")
    k = min(len(data), int(round(ratio * n)))
    return [dict(family="general", user=-1, instruction=x["instruction"], input=x.get("input", ""),
                 output=x["output"], system=x.get("system", "")) for x in rng.sample(data, k)]


# ----------------------------------------------------------------------------- test sets

def build_testset(ds: D.Dataset, kind: str, *, n_candidates: int = 20, hist_len: int = 10, seed: int = 42,
                  max_users: int | None = None, id_hist_len: int = 200) -> pd.DataFrame:
    """Test users only. accuracy: target = the held-out last positive; serendipity: the last
    serendipity-labelled positive. `history` holds the last `hist_len` titles (the LLM prompt),
    `history_ids` up to `id_hist_len` ids (what ID-based baselines read). Candidates: target + negatives the user never interacted
    with (any rating), seeded and shuffled. Titles and ids side by side."""
    from .sasrec import eval_cases
    cases = eval_cases(ds, ds.split_users("test"), max(hist_len, id_hist_len), kind)
    if len(cases) == 0:
        raise SolarError(f"no test users with a {kind} target in {ds.root}")
    rng = np.random.default_rng(seed)
    idx = np.arange(len(cases))
    if max_users and max_users < len(idx):
        idx = np.sort(rng.choice(idx, max_users, replace=False))
    n_neg = n_candidates - 1
    if ds.n_items - 1 < n_candidates:
        raise SolarError(f"the catalogue has {ds.n_items} items: fewer than {n_candidates} candidates")
    # vectorised negative sampling: draw extra, drop the user's items and duplicates, keep n_neg
    seen = ds.ratings.groupby("user")["item"].agg(set)
    users = cases.users[idx]
    titles = ds.titles()
    draws = rng.integers(1, ds.n_items + 1, size=(len(idx), n_neg * 4))
    rows = []
    for j, (u, h, t) in enumerate(zip(users, cases.hist[idx], cases.targets[idx])):  # small: test users
        s = seen.get(u, set())
        negs = list(dict.fromkeys(x for x in draws[j].tolist() if x not in s and x != t))[:n_neg]
        while len(negs) < n_neg:  # rare: a heavy user; fall back to an exact draw
            pool = np.setdiff1d(np.arange(1, ds.n_items + 1), list(s | {t} | set(negs)))
            if len(pool) == 0:
                raise SolarError(f"user {u} has interacted with almost the whole catalogue: not enough negatives")
            negs.append(int(rng.choice(pool)))
        cand = np.array([t] + negs)
        rng.shuffle(cand)
        hist = [int(x) for x in h if x]
        rows.append(dict(user=int(u), history=[titles[i] for i in hist[-hist_len:]], candidate=[titles[i] for i in cand],
                         target=titles[t], history_ids=hist, candidate_ids=cand.tolist(), target_id=int(t)))
    return pd.DataFrame(rows)


def write_testset(df: pd.DataFrame, path: Path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_pickle(path.with_suffix(".pkl"))
    df.to_json(path.with_suffix(".jsonl"), orient="records", lines=True, force_ascii=False)


TESTSET_COLUMNS = ["history", "candidate", "target"]


def read_testset(path) -> pd.DataFrame:
    path = Path(path)
    cands = [path, path.with_suffix(".pkl"), path.with_suffix(".jsonl")]
    found = next((p for p in cands if p.is_file()), None)
    if found is None:
        raise SolarError(f"test set not found: {path} (.pkl or .jsonl)")
    try:
        df = pd.read_pickle(found) if found.suffix == ".pkl" else pd.read_json(found, lines=True)
    except Exception as e:  # noqa: BLE001 - unreadable input
        raise SolarError(f"cannot read test set {found}: {e}") from None
    missing = [c for c in TESTSET_COLUMNS if c not in df.columns]
    if missing:
        raise SolarError(f"test set {found}: missing column(s) {missing}")
    return df


def sample_testset(ts: pd.DataFrame, num_users: int | None, seed: int) -> pd.DataFrame:
    """The seeded user sample that test.py and the ID baselines both score."""
    if num_users and num_users < len(ts):
        ts = ts.sample(num_users, random_state=seed)
    return ts.reset_index(drop=True)
