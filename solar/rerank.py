"""LLM serendipity reranking of SASRec's candidates -> serendipity-aware pseudo-labels.

Input: the exporter's CSV (user, history, topk_items, target[, split]) and a titles CSV
(item, title). Output: a CSV with user, split, history, candidates, reranked, target (ids
space-separated) for the instruction builder, and a JSONL checkpoint with one record per
finished user (status ok / failed), which makes a rerun resume where it stopped.
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import data as D
from . import prompts
from .client import ChatClient, run_jobs
from .errors import SolarError

# shared: the two user-independent turns are asked once per run and reused (default: same
# answers for every user, 1/3 of the requests); per_user: asked in every conversation (paper);
# none: only the system prompt and the rerank turn (for tiny models that parrot long contexts).
UNDERSTANDING = ("shared", "per_user", "none")
CANDIDATE_COLUMNS = ["user", "history", "topk_items", "target"]


def load_candidates(path) -> pd.DataFrame:
    df = D.read_csv(path, "candidate CSV", CANDIDATE_COLUMNS, dtype={"history": str, "topk_items": str},
                     keep_default_na=False)
    if "split" not in df:
        df["split"] = "train"
    try:
        for c in ("history", "topk_items"):
            df[c] = df[c].map(D.parse_id_list)
        df["user"] = df["user"].astype(int)
        df["target"] = df["target"].astype(int)
    except (TypeError, ValueError) as e:
        raise SolarError(f"candidate CSV {path}: ill-formed id column ({e})") from None
    if (df["topk_items"].map(len) == 0).any():
        raise SolarError(f"candidate CSV {path}: {(df['topk_items'].map(len) == 0).sum()} rows have no candidates")
    return df


def load_titles(path) -> dict[int, str]:
    t = D.read_csv(path, "title file", ["item", "title"], keep_default_na=False)
    return dict(zip(t["item"].astype(int), t["title"].astype(str)))


def check_titles(df: pd.DataFrame, titles: dict):
    ids = set(np.concatenate([np.concatenate(df["topk_items"].to_numpy()),
                              np.concatenate([h[-10:] for h in df["history"]] or [[]]).astype(int),
                              df["target"].to_numpy()]).tolist())
    missing = sorted(ids - titles.keys())
    if missing:
        raise SolarError(f"{len(missing)} item id(s) in the candidate CSV have no title, e.g. {missing[:5]}")


class Reranker:
    def __init__(self, df: pd.DataFrame, titles: dict, client: ChatClient, *, topic: str, k: int = 10,
                 num_icls: int = 4, max_retries: int = 3, seed: int = 42, hist_len: int = 10,
                 low_rated: dict | None = None, understanding: tuple[str, str] | None = None,
                 lenient: bool = False, mode: str = "shared"):
        self.df, self.titles, self.client, self.topic = df.set_index("user", drop=False), titles, client, topic
        self.k, self.num_icls, self.max_retries, self.seed, self.hist_len = k, num_icls, max_retries, seed, hist_len
        self.low_rated = low_rated or {}
        self.understanding = understanding
        self.all_items = np.array(sorted(titles))
        self.lenient, self.mode = lenient, mode
        self.parse_failures = 0

    async def understand(self) -> tuple[str, str]:
        """Turns 1 and 2 of the conversation; user-independent, so asked once per run by default."""
        msgs = prompts.conversation(self.topic)
        a1 = await self.client.chat(msgs)
        msgs += [{"role": "assistant", "content": a1},
                 {"role": "user", "content": prompts.REFINE.format(topic=self.topic)}]
        a2 = await self.client.chat(msgs)
        return a1, a2

    def examples(self, user: int, rng: np.random.Generator) -> list[dict]:
        """In-context examples from other users: an item they liked (their held-out target) and a
        real negative: an item they rated low, else one they never interacted with."""
        others = self.df.index[self.df.index != user].to_numpy()
        if self.num_icls > len(others):
            raise SolarError(f"--num_icls {self.num_icls} is larger than the {len(others)} other users available")
        out = []
        for u in rng.choice(others, self.num_icls, replace=False):
            row = self.df.loc[u]
            low = [i for i in self.low_rated.get(int(u), []) if i in self.titles]
            if low:
                neg = int(rng.choice(low))
            else:
                seen = set(row["history"]) | set(row["topk_items"]) | {row["target"]}
                pool = self.all_items[~np.isin(self.all_items, list(seen))]
                neg = int(rng.choice(pool))
            out.append(dict(history=[self.titles[i] for i in row["history"][-5:]],
                            liked_id=int(row["target"]), liked=self.titles[int(row["target"])],
                            disliked_id=neg, disliked=self.titles[neg]))
        return out

    async def rerank_user(self, user: int) -> dict:
        row = self.df.loc[user]
        rng = np.random.default_rng([self.seed, int(user)])
        understanding = self.understanding if self.mode != "per_user" else await self.understand()
        cands = list(row["topk_items"])
        turn = prompts.rerank_turn(self.topic, [self.titles[i] for i in row["history"][-self.hist_len:]],
                                   [(i, self.titles[i]) for i in cands], self.k, self.examples(user, rng))
        msgs = [*prompts.conversation(self.topic, understanding)[:1 if understanding is None else None],
                {"role": "user", "content": turn}]
        answer, ids, lenient_used = "", [], False
        for attempt in range(1, self.max_retries + 2):
            try:
                answer = await self.client.chat(msgs)
            except Exception as e:  # noqa: BLE001 - a failed request is a failed user, counted below
                answer = f"<request failed: {type(e).__name__}: {e}>"
                break
            ids = prompts.parse_ids(answer, cands)
            if not ids and self.lenient:
                ids, lenient_used = prompts.parse_ids(answer, cands, lenient=True), True
                if not ids:  # titles without IDs: snap them to the candidates' titles
                    from .evaluation import Matcher, parse_titles
                    ids, _ = Matcher([]).match(parse_titles(answer), [self.titles[i] for i in cands], cands, self.k)
            if ids:
                break
            self.parse_failures += 1
            if attempt == 1:  # one corrective turn, then plain retries of it
                msgs = msgs + [{"role": "assistant", "content": answer},
                               {"role": "user", "content": prompts.FORMAT_REMINDER.format(
                                   k=self.k, a=cands[0], b=cands[len(cands) // 2], c=cands[-1])}]
        return dict(status="ok" if ids else "failed", reranked=ids, attempts=attempt, lenient=bool(ids) and lenient_used,
                    answer=answer[-500:])


def rerank(df: pd.DataFrame, titles: dict, client: ChatClient, output: Path, *, pool: pd.DataFrame | None = None,
           understanding: str = "shared", **kw) -> tuple[pd.DataFrame, dict]:
    """Rerank the users of `df`; in-context examples come from the other users of `pool`
    (default: `df` itself)."""
    output = Path(output)
    if not output.parent.is_dir():
        raise SolarError(f"output folder does not exist: {output.parent}")
    pool = df if pool is None else pd.concat([pool, df]).drop_duplicates("user").reset_index(drop=True)
    check_titles(pool, titles)
    if understanding not in UNDERSTANDING:
        raise SolarError(f"understanding must be one of {UNDERSTANDING}")
    r = Reranker(pool, titles, client, mode=understanding, **kw)

    async def go():
        try:
            if understanding == "shared":
                cache = output.with_name(output.name + ".understanding.json")
                if cache.is_file():
                    r.understanding = tuple(json.loads(cache.read_text()))
                else:
                    r.understanding = await r.understand()
                    cache.write_text(json.dumps(r.understanding))
            return await run_jobs(df["user"].tolist(), r.rerank_user, output.with_name(output.name + ".jsonl"),
                                  key="user", desc="rerank")
        finally:
            await client.close()

    records = asyncio.run(go())
    ok = [x for x in records if x["status"] == "ok"]
    by_user = pool.set_index("user")
    out = pd.DataFrame({
        "user": [x["user"] for x in ok],
        "split": [by_user.loc[x["user"], "split"] for x in ok],
        "history": [" ".join(map(str, by_user.loc[x["user"], "history"])) for x in ok],
        "candidates": [" ".join(map(str, by_user.loc[x["user"], "topk_items"])) for x in ok],
        "reranked": [" ".join(map(str, x["reranked"])) for x in ok],
        "target": [int(by_user.loc[x["user"], "target"]) for x in ok],
    })
    D.write_csv(out, output)
    summary = dict(done=len(ok), failed=len(records) - len(ok), parse_failures=r.parse_failures,
                   lenient_parses=sum(x.get("lenient", False) for x in ok),
                   mean_reranked=float(np.mean([len(x["reranked"]) for x in ok])) if ok else 0.0)
    return out, summary


def sample_users(df: pd.DataFrame, num_samples: int | None, seed: int, splits=("train",)) -> pd.DataFrame:
    pool = df[df["split"].isin(splits)]
    if pool.empty:
        raise SolarError(f"no users of split(s) {list(splits)} in the candidate CSV")
    if num_samples and num_samples < len(pool):
        pool = pool.sample(num_samples, random_state=seed)
    return pool.reset_index(drop=True)


def low_rated_items(ds: D.Dataset, max_rating: float = 2.0) -> dict:
    low = ds.ratings[ds.ratings["rating"] <= max_rating]
    return low.groupby("user")["item"].agg(list).to_dict()
