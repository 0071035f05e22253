"""Score an LLM on a 20-candidate test set through an OpenAI-compatible API (SOLAR step 6).

  # a server you started (vLLM / llamafactory-cli api), as in the paper:
  python test.py --data data/ml-1m --testset testset/ml-1m_accuracy --model_name solar --vllm_port 12345
  # serve the embedded model (+ a LoRA adapter) locally for the duration of the run:
  python test.py --data data/ml-1m --testset testset/ml-1m_serendipity --adapter saves/smollm2/lora/solar_ml

The List prompt of the instruction set asks for --topk titles; each line is snapped to the
candidates (edit distance <= 3), then to the catalogue (to tell hallucinations apart).
Writes <output_dir>/<testset>_<label>.jsonl (per user, resumable) and .json (the metrics).
"""
import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from solar import data, evaluation, instructions  # noqa: E402
from solar import templates as T  # noqa: E402
from solar.client import run_jobs  # noqa: E402
from solar.errors import SolarError, cli  # noqa: E402
from solar.server import add_endpoint_flags, open_client  # noqa: E402


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="processed dataset folder (catalogue titles, popularity, genres)")
    p.add_argument("--testset", required=True, nargs="+", help="test set path(s) (.pkl or .jsonl; suffix optional)")
    p.add_argument("--topk", type=int, default=5)
    p.add_argument("--maxlen", type=int, default=10, help="history titles in the prompt")
    p.add_argument("--num_neg_samples", type=int, default=19, help="negatives per user (<= those in the test set)")
    p.add_argument("--num_users", type=int, help="score a seeded sample of users (default: all)")
    p.add_argument("--model_name", help="served model name; without --base_url/--vllm_port: a local folder")
    p.add_argument("--try_num", type=int, default=2, help="answers asked when fewer than --topk titles match")
    p.add_argument("--gen_max_length", type=int, default=160, help="max new tokens")
    p.add_argument("--vllm_port", type=int, help="a server on 127.0.0.1:PORT (paper flag)")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--output_dir", default="runs/test", help="writes <testset name>_<label>.json / .jsonl here")
    p.add_argument("--label", help="name in the output files (default: the adapter's or model's folder name)")
    add_endpoint_flags(p)
    return p


def load_testset(a, path):
    ts = instructions.read_testset(path)
    n_cands = ts["candidate"].map(len).min()
    if n_cands < a.topk:
        raise SolarError(f"{path}: rows with {n_cands} candidates, fewer than --topk {a.topk}")
    if a.num_neg_samples + 1 > n_cands:
        raise SolarError(f"--num_neg_samples {a.num_neg_samples} needs {a.num_neg_samples + 1} candidates; "
                         f"{path} has {n_cands}")
    if "candidate_ids" not in ts:
        raise SolarError(f"{path} has no candidate_ids column: rebuild it with datagen/instgen/build_testsets.py")
    ts = instructions.sample_testset(ts, a.num_users, a.seed)
    keep = a.num_neg_samples + 1  # the target and the first negatives, in the test set's shuffled order
    ts["candidate"], ts["candidate_ids"] = zip(*[
        _subset(c, i, t, keep) for c, i, t in zip(ts["candidate"], ts["candidate_ids"], ts["target_id"])])
    return ts


async def evaluate(a, ds, ts, client, matcher, items, out: Path) -> dict:
    async def one(i):
        row = ts.loc[i]
        msgs = T.list_messages(row["history"][-a.maxlen:], row["candidate"], a.topk, items)
        best = None
        for _ in range(a.try_num):
            try:
                text = await client.chat(msgs)
            except Exception as e:  # noqa: BLE001 - an unanswered user is a counted miss
                text = f"<request failed: {type(e).__name__}>"
            ids, stats = matcher.match(evaluation.parse_titles(text), row["candidate"], row["candidate_ids"], a.topk)
            if best is None or len(ids) > len(best["ids"]):
                best = dict(ids=ids, answer=text[-800:], **stats)
            if len(ids) >= a.topk:
                break
        return best

    records = await run_jobs(list(range(len(ts))), one, out.with_suffix(".jsonl"), key="row", desc=f"test {out.stem}")
    lists = [r["ids"] for r in records]
    return dict(miss_count=int(sum(len(x) < a.topk for x in lists)),
                valid_ratio=float(np.mean([len(x) / a.topk for x in lists])),
                hallucinated=int(sum(r["hallucinated"] for r in records)),
                off_catalogue=int(sum(r["off_catalogue"] for r in records)),
                duplicates=int(sum(r["duplicates"] for r in records)),
                **evaluation.score(ts, lists, ds, a.topk))


@cli
def main(argv=None):
    a = parser().parse_args(argv)
    ds = data.load(a.data)
    sets = {path: load_testset(a, path) for path in a.testset}  # check every input before serving anything
    if a.vllm_port and not a.base_url:
        a.base_url = f"http://127.0.0.1:{a.vllm_port}/v1"
    a.model = a.model_name
    name = a.label or Path(a.adapter or a.model_name or "embedded").name
    out_dir = Path(a.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    matcher = evaluation.Matcher(ds.items["title"])
    items = {"movie": "movies", "book": "books"}.get(ds.topic, "items")
    results = {}
    with contextlib.ExitStack() as stack:
        client = open_client(stack, a, log_dir=out_dir, temperature=a.temperature, max_tokens=a.gen_max_length)

        async def run_all():
            try:
                for path, ts in sets.items():
                    out = out_dir / f"{Path(path).stem}_{name}"
                    m = await evaluate(a, ds, ts, client, matcher, items, out)
                    m.update(model=name, testset=str(path), requests=client.stats.requests)
                    out.with_suffix(".json").write_text(json.dumps(m, indent=2))
                    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()}),
                          flush=True)
                    results[path] = m
            finally:
                await client.close()

        asyncio.run(run_all())
    return results


def _subset(titles, ids, target, keep):
    """The target plus the first keep-1 negatives, in the stored (shuffled) order."""
    ids = list(ids)
    pick = [j for j, i in enumerate(ids) if i == target] + [j for j, i in enumerate(ids) if i != target][:keep - 1]
    pick.sort()
    return [titles[j] for j in pick], [ids[j] for j in pick]


if __name__ == "__main__":
    main()
