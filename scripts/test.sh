#!/usr/bin/env bash
# Run the whole test suite:   bash scripts/test.sh   (or: make test; CI: bash .ci/run)
#
# Installs what the tests need on a fresh Debian machine, then lints and tests:
#   1. Debian's chromium (browser tests), only when `chromium` is not on PATH
#   2. .venv with gemini_magics[test] (skipped when already installed, see _common.sh)
#   3. ruff check . && ruff format --check . && mypy (the whole package)
#   4. pytest, with any extra arguments passed through, e.g.
#        bash scripts/test.sh tests/browser -x
#        bash scripts/test.sh -m "not browser"
# pytest runs even when lint fails; the script fails if either failed.
# Safe to run repeatedly: a second run goes straight to lint and tests.
set -euo pipefail
GM_SCRIPT=test.sh
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/_common.sh
source scripts/_common.sh

t0=$SECONDS
lap=$SECONDS
step_done() { _gm_log "$1 took $((SECONDS - lap))s"; lap=$SECONDS; }

# 1. Chromium for the Playwright browser tests (Playwright cannot download its own here).
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi
  _gm_log "chromium not found; installing Debian's chromium with apt-get"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  command -v chromium >/dev/null 2>&1 || { _gm_log "error: chromium still not on PATH after apt-get install"; exit 1; }
  step_done "installing chromium"
fi

# 2. Python environment.
ensure_venv_with test
step_done "python environment"

# 3. Lint.
lint_rc=0
_gm_log "ruff check ."
.venv/bin/ruff check . || lint_rc=1
_gm_log "ruff format --check ."
.venv/bin/ruff format --check . || lint_rc=1
_gm_log "mypy (the whole package)"
.venv/bin/mypy || lint_rc=1
step_done "ruff and mypy"

# 4. Tests.
pytest_rc=0
.venv/bin/python -m pytest "$@" || pytest_rc=$?
step_done "pytest"

_gm_log "total $((SECONDS - t0))s"
if [ "$pytest_rc" -eq 5 ]; then
  _gm_log "FAILED: pytest collected no tests (exit code 5); check the paths and -k/-m filters"
fi
if [ "$pytest_rc" -ne 0 ]; then
  _gm_log "FAILED: pytest exited with code $pytest_rc"
  exit "$pytest_rc"
fi
if [ "$lint_rc" -ne 0 ]; then
  _gm_log "FAILED: ruff found problems (run .venv/bin/ruff check --fix . && .venv/bin/ruff format .)"
  exit 1
fi
_gm_log "all checks passed"
