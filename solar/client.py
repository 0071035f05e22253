"""The one OpenAI-compatible chat client, and the resumable async job runner every LLM stage uses.

Retries: timeouts, connection errors, 429 and 5xx are retried with exponential backoff and
full jitter; other HTTP errors (400, 401, 404) fail at once. The API key is read from
OPENAI_API_KEY and never printed; local servers get a dummy key.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import openai
from tqdm import tqdm

from .errors import SolarError


@dataclass
class Stats:
    requests: int = 0
    retries: int = 0
    errors: int = 0
    started: float = field(default_factory=time.perf_counter)

    def summary(self) -> str:
        wall = time.perf_counter() - self.started
        return (f"requests {self.requests}, retries {self.retries}, request errors {self.errors}, "
                f"{self.requests / max(wall, 1e-9):.2f} requests/s, wall {wall:.1f}s")


class ChatClient:
    RETRYABLE = (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError,
                 openai.InternalServerError)

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, concurrency: int = 8,
                 timeout: float = 120.0, max_retries: int = 3, temperature: float | None = 0.0,
                 seed: int | None = None, max_tokens: int | None = 256, backoff: float = 1.0):
        self.model = model
        self.client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key or os.environ.get("OPENAI_API_KEY") or "local",
                                         timeout=timeout, max_retries=0)
        self.sem = asyncio.Semaphore(concurrency)
        self.max_retries, self.backoff = max_retries, backoff
        self.defaults = {k: v for k, v in dict(temperature=temperature, seed=seed, max_tokens=max_tokens).items()
                         if v is not None}
        self.stats = Stats()

    async def chat(self, messages: list[dict], **kw) -> str:
        """The assistant's text ('' for an empty choice). Raises openai.APIError after the last retry."""
        params = {**self.defaults, **kw}
        for attempt in range(self.max_retries + 1):
            try:
                async with self.sem:
                    self.stats.requests += 1
                    r = await self.client.chat.completions.create(model=self.model, messages=messages, **params)
                return (r.choices[0].message.content or "") if r.choices else ""
            except self.RETRYABLE:
                if attempt == self.max_retries:
                    self.stats.errors += 1
                    raise
                self.stats.retries += 1
                await asyncio.sleep(random.uniform(0, self.backoff * 2 ** attempt))
            except openai.APIStatusError:
                self.stats.errors += 1
                raise

    async def close(self):
        await self.client.close()


def model_names(base_url: str, timeout: float = 5.0, api_key: str | None = None) -> list[str]:
    req = urllib.request.Request(base_url.rstrip("/") + "/models")
    if api_key:
        req.add_header("Authorization", f"Bearer {api_key}")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return [m["id"] for m in json.load(r)["data"]]


def check_server(base_url: str, model: str):
    """Fail early and clearly when the endpoint is down or does not serve `model`."""
    try:
        names = model_names(base_url, timeout=10, api_key=os.environ.get("OPENAI_API_KEY"))
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            raise SolarError(f"{base_url} refused the API key (HTTP {e.code}); set OPENAI_API_KEY") from None
        return  # some providers do not list models; the first request will tell
    except (OSError, ValueError, KeyError) as e:
        raise SolarError(f"cannot reach an OpenAI-compatible server at {base_url}: {e}") from None
    if names and model not in names:
        raise SolarError(f"the server at {base_url} does not serve model '{model}' (it serves {names})")


# ----------------------------------------------------------------------------- resumable jobs

def read_jsonl(path: Path, key: str) -> dict:
    """Finished records by key; a torn last line (killed mid-write) is ignored and rewritten."""
    done = {}
    if not path.is_file():
        return done
    good = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        done[rec[key]] = rec
        good.append(line)
    path.write_text("".join(g + "\n" for g in good))
    return done


async def run_jobs(keys, worker, checkpoint: Path, *, key: str, desc: str) -> list[dict]:
    """Run `await worker(k) -> dict` for each key not yet in `checkpoint` (JSONL), appending each
    finished record at once; returns all records (old and new) in the order of `keys`.
    Concurrency is bounded by the ChatClient's semaphore."""
    checkpoint = Path(checkpoint)
    try:
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SolarError(f"cannot create folder for {checkpoint}: {e}") from None
    done = read_jsonl(checkpoint, key)
    todo = [k for k in keys if k not in done]
    if done:
        print(f"[{desc}] resuming: {len(done)} done, {len(todo)} to go", flush=True)

    async def one(k):
        rec = await worker(k)
        rec[key] = k
        return rec

    tasks = [asyncio.ensure_future(one(k)) for k in todo]
    try:
        with open(checkpoint, "a") as f, tqdm(total=len(keys), initial=len(keys) - len(todo), desc=desc,
                                              unit="user") as bar:
            for fut in asyncio.as_completed(tasks):
                rec = await fut
                f.write(json.dumps(rec) + "\n")
                f.flush()
                done[rec[key]] = rec
                bar.update()
    finally:
        for t in tasks:
            t.cancel()
    return [done[k] for k in keys if k in done]
