"""A tiny OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks, with a
pluggable reply function so it can answer after a delay or inject faults (500, 429, garbage,
empty choices, IDs outside the candidates)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def candidate_ids(messages) -> list[int]:
    """The IDs of the (ID, title) candidate lines in the latest message that has them."""
    import re
    for m in reversed(messages):
        ids = [int(x) for x in re.findall(r"^\((\d+), ", m["content"], flags=re.M)]
        if ids:
            return ids
    return []


def echo_first(body, n) -> tuple[int, str | None, float]:
    """Default behaviour: pick the first five candidates, like a well-behaved model."""
    ids = candidate_ids(body["messages"])[:5]
    return 200, f"My picks: {ids}", 0.0


class StubServer:
    """with StubServer(reply) as s: s.base_url ... ; reply(body, n) -> (status, text|None, delay)."""

    def __init__(self, reply=echo_first, model="stub"):
        self.reply, self.model, self.count, self.lock = reply, model, 0, threading.Lock()
        self.bodies: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, status, payload):
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):
                self._send(200, {"object": "list", "data": [{"id": stub.model, "object": "model"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with stub.lock:
                    stub.count += 1
                    n = stub.count
                    stub.bodies.append(body)
                status, text, delay = stub.reply(body, n)
                if delay:
                    time.sleep(delay)
                if status != 200:
                    return self._send(status, {"error": {"message": f"stub status {status}"}})
                choices = [] if text is None else [{"index": 0, "finish_reason": "stop",
                                                    "message": {"role": "assistant", "content": text}}]
                self._send(200, {"id": f"c{n}", "object": "chat.completion", "created": 0, "model": stub.model,
                                 "choices": choices,
                                 "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def random_candidates(ds, n_users: int, seed: int = 0, split: str = "train"):
    """A candidate table in the exporter's format without training anything: for the first
    n_users users, 20 items they never interacted with (tests and benchmarks)."""
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(seed)
    rows = []
    for u, g in list(ds.inter.groupby("user"))[:n_users]:
        items = g["item"].tolist()
        pool = np.setdiff1d(np.arange(1, ds.n_items + 1), items)
        rows.append(dict(user=u, split=split, history=" ".join(map(str, items[:-1])),
                         topk_items=" ".join(map(str, rng.choice(pool, 20, replace=False))), target=items[-1]))
    return pd.DataFrame(rows)
