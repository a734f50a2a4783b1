# shellcheck shell=bash
# Shared helpers for scripts/lab.sh and scripts/test.sh (sourced, not executed).
#
# ensure_venv_with EXTRA
#   Creates .venv (python3 -m venv) if it is missing and installs this package
#   editable with the given extra ("lab" or "test").  The install is skipped when
#   a stamp in .venv records the same pyproject.toml, extra and Python, so a
#   second run costs well under a second; set GEMINI_MAGICS_REINSTALL=1 to force
#   it.  pip's output goes to .venv/pip-install-EXTRA.log and is shown on failure.

_gm_log() { printf '%s: %s\n' "${GM_SCRIPT:-gemini_magics}" "$*"; }

ensure_venv_with() {
  local extra="$1" py="${PYTHON:-python3}"
  if [ ! -x .venv/bin/python ]; then
    if ! command -v "$py" >/dev/null 2>&1; then
      _gm_log "error: $py not found; install Python >= 3.11 (Debian: apt-get install python3 python3-venv)"
      return 1
    fi
    _gm_log "creating virtual environment .venv with $("$py" --version 2>&1)"
    "$py" -m venv .venv
  fi
  if ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    _gm_log "error: .venv uses $(.venv/bin/python --version 2>&1); gemini_magics needs Python >= 3.11"
    _gm_log "remove .venv and run again with PYTHON=python3.11 (or newer)"
    return 1
  fi
  # The stamp records pyproject.toml and the Python build; [test] includes [lab].
  local want stamps=(".venv/.gemini_magics-install-$extra.stamp")
  if [ "$extra" = lab ]; then stamps+=(".venv/.gemini_magics-install-test.stamp"); fi
  want="$( (cat pyproject.toml; .venv/bin/python -VV) | sha256sum | cut -d' ' -f1)"
  if [ "${GEMINI_MAGICS_REINSTALL:-0}" != 1 ] && .venv/bin/python -c 'import gemini_magics' 2>/dev/null; then
    local s
    for s in "${stamps[@]}"; do
      if [ -f "$s" ] && [ "$(cat "$s")" = "$want" ]; then return 0; fi
    done
  fi
  local log=".venv/pip-install-$extra.log"
  _gm_log "installing gemini_magics[$extra] into .venv (log: $log)"
  if ! .venv/bin/python -m pip install --disable-pip-version-check -q -e ".[$extra]" >"$log" 2>&1; then
    cat "$log" >&2
    _gm_log "error: pip install -e \".[$extra]\" failed (output above)"
    return 1
  fi
  printf '%s\n' "$want" >"${stamps[0]}"
}
