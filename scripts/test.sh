#!/usr/bin/env bash
# The whole test suite: Rust unit and end-to-end tests (the real gateway binary and
# the simulator over loopback), then the Python suite with the official `openai` SDK
# in a local virtualenv (.venv, created on first run).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --all-targets

if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r crates/modelgate/tests/sdk/requirements.txt
MODELGATE_BIN="$PWD/target/debug/modelgate" .venv/bin/python -m pytest -q crates/modelgate/tests/sdk
