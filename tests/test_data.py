import json

import numpy as np
import pandas as pd
import pytest

from conftest import assert_clean_error, run_script
from solar import data
from solar.errors import SolarError

FLAGS = data.SER2018_FLAGS


def write_ser2018(folder):
    folder.mkdir(parents=True, exist_ok=True)
    train = [(u, m, r, 1000 + 10 * i) for u in (1, 2, 3) for i, (m, r) in enumerate([(10, 5), (11, 4), (12, 3), (13, 4)])]
    train.append((4, 10, 2.0, 5))  # user 4 has a single low rating: skipped and counted
    pd.DataFrame(train, columns=["userId", "movieId", "rating", "timestamp"]).to_csv(folder / "training.csv", index=False)
    ans = pd.DataFrame({"userId": [1, 2, 3], "movieId": [14, 14, 15], "rating": [4.5, 5.0, 4.0],
                        "timestamp": [2000, 2000, 2000], "predictedRating": [3.1, 3.2, 3.3],
                        **{f"s{i}": [3, 3, 3] for i in range(1, 9)}, "q": [1, 1, 1]})
    for f in FLAGS:
        ans[f] = False
    ans.loc[0, "s_ser_find"] = True   # user 1 / movie 14: serendipitous
    ans.loc[2, "m_ser_imp"] = True    # user 3 / movie 15: serendipitous
    ans.to_csv(folder / "answers.csv", index=False)
    pd.DataFrame({"movieId": [10, 11, 12, 13, 14, 15],
                  "title": ["Alpha", "Beta (1999)", "Gamma", "Delta", "Epsilon", "Zeta"],
                  "releaseDate": ["1995-01-01", "1999-05-05", "2001-01-01", "", "2003-03-03", "2004-04-04"],
                  "directedBy": "x", "starring": "y", "imdbId": 1, "tmdbId": 2,
                  "genres": ["Comedy, Drama", "Drama", "Action", "Comedy", "Horror", "Sci-Fi"]}).to_csv(
        folder / "movies.csv", index=False)
    return folder


def test_serendipity2018_converter(tmp_path):
    meta = data.prepare("serendipity2018", tmp_path / "out", path=write_ser2018(tmp_path / "src"), log=lambda *a: None)
    ds = data.load(tmp_path / "out")
    assert meta["serendipity_labels"] == "source"
    assert meta["skipped_users_lt2_positives"] == 1 and meta["n_users"] == 3
    titles = dict(zip(ds.items["item"], ds.items["title"]))
    ser = ds.inter[ds.inter["serendipitous"]]
    assert sorted(titles[i] for i in ser["item"]) == ["Epsilon (2003)", "Zeta (2004)"]
    assert "Beta (1999)" in titles.values() and "Delta" in titles.values()  # no double year, no empty year
    assert set(ds.items["genres"]) >= {"Comedy|Drama"}
    # positives only (rating >= 4) in the relevance sequences, answers after training rows
    assert (ds.inter["rating"] >= 4).all()
    assert ds.inter.groupby("user")["item"].last().map(titles).isin(["Epsilon (2003)", "Zeta (2004)"]).all()


def test_amazon_serenlens_converter(tmp_path):
    rat = pd.DataFrame([("B1", "u1", 5, 10), ("B2", "u1", 4, 20), ("B3", "u1", 1, 25), ("B1", "u2", 4, 11),
                        ("B2", "u2", 5, 12), ("B1", "u3", 5, 13), ("B3", "u3", 4, 14)])
    rat.to_csv(tmp_path / "ratings.csv", index=False, header=False)
    pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["B4", "B3"], "timestamp": [30, 40],
                  "review": ["great", "meh"], "rating": [5, 4], "label": [1, 0]}).to_csv(tmp_path / "seren.csv", index=False)
    with open(tmp_path / "meta.jsonl", "w") as f:
        for asin, title in [("B1", "Book One"), ("B2", "Book Two"), ("B3", "Book Three"), ("B4", "Book Four")]:
            f.write(json.dumps({"asin": asin, "title": title, "category": ["Books", "Fiction"]}) + "\n")
    meta = data.prepare("amazon", tmp_path / "out", ratings=tmp_path / "ratings.csv", serenlens=tmp_path / "seren.csv",
                        meta=tmp_path / "meta.jsonl", log=lambda *a: None)
    ds = data.load(tmp_path / "out")
    assert meta["topic"] == "book" and meta["n_serendipitous"] == 1 and meta["n_users"] == 3
    ser = ds.inter[ds.inter["serendipitous"]]
    assert ds.items.set_index("item").loc[ser["item"], "title"].tolist() == ["Book Four"]


