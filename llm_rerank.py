"""Serendipity reranking with an LLM behind an OpenAI-compatible API (SOLAR step 3).

  # the embedded SmolLM2, served locally for the duration of the run:
  python llm_rerank.py --topic movie --num_samples 100 --num_icls 4 \
      --res_path runs/ml-1m/sasrec_ser/candidates.csv --title_path data/ml-1m/titles.csv \
      --output_file runs/ml-1m/rerank.csv
  # an external endpoint (key from OPENAI_API_KEY):
  python llm_rerank.py ... --base_url https://api.deepseek.com/v1 --model deepseek-chat --concurrency 16

Rerunning with the same --output_file resumes: finished users are kept in <output>.jsonl.
"""
import argparse
import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from solar import data, rerank  # noqa: E402
from solar.errors import SolarError, cli  # noqa: E402
from solar.server import add_endpoint_flags, open_client  # noqa: E402


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--topic", default=None, help="domain word for the prompts (default: the dataset's, else movie)")
    p.add_argument("--num_samples", type=int, default=100, help="users to rerank (0 = all)")
    p.add_argument("--num_icls", type=int, default=4, help="in-context examples per prompt")
    p.add_argument("--res_path", required=True, help="candidate CSV from datagen/export_id_model_result.py")
    p.add_argument("--title_path", help="CSV with item,title (default: <dataset>/titles.csv)")
    p.add_argument("--dataset", help="processed dataset folder (titles, topic, low-rated negatives)")
    p.add_argument("--output_file", required=True)
    add_endpoint_flags(p)
    p.add_argument("--chunk_size", type=int, default=None, help="paper flag; same as --concurrency")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--topk", type=int, default=10, help="how many serendipitous items to pick")
    p.add_argument("--splits", default="train", help="user splits to rerank (train only: no test leakage)")
    p.add_argument("--understanding", choices=rerank.UNDERSTANDING, default="shared",
                   help="the two serendipity-understanding turns: asked once and reused (shared, default), "
                        "in every conversation (per_user, as the paper's code), or skipped (none)")
    p.add_argument("--max_tokens", type=int, default=96)
    p.add_argument("--lenient_parse", action="store_true",
                   help="with no bracketed list, take candidate IDs found anywhere in the answer, else candidate "
                        "titles (snapped, edit distance <= 3): for tiny models")
    return p


@cli
def main(argv=None):
    a = parser().parse_args(argv)
    ds = data.load(a.dataset) if a.dataset else None
    title_path = a.title_path or (ds.root / "titles.csv" if ds else None)
    if not title_path:
        raise SolarError("give --title_path or --dataset")
    topic = a.topic or (ds.topic if ds else "movie")
    cands = rerank.load_candidates(a.res_path)
    titles = rerank.load_titles(title_path)
    pool = cands[cands["split"].isin(a.splits.split(","))]
    users = rerank.sample_users(cands, a.num_samples, a.seed, a.splits.split(","))
    if not Path(a.output_file).resolve().parent.is_dir():
        raise SolarError(f"output folder does not exist: {Path(a.output_file).parent}")
    with contextlib.ExitStack() as stack:
        client = open_client(stack, a, log_dir=Path(a.output_file).parent, temperature=a.temperature,
                             max_tokens=a.max_tokens, concurrency=a.chunk_size)
        t0 = time.perf_counter()
        out, summary = rerank.rerank(users, titles, client, Path(a.output_file), pool=pool, topic=topic, k=a.topk,
                                     num_icls=a.num_icls, max_retries=a.max_retries, seed=a.seed,
                                     low_rated=rerank.low_rated_items(ds) if ds else None,
                                     understanding=a.understanding, lenient=a.lenient_parse)
    wall = time.perf_counter() - t0
    print(f"[rerank] done {summary['done']}, failed {summary['failed']}, parse failures {summary['parse_failures']}, "
          f"lenient parses {summary['lenient_parses']}, "
          f"{client.stats.summary()}, {wall / max(len(users), 1):.2f}s/user -> {a.output_file}")
    return summary


if __name__ == "__main__":
    main()
