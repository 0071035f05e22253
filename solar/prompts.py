"""Prompts for the serendipity reranker (method.md, step 3), in this project's own words."""
from __future__ import annotations

import re

SYSTEM = (
    "You are role-playing a real user of a {topic} recommender system. You judge every "
    "recommendation by how surprising and delightful it would be for you: something you enjoy "
    "but would not have found by yourself.")

UNDERSTAND = (
    "Before we start: in your own words, what does it mean for a {topic} recommendation to be "
    "serendipitous, and how would you recognise one? Answer in a short paragraph.")

# The three statements of the MovieLens Serendipity-2018 survey, as a 1-5 agreement scale.
REFINE = (
    "Refine your understanding with the scale researchers used to measure serendipity. A user "
    "rates each statement from 1 (strongly disagree) to 5 (strongly agree):\n"
    "1. I was surprised that the system picked this {topic} for me.\n"
    "2. I would not have discovered this {topic} on my own.\n"
    "3. This {topic} broadened my preferences; it is different from what I usually choose.\n"
    "A serendipitous {topic} scores high on all three and is still one you like. Restate, in a few "
    "sentences, how you will judge candidates.")

RERANK = (
    "{examples}"
    "Here are the last {n_hist} {topic}s you watched or read, oldest first:\n{history}\n\n"
    "Candidates, as (ID, title):\n{candidates}\n\n"
    "Pick the {k} candidates that would be the most serendipitous for you, most serendipitous "
    "first. Answer with their IDs only, as a list like [ID1, ID2, ...].")

EXAMPLE = (
    "Example {i}: another user watched {history}. They enjoyed ({liked_id}, {liked}) and did not "
    "enjoy ({disliked_id}, {disliked}).\n")


def conversation(topic: str, understanding: tuple[str, str] | None = None) -> list[dict]:
    """System + the two user-independent turns (with the model's answers when known)."""
    msgs = [{"role": "system", "content": SYSTEM.format(topic=topic)},
            {"role": "user", "content": UNDERSTAND.format(topic=topic)}]
    if understanding:
        msgs += [{"role": "assistant", "content": understanding[0]},
                 {"role": "user", "content": REFINE.format(topic=topic)},
                 {"role": "assistant", "content": understanding[1]}]
    return msgs


def quote_titles(titles) -> str:
    return "; ".join(f'"{t}"' for t in titles)


def rerank_turn(topic: str, history_titles, candidates: list[tuple[int, str]], k: int, examples=()) -> str:
    ex = "".join(EXAMPLE.format(i=i + 1, history=quote_titles(e["history"]), liked_id=e["liked_id"],
                                liked=e["liked"], disliked_id=e["disliked_id"], disliked=e["disliked"])
                 for i, e in enumerate(examples))
    return RERANK.format(examples=ex + ("\n" if ex else ""), n_hist=len(history_titles), topic=topic,
                         history="\n".join(f"- {t}" for t in history_titles),
                         candidates="\n".join(f"({i}, {t})" for i, t in candidates), k=k)


FORMAT_REMINDER = ("Your answer had no list of candidate IDs. Reply with only the IDs of your {k} picks from "
                   "the candidates, in brackets, for example [{a}, {b}, {c}].")


def parse_ids(text: str, allowed, lenient: bool = False) -> list[int]:
    """IDs from the last bracketed list of integers in `text`, kept only when they are candidates,
    without duplicates, in the model's order. `lenient`: with no bracketed list, take the
    candidate IDs that appear anywhere in the text (for tiny models that ignore the format)."""
    lists = re.findall(r"\[\s*-?\d+(?:\s*,\s*-?\d+)*\s*,?\s*\]", text or "")
    if lists:
        source = lists[-1]
    elif lenient:  # years in titles, "Lady and the Tramp (1955)", are not IDs
        source = re.sub(r"\(\d{4}\)", " ", text or "")
    else:
        return []
    allowed, seen, out = set(allowed), set(), []
    for x in map(int, re.findall(r"(?<![\d.])-?\d+(?![\d.])", source)):
        if x in allowed and x not in seen:
            seen.add(x)
            out.append(x)
    return out
