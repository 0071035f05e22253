"""The results table: every model scored on the very same 20-candidate test sets."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from . import data as D
from . import evaluation as E
from .instructions import read_testset, sample_testset

COLUMNS = ["HR@1", "HR@5", "NDCG@5", "serendipity", "unexpectedness", "novelty", "diversity", "coverage",
           "valid_ratio", "users"]


def id_rows(ds: D.Dataset, testsets: dict, ckpts: dict, k: int, num_users, seed) -> list[dict]:
    from .sasrec import load_model
    rows = []
    models = {label: load_model(path, None, ds.n_items)[0] for label, path in ckpts.items()}
    for set_name, path in testsets.items():
        ts = sample_testset(read_testset(path), num_users, seed)
        lists = {"random": E.random_lists(ts, k, seed), "most-popular": E.popular_lists(ts, ds, k),
                 **{label: E.sasrec_lists(ts, m, k) for label, m in models.items()}}
        for label, lst in lists.items():
            rows.append(dict(model=label, testset=set_name, valid_ratio=1.0, **E.score(ts, lst, ds, k)))
    return rows


def llm_rows(results: dict) -> list[dict]:
    """{(label, testset name): test.py's metrics JSON path}."""
    rows = []
    for (label, set_name), path in results.items():
        m = json.loads(Path(path).read_text())
        rows.append({**m, "model": label, "testset": set_name})
    return rows


def table(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["model"] = pd.Categorical(df["model"], categories=list(dict.fromkeys(df["model"])), ordered=True)
    return df.set_index(["testset", "model"])[COLUMNS].sort_index(level=0, sort_remaining=False)


def write(df: pd.DataFrame, out_dir: Path, name: str = "results") -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    df.to_csv(out_dir / f"{name}.csv")
    md = df.reset_index().to_markdown(index=False, floatfmt=".4f")
    (out_dir / f"{name}.md").write_text(md + "\n")
    plot(df, out_dir / f"{name}.png")
    return dict(csv=out_dir / f"{name}.csv", md=out_dir / f"{name}.md", png=out_dir / f"{name}.png", text=md)


def plot(df: pd.DataFrame, path: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sets = list(dict.fromkeys(df.index.get_level_values(0)))
    metrics = ["HR@1", "HR@5", "NDCG@5", "serendipity"]
    fig, axes = plt.subplots(1, len(sets), figsize=(6.5 * len(sets), 3.8), squeeze=False)
    for ax, s in zip(axes[0], sets):
        sub = df.loc[s, metrics]
        sub.T.plot.bar(ax=ax, rot=0, width=0.8)
        ax.set(title=f"{s} test set ({int(df.loc[s, 'users'].iloc[0])} users, 20 candidates)", ylabel="score")
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
