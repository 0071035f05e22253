import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from solar import data  # noqa: E402


@pytest.fixture(scope="session")
def ml100k(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "ml-100k"
    data.prepare("ml-100k", out, log=lambda *a: None)
    return data.load(out)


def run_script(*args, check=False, timeout=900):
    """Run one of the project's scripts as a user would; returns CompletedProcess."""
    p = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{args} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


def assert_clean_error(p, fragment):
    """A one-line `error: ...` message, exit code 2, no traceback."""
    assert p.returncode == 2, (p.returncode, p.stderr[-2000:])
    assert "Traceback" not in p.stderr, p.stderr
    assert fragment.lower() in p.stderr.lower(), p.stderr
