"""Turn a data source into a processed dataset folder (see solar/data.py for the format).

  python datagen/prepare_data.py --dataset ml-1m --out data/ml-1m
  python datagen/prepare_data.py --dataset serendipity2018 --path ~/serendipity-sac2018 --out data/ser2018
  python datagen/prepare_data.py --dataset amazon --ratings Books.csv --serenlens serenlens_books.csv \
      --meta meta_Books.json --topic book --out data/books
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from solar import data  # noqa: E402
from solar.errors import cli  # noqa: E402


@cli
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, help=f"source: one of {data.SOURCES}")
    p.add_argument("--out", help="processed folder (default: data/<dataset>)")
    p.add_argument("--path", help="serendipity2018: folder with training.csv, answers.csv, movies.csv")
    p.add_argument("--ratings", help="amazon: ratings-only CSV (item,user,rating,timestamp; no header)")
    p.add_argument("--serenlens", help="amazon: SerenLens CSV (user_id,item_id,timestamp,review,rating,label)")
    p.add_argument("--meta", help="amazon: item metadata JSONL with asin and title")
    p.add_argument("--topic", help="domain word used in prompts (movie, book, ...)")
    p.add_argument("--min_rating", type=float, default=4.0, help="relevance positives: rating >= this")
    p.add_argument("--seed", type=int, default=42, help="user split seed (paper: 42)")
    p.add_argument("--novel_quantile", type=float, default=data.PROXY_DEFAULTS["novel_quantile"])
    p.add_argument("--unexpected_distance", type=float, default=data.PROXY_DEFAULTS["unexpected_distance"])
    p.add_argument("--proxy_labels", action="store_true",
                   help="label serendipity with the relevant+novel+unexpected proxy even if the source has labels")
    a = p.parse_args(argv)
    data.prepare(a.dataset, a.out or f"data/{a.dataset}", path=a.path, ratings=a.ratings, serenlens=a.serenlens,
                 meta=a.meta, topic=a.topic, proxy_labels=a.proxy_labels, min_rating=a.min_rating, seed=a.seed,
                 proxy=dict(novel_quantile=a.novel_quantile, unexpected_distance=a.unexpected_distance))


if __name__ == "__main__":
    main()
