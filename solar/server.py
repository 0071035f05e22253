"""A local OpenAI-compatible server that our scripts start and always stop.

    with LocalServer(model_dir, template="chatml") as srv:   # 127.0.0.1, a free port
        client = ChatClient(srv.base_url, srv.model_name)

    python -m solar.server --model ~/.cache/solar/SmolLM2-135M-Instruct   # serve until Ctrl-C

Backends: `llamafactory` (`llamafactory-cli api`, HF engine; the default, on CPU) and `vllm`
(`llamafactory-cli api` with `infer_backend: vllm`, for GPU users). The server process gets
PR_SET_PDEATHSIG, so even a SIGKILL of our process does not leave it behind; normal exit,
exceptions, Ctrl-C and SIGTERM stop it through the context manager.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .client import model_names
from .errors import SolarError, cli


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _sigterm_to_exit(signum, frame):
    raise SystemExit(128 + signum)  # unwinds through __exit__, so servers are stopped


class LocalServer:
    def __init__(self, model: str | Path, *, adapter: str | Path | None = None, template: str = "chatml",
                 backend: str = "llamafactory", name: str | None = None, port: int | None = None,
                 startup_timeout: float = 600, log_dir: str | Path | None = None, extra: dict | None = None):
        model = Path(model)
        if not (model / "config.json").is_file():
            raise SolarError(f"model folder not found or not a Hugging Face model: {model}")
        if adapter and not (Path(adapter) / "adapter_config.json").is_file():
            raise SolarError(f"LoRA adapter folder not found: {adapter}")
        if backend not in ("llamafactory", "vllm"):
            raise SolarError(f"unknown server backend '{backend}' (llamafactory, vllm)")
        self.model, self.adapter, self.template, self.backend = model, adapter, template, backend
        self.model_name = name or (Path(adapter).name if adapter else model.name)
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.startup_timeout = startup_timeout
        self.extra = extra or {}
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="solar-server-"))
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        args = {"model_name_or_path": str(self.model), "template": self.template,
                "infer_backend": "vllm" if self.backend == "vllm" else "huggingface", **self.extra}
        if self.adapter:
            args.update(adapter_name_or_path=str(self.adapter), finetuning_type="lora")
        exe = shutil.which("llamafactory-cli", path=str(Path(sys.executable).parent)) or "llamafactory-cli"
        return [exe, "api", *[f"--{k}={v}" for k, v in args.items()]]

    def start(self):
        env = {**os.environ, "API_HOST": "127.0.0.1", "API_PORT": str(self.port),
               "API_MODEL_NAME": self.model_name, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        env.pop("API_KEY", None)  # a loopback-only server needs none; do not leak the user's key into it
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_dir / f"server-{self.port}.log"
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        log.close()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text()[-2000:]
                self.proc = None
                raise SolarError(f"the model server exited during start-up (log {self.log_path}):\n{tail}")
            try:
                if self.model_name in model_names(self.base_url, timeout=2):
                    return self
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise SolarError(f"the model server did not answer within {self.startup_timeout:.0f}s (log {self.log_path})")

    def stop(self):
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self):
        self._old_term = signal.getsignal(signal.SIGTERM)
        try:
            signal.signal(signal.SIGTERM, _sigterm_to_exit)
        except ValueError:  # not the main thread
            self._old_term = None
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
        if self._old_term is not None:
            signal.signal(signal.SIGTERM, self._old_term)
        return False


@cli
def main(argv=None):
    p = argparse.ArgumentParser(description="Serve a model on 127.0.0.1 until Ctrl-C.")
    p.add_argument("--model", help="HF model folder (default: the embedded SmolLM2)")
    p.add_argument("--adapter", help="LoRA adapter folder (LLaMA-Factory output_dir)")
    p.add_argument("--template", default="chatml")
    p.add_argument("--backend", default="llamafactory", choices=["llamafactory", "vllm"])
    p.add_argument("--name", help="model name reported by /v1/models")
    p.add_argument("--port", type=int)
    a = p.parse_args(argv)
    if not a.model:
        from .embedded import model_dir
        a.model = model_dir()
    with LocalServer(a.model, adapter=a.adapter, template=a.template, backend=a.backend, name=a.name,
                     port=a.port) as srv:
        print(f"serving {srv.model_name} at {srv.base_url} (Ctrl-C to stop)", flush=True)
        while srv.proc and srv.proc.poll() is None:
            time.sleep(1)
        raise SolarError(f"the server stopped by itself (log {srv.log_path})")


if __name__ == "__main__":
    main()


def add_endpoint_flags(p, *, concurrency_help="requests in flight (default 8; 1 for a local CPU server)"):
    """The flags every LLM-calling script shares."""
    p.add_argument("--model", help="served model name with --base_url; else a local HF folder (default: embedded)")
    p.add_argument("--base_url", help="OpenAI-compatible endpoint (key from OPENAI_API_KEY); omit to serve locally")
    p.add_argument("--adapter", help="LoRA adapter folder to serve on top of --model (local serving only)")
    p.add_argument("--template", default="chatml", help="LLaMA-Factory chat template for local serving")
    p.add_argument("--concurrency", type=int, default=None, help=concurrency_help)
    p.add_argument("--max_retries", type=int, default=3)
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per request")
    p.add_argument("--seed", type=int, default=42)


def open_client(stack, a, *, log_dir, temperature, max_tokens, concurrency=None):
    """A ChatClient for the script's flags: the given endpoint (checked first), or a LocalServer
    entered on `stack` (an ExitStack), so it is stopped whatever happens."""
    from .client import ChatClient, check_server
    if a.base_url:
        if not a.model:
            raise SolarError("--base_url needs --model (the served model name)")
        base_url, model = a.base_url, a.model
        check_server(base_url, model)
    else:
        from .embedded import model_dir
        srv = stack.enter_context(LocalServer(a.model or model_dir(), adapter=a.adapter, template=a.template,
                                              log_dir=log_dir))
        base_url, model = srv.base_url, srv.model_name
    n = concurrency or a.concurrency or (8 if a.base_url else 1)
    return ChatClient(base_url, model, concurrency=n, timeout=a.timeout, max_retries=a.max_retries,
                      temperature=temperature, seed=a.seed, max_tokens=max_tokens)
