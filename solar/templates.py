"""SUN instruction templates as data: one tuple of wordings per task family, each wording a
complete string (no implicit concatenation: the reference lost templates to missing commas).

Placeholders: {history} {candidates} {candidate} {profile} {chosen} {k} {n} {item} {items}.
The List family's first wording is the exact prompt test.py sends (LIST_PROMPT).
"""
from __future__ import annotations

import string

SYSTEM = "You are an expert recommender engine. You recommend {items} from a list of candidates."

LIST_PROMPT = ("The user's history, oldest first:\n{history}\n\nCandidates:\n{candidates}\n\n"
               "Select a recommendation list with {k} different items from the {n} candidates above, "
               "best first. Answer with one numbered line per item, like \"1. <title>\", and nothing else.")

FAMILIES: dict[str, tuple[str, ...]] = {
    "T0_rerank": (
        "The user's history, oldest first:\n{history}\n\nCandidates:\n{candidates}\n\n"
        "Rerank the candidates so that the ones this user would find most pleasantly surprising come first. "
        "Answer with one numbered line per item.",
        "History:\n{history}\n\nRank these {n} {items} for the user, most serendipitous first:\n{candidates}",
        "A user enjoyed, in this order:\n{history}\n\nOrder the following {items} by how likely they are to "
        "delight this user in an unexpected way:\n{candidates}",
    ),
    "T1_next": (
        "The user's history, oldest first:\n{history}\n\nWhich {item} will the user choose next? Answer with its title.",
        "Given these {items} a user enjoyed:\n{history}\n\nName the next {item} they consume.",
        "History:\n{history}\n\nPredict the title of the user's next {item}.",
    ),
    "T2_yesno": (
        "The user's history, oldest first:\n{history}\n\nWould \"{candidate}\" be a good, surprising "
        "recommendation for this user? Answer Yes or No.",
        "History:\n{history}\n\nCandidate: {candidate}\nShould we recommend it? Answer Yes or No.",
        "A user enjoyed:\n{history}\n\nIs \"{candidate}\" a match worth recommending? Yes or No.",
    ),
    "T2_pick": (
        "The user's history, oldest first:\n{history}\n\nCandidates:\n{candidates}\n\nPick the one {item} to "
        "recommend. Answer with its title.",
        "History:\n{history}\n\nFrom these {items}, choose the single best recommendation:\n{candidates}",
        "A user enjoyed:\n{history}\n\nWhich one of the following should they get next?\n{candidates}",
    ),
    "List": (
        LIST_PROMPT,
        "History:\n{history}\n\nCandidates:\n{candidates}\n\nRecommend {k} different {items} from the {n} "
        "candidates, one numbered line each.",
        "A user enjoyed:\n{history}\n\nFrom the {n} {items} below, build a list of {k} different "
        "recommendations, numbered:\n{candidates}",
    ),
    "novelty": (
        "The user's history, oldest first:\n{history}\n\nAbout novelty, the user says: {profile}\n\n"
        "Candidates:\n{candidates}\n\nPick the {item} most likely to be a pleasant surprise. Answer with its title.",
        "History:\n{history}\n\nThe user wants to explore: {profile}\n\nWhich candidate fits that wish best?\n{candidates}",
        "Candidates:\n{candidates}\n\nA user who enjoyed\n{history}\nsays: {profile}\nChoose the most "
        "serendipitous candidate for them.",
    ),
    "search": (
        "Search request: {profile}\n\nCandidates:\n{candidates}\n\nReturn the {k} best-matching {items}, one "
        "numbered line each.",
        "The user's history, oldest first:\n{history}\n\nQuery: {profile}\n\nFind the {k} candidates that answer "
        "the query:\n{candidates}",
        "A user asks: {profile}\n\nFrom these {items}, list the {k} best answers, numbered:\n{candidates}",
    ),
    "inverse": (
        "The user's history, oldest first:\n{history}\n\nCandidates:\n{candidates}\n\nFrom them the user chose:\n"
        "{chosen}\n\nIn 2-3 sentences, what preference or intention explains this choice?",
        "History:\n{history}\n\nChosen from the candidates:\n{chosen}\n\nDescribe the intention behind these choices.",
        "A user who enjoyed\n{history}\npicked\n{chosen}\nfrom\n{candidates}\nWhat does this say about what they "
        "want? Answer in 2-3 sentences.",
    ),
}

# which profile field feeds the {profile} slot (personal recommendation / search / inverse tasks)
PROFILE_FIELDS = {"novelty": ("novelty_preference", "exploratory_intention"),
                  "search": ("specific_intention", "vague_intention", "explicit_preference"),
                  "inverse": ("implicit_preference", "explicit_preference", "exploratory_intention")}


def placeholders(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def render(template: str, **fields) -> str:
    """Fill every placeholder; an empty or missing field is an error, never silent garbage."""
    need = placeholders(template)
    missing = sorted(f for f in need if f not in fields or fields[f] in ("", None, []))
    if missing:
        raise ValueError(f"template field(s) empty or missing: {missing}")
    return template.format(**{k: fields[k] for k in need})


def numbered(titles) -> str:
    return "\n".join(f"{i}. {t}" for i, t in enumerate(titles, 1))


def bulleted(titles) -> str:
    return "\n".join(f"- {t}" for t in titles)


def list_messages(history_titles, candidate_titles, k: int, items: str = "items") -> list[dict]:
    """The chat messages of the List task: what test.py sends and what List examples train on."""
    return [{"role": "system", "content": SYSTEM.format(items=items)},
            {"role": "user", "content": render(LIST_PROMPT, history=bulleted(history_titles),
                                               candidates=numbered(candidate_titles), k=k,
                                               n=len(candidate_titles))}]
