"""User profiles for the SUN instruction set: six short fields written by an LLM from the
user's most recent history titles (the reference used the oldest five; we use the newest)."""
from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pandas as pd

from . import data as D
from .client import ChatClient, run_jobs
from .errors import SolarError
from .instructions import load_rerank

FIELDS = ("implicit_preference", "explicit_preference", "novelty_preference",
          "vague_intention", "specific_intention", "exploratory_intention")

# Three paraphrased wordings per field and domain; {history} is a bulleted list of titles.
_ASK = {
    "implicit_preference": [
        "What tastes do these {items} reveal without the person ever saying so? Describe their implicit preference in 2-3 sentences.",
        "Read between the lines of these {items}: in 2-3 sentences, what does this person enjoy without knowing it?",
        "In 2-3 sentences, infer the hidden pattern in this person's {items}: their implicit preference.",
    ],
    "explicit_preference": [
        "Write, in the person's own voice and in 2-3 sentences, what they would say they like about {items}.",
        "In 2-3 sentences, state this person's explicit preference: the kinds of {items} they would ask for by name.",
        "Summarise in 2-3 sentences the {items} this person clearly and openly likes.",
    ],
    "novelty_preference": [
        "In 2-3 sentences, describe how open this person is to unfamiliar {items}, and what kind of novelty would please them.",
        "How much does this person enjoy trying new kinds of {items}? Answer in 2-3 sentences with concrete directions.",
        "In 2-3 sentences, describe the surprising {items} this person would welcome outside their usual taste.",
    ],
    "vague_intention": [
        "Write, in the person's voice and in 2-3 sentences, a loose wish for what to pick next among {items}, without naming any title.",
        "In 2-3 sentences, express a vague mood-based request this person might make for their next {item}.",
        "In the first person and 2-3 sentences, say roughly what you feel like next, as this person, without being specific.",
    ],
    "specific_intention": [
        "Write, in the person's voice and in 2-3 sentences, a precise request for their next {item} (genre, era, tone).",
        "In 2-3 sentences, state exactly what kind of {item} this person wants next, with concrete attributes.",
        "In the first person and 2-3 sentences, ask for a specific {item} that fits this person's recent choices.",
    ],
    "exploratory_intention": [
        "Write, in the person's voice and in 2-3 sentences, a request for an {item} unlike what they usually choose.",
        "In 2-3 sentences, express this person's wish to explore an unfamiliar kind of {item} next.",
        "In the first person and 2-3 sentences, ask for something new and surprising to try, as this person.",
    ],
}
DOMAINS = {"movie": dict(items="movies", item="movie", verb="watched"),
           "book": dict(items="books", item="book", verb="read")}

SYSTEM = "You write short, concrete user profiles for a {item} recommender. Never list the titles back."
CONTEXT = "A person recently {verb} these {items}, oldest first:\n{history}\n\n"


def domain(topic: str) -> dict:
    return DOMAINS.get(topic, dict(items=f"{topic}s", item=topic, verb="chose"))


def prompt(field: str, topic: str, history_titles, variant: int) -> list[dict]:
    d = domain(topic)
    ask = _ASK[field][variant % len(_ASK[field])].format(**d)
    history = "\n".join(f"- {t}" for t in history_titles)
    return [{"role": "system", "content": SYSTEM.format(**d)},
            {"role": "user", "content": CONTEXT.format(history=history, **d) + ask}]


def clean(text: str) -> str:
    return " ".join((text or "").split())


def generate(rerank_csv, ds: D.Dataset, client: ChatClient, output: Path, *, hist_len: int = 10,
             max_retries: int = 2, seed: int = 42, fields=FIELDS) -> tuple[list[dict], dict]:
    """One JSONL record per user: {user, profile: {field: text}, failed: [field, ...]}."""
    rr = load_rerank(rerank_csv, ds)  # the reranker's CSV, checked (known users, train users only)
    titles = ds.titles()
    users = rr["user"].tolist()
    hist = dict(zip(users, rr["history"]))
    output = Path(output)

    async def one(user):
        rng = random.Random(f"{seed}-{user}")
        recent = [titles[i] for i in hist[user][-hist_len:] if 0 < i < len(titles)]  # most recent, oldest first
        profile, failed = {}, []
        for f in fields:
            text = ""
            for _ in range(max_retries + 1):
                try:
                    text = clean(await client.chat(prompt(f, ds.topic, recent, rng.randrange(3))))
                except Exception:  # noqa: BLE001 - a failed request is a failed field, counted
                    text = ""
                if len(text) >= 20:
                    break
            if len(text) >= 20:
                profile[f] = text
            else:
                failed.append(f)
        return {"profile": profile, "failed": failed}

    async def go():
        try:
            return await run_jobs(users, one, output, key="user", desc="profiles")
        finally:
            await client.close()

    records = asyncio.run(go())
    summary = dict(users=len(records), complete=sum(not r["failed"] for r in records),
                   failed_fields=sum(len(r["failed"]) for r in records))
    return records, summary


def load(path) -> dict[int, dict]:
    path = Path(path)
    if not path.is_file():
        raise SolarError(f"profile file not found: {path}")
    df = pd.read_json(path, lines=True)
    return {int(u): p for u, p in zip(df["user"], df["profile"])}
