#!/usr/bin/env bash
# Install everything this project needs on a Debian/Ubuntu machine, idempotently:
#   1. Debian packages (audio I/O, offline speech synthesisers, the MQTT broker for tests),
#   2. a virtual environment at .venv in the repository root,
#   3. the package itself (editable) with its test extras, torch pinned by constraints.txt.
# Re-running it does only what is missing. Usage: bash scripts/setup.sh [--quiet]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
say() { [ "$quiet" = 1 ] || echo "[setup] $*"; }

# --- 1. Debian packages ------------------------------------------------------------------------
apt_packages=(
  libportaudio2 libsndfile1            # sounddevice / soundfile
  espeak-ng flite festival             # offline speech for corpora and simulated users
  festvox-kallpc16k festvox-us-slt-hts # festival voices
  mosquitto mosquitto-clients          # MQTT broker and clients, started by the tests themselves
  sox                                  # handy for inspecting WAVs (not imported by the code)
  libspeexdsp1                         # Speex echo canceller: an anchor of the AEC benchmark (ctypes)
)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo_cmd=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo_cmd=(sudo -n)
  else
    echo "[setup] These Debian packages are missing and I cannot install them without root:" >&2
    echo "        sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  # Services must not be started by the package scripts (tests start their own broker).
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 2. virtual environment ------------------------------------------------------------------------
python_bin="${PYTHON:-}"
if [ -z "$python_bin" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python_bin="$cand"; break
    fi
  done
fi
if [ -z "$python_bin" ]; then
  echo "[setup] Python 3.11 is required (set PYTHON=/path/to/python3.11)." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $python_bin"
  "$python_bin" -m venv .venv
fi

# --- 3. the package --------------------------------------------------------------------------------
# A stamp of the dependency files lets a second run skip pip entirely.
stamp=.venv/.installed-stamp
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! .venv/bin/python -c 'import agent, audio_io' 2>/dev/null; then
  say "installing Python packages into .venv (first run: several minutes)"
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  # pip's notes about local mirror folders it skips are noise here; real errors still show.
  pip_quiet() { PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q "$@" 2> >(grep -v -e "is ignored: it is neither" -e "^ *$" >&2); }
  pip_quiet --upgrade "pip>=24" setuptools wheel
  # torch first, from the pinned CPU build, so no other package can pull a CUDA one.
  pip_quiet -c constraints.txt "torch==2.13.0"
  pip_quiet -c constraints.txt -e ".[test,bench,train]"
  echo "$want" > "$stamp"
fi
say "ready: $(.venv/bin/python --version), torch $(.venv/bin/python -c 'import torch; print(torch.__version__)')"
