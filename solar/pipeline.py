"""The main job: every stage as a subprocess running the project's own script, with a
completion marker per stage in the run folder, so a rerun skips finished stages and the
interrupted stage resumes from its own checkpoint.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SolarError

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Stage:
    name: str
    args: list[str]                       # script + flags, relative to the repo root
    outputs: list[Path] = field(default_factory=list)  # must exist for "done"; removed by --force


def run_stage(stage: Stage, run_dir: Path, index: int, total: int, log=print) -> float:
    marker = run_dir / "stages" / f"{stage.name}.done"
    if marker.is_file() and all(Path(o).exists() for o in stage.outputs):
        log(f"[{index}/{total}] {stage.name}: done earlier ({json.loads(marker.read_text())['seconds']:.0f}s), skipped")
        return 0.0
    log(f"[{index}/{total}] {stage.name}: {' '.join(map(str, stage.args))}")
    t0 = time.perf_counter()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, *map(str, stage.args)], cwd=ROOT, env=env)

    def forward(signum, frame):  # pass SIGTERM on, so the stage stops its own servers
        proc.send_signal(signum)

    old = signal.signal(signal.SIGTERM, forward)
    try:
        rc = proc.wait()
    except KeyboardInterrupt:  # the child got the same Ctrl-C; let it clean up
        proc.wait()
        raise
    finally:
        signal.signal(signal.SIGTERM, old)
    if rc != 0:
        raise SolarError(f"stage '{stage.name}' failed (exit {rc}); fix the cause and rerun: finished stages are kept")
    seconds = time.perf_counter() - t0
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"seconds": seconds}))
    log(f"[{index}/{total}] {stage.name}: finished in {seconds:.0f}s")
    return seconds


def run(stages: list[Stage], run_dir: Path, force: str | None = None, log=print) -> dict:
    names = [s.name for s in stages]
    if force:
        if force not in names:
            raise SolarError(f"--force: unknown stage '{force}'; stages are {names}")
        import shutil
        for st in stages[names.index(force):]:  # the forced stage and everything after it start afresh
            (run_dir / "stages" / f"{st.name}.done").unlink(missing_ok=True)
            for o in st.outputs:
                shutil.rmtree(o, ignore_errors=True) if Path(o).is_dir() else Path(o).unlink(missing_ok=True)
    times = {}
    for i, st in enumerate(stages, 1):
        times[st.name] = run_stage(st, run_dir, i, len(stages), log)
    return times


def stage_times(run_dir: Path) -> dict:
    out = {}
    for f in sorted((run_dir / "stages").glob("*.done")):
        out[f.stem] = json.loads(f.read_text())["seconds"]
    return out
