#!/usr/bin/env bash
# Start JupyterLab on the example notebooks:   bash scripts/lab.sh   (or: make lab)
#
# On a fresh machine this creates .venv, installs gemini_magics[lab] into it and
# then runs `jupyter lab notebooks/` from the venv.  Extra arguments go to
# jupyter lab, e.g.  bash scripts/lab.sh --no-browser --port 8899
#
# Without GEMINI_API_KEY / GOOGLE_API_KEY the notebooks still work: the magics
# switch to the built-in offline emulator (GEMINI_MAGICS_OFFLINE=1), or replay a
# notebook's recording when notebooks/NAME.cassette.jsonl exists (GEMINI_MAGICS_REPLAY).
set -euo pipefail
GM_SCRIPT=lab.sh
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/_common.sh
source scripts/_common.sh

ensure_venv_with lab

if [ -z "${GEMINI_API_KEY:-}" ] && [ -z "${GOOGLE_API_KEY:-}" ]; then
  export GEMINI_MAGICS_OFFLINE=1
  _gm_log "no GEMINI_API_KEY or GOOGLE_API_KEY found: the notebooks will use the built-in offline emulator (replies are generated locally, not by Gemini). Set GEMINI_API_KEY to use Gemini."
  if compgen -G "notebooks/*.cassette.jsonl" >/dev/null; then
    export GEMINI_MAGICS_REPLAY="$PWD/notebooks"
    _gm_log "notebooks with a recording (NAME.cassette.jsonl) replay it instead (GEMINI_MAGICS_REPLAY)."
  fi
fi

extra=()
if [ "$(id -u)" -eq 0 ]; then extra+=(--allow-root); fi  # jupyter refuses root without it

mkdir -p notebooks
exec .venv/bin/jupyter lab notebooks/ "${extra[@]}" "$@"
