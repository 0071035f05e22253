"""Write the six SUN profile fields for each reranked user with an LLM (resumable JSONL).

  python datagen/instgen/gen_profiles.py --dataset data/ml-1m --rerank_csv runs/ml-1m/rerank.csv \
      --output runs/ml-1m/profiles.jsonl [--base_url URL --model NAME] [--temperature 1.5]
"""
import argparse
import contextlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from solar import data, profiles  # noqa: E402
from solar.errors import SolarError, cli  # noqa: E402
from solar.server import add_endpoint_flags, open_client  # noqa: E402


@cli
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, help="processed dataset folder (titles, topic)")
    p.add_argument("--rerank_csv", required=True, help="output of llm_rerank.py")
    p.add_argument("--output", required=True, help="profiles JSONL (also the resume checkpoint)")
    p.add_argument("--topic", help="movie or book prompts (default: the dataset's topic)")
    p.add_argument("--temperature", type=float, default=1.5, help="paper: 1.5")
    p.add_argument("--max_tokens", type=int, default=96)
    p.add_argument("--hist_len", type=int, default=10, help="most recent history titles shown")
    p.add_argument("--fields", default=",".join(profiles.FIELDS))
    add_endpoint_flags(p)
    a = p.parse_args(argv)
    ds = data.load(a.dataset)
    if a.topic:
        ds.meta["topic"] = a.topic
    fields = a.fields.split(",")
    bad = set(fields) - set(profiles.FIELDS)
    if bad:
        raise SolarError(f"--fields: unknown {sorted(bad)}; known: {list(profiles.FIELDS)}")
    out = Path(a.output)
    if not out.resolve().parent.is_dir():
        raise SolarError(f"output folder does not exist: {out.parent}")
    with contextlib.ExitStack() as stack:
        client = open_client(stack, a, log_dir=out.parent, temperature=a.temperature, max_tokens=a.max_tokens)
        _, s = profiles.generate(a.rerank_csv, ds, client, out, hist_len=a.hist_len, max_retries=a.max_retries,
                                 seed=a.seed, fields=fields)
    print(f"[profiles] users {s['users']}, complete {s['complete']}, failed fields {s['failed_fields']}, "
          f"{client.stats.summary()} -> {out}")


if __name__ == "__main__":
    main()