def test_movielens_100k_real(ml100k):
    m = ml100k.meta
    assert m["n_items"] == 1682 and m["n_users"] >= 940 and m["serendipity_labels"] == "proxy"
    assert 0 < m["n_serendipitous"] < 0.1 * m["n_positives"]
    titles = ml100k.titles()
    assert "Toy Story (1995)" in set(titles)
    # stable time order, ties broken by item id
    d = ml100k.ratings
    same_user = d["user"].to_numpy()[1:] == d["user"].to_numpy()[:-1]
    t, i = d["timestamp"].to_numpy(), d["item"].to_numpy()
    ok = (t[1:] > t[:-1]) | ((t[1:] == t[:-1]) & (i[1:] > i[:-1]))
    assert ok[same_user].all()
    # the paper's split: seeded 70/10/20 by user
    frac = ml100k.users["split"].value_counts(normalize=True)
    assert abs(frac["train"] - 0.7) < 0.01 and abs(frac["valid"] - 0.1) < 0.01


def test_split_is_deterministic(tmp_path, ml100k):
    data.prepare("ml-100k", tmp_path / "again", log=lambda *a: None)
    again = data.load(tmp_path / "again")
    pd.testing.assert_frame_equal(again.users, ml100k.users)


def test_proxy_labels_are_novel_and_unexpected(ml100k):
    ser = ml100k.inter[ml100k.inter["serendipitous"]]
    pop = np.bincount(ml100k.ratings["item"], minlength=ml100k.n_items + 1)
    assert np.median(pop[ser["item"]]) < np.median(pop[ml100k.inter["item"]])


def test_padded_sequences_are_left_padded_most_recent():
    inter = pd.DataFrame({"user": [1, 1, 1, 2], "item": [5, 6, 7, 9]})
    m = data.padded_sequences(inter, np.array([2, 1]), 2)
    assert m.tolist() == [[0, 9], [6, 7]]
    assert data.padded_sequences(inter, np.array([1]), 4, drop_last=True).tolist() == [[0, 0, 5, 6]]


@pytest.mark.parametrize("case", ["missing", "empty", "columns"])
def test_bad_source_files(tmp_path, case):
    src = write_ser2018(tmp_path / "src")
    if case == "missing":
        (src / "answers.csv").unlink()
    elif case == "empty":
        (src / "movies.csv").write_text("")
    else:
        pd.DataFrame({"user": [1], "movie": [2]}).to_csv(src / "training.csv", index=False)
    with pytest.raises(SolarError):
        data.prepare("serendipity2018", tmp_path / "out", path=src)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_cli_unknown_dataset_is_a_clean_error(tmp_path):
    assert_clean_error(run_script("datagen/prepare_data.py", "--dataset", "netflix", "--out", tmp_path / "x"),
                       "unknown dataset")


def test_proxy_labels_flag_and_header_only_answers(tmp_path):
    src = write_ser2018(tmp_path / "src")
    ans = pd.read_csv(src / "answers.csv")
    ans.iloc[:0].to_csv(src / "answers.csv", index=False)
    meta = data.prepare("serendipity2018", tmp_path / "out", path=src, proxy_labels=True, log=lambda *a: None)
    assert meta["serendipity_labels"] == "proxy" and meta["n_users"] == 3
