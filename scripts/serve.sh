#!/usr/bin/env bash
# Installs Framecast into a virtualenv on Debian/Ubuntu and runs it on images/ and config.toml.
# Extra arguments go to slideshow.py (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/apt.sh
missing=()
# Web pages (.url and .html slides, the screenshot API) are drawn by Debian's Chromium.
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
# Sound ([audio]) is captured through libpulse, from PulseAudio or PipeWire's pulse server.
python3 -c 'import ctypes; ctypes.CDLL("libpulse-simple.so.0")' >/dev/null 2>&1 || missing+=(libpulse0)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
[ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
exec .venv/bin/python slideshow.py "$@"
