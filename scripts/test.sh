#!/usr/bin/env bash
# Installs everything the tests need on Debian/Ubuntu (Debian's chromium, firefox-esr,
# webkit2gtk-driver, xvfb, sway and pulseaudio, GStreamer's RTSP server, Node for the Firefox driver, a virtualenv with the pip packages)
# and runs the whole suite: lint, format, types, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/apt.sh
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
command -v xsetroot >/dev/null 2>&1 || missing+=(x11-xserver-utils)
command -v sway >/dev/null 2>&1 || missing+=(sway)
command -v swaybg >/dev/null 2>&1 || missing+=(swaybg)
command -v grim >/dev/null 2>&1 || missing+=(grim)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
command -v firefox-esr >/dev/null 2>&1 || missing+=(firefox-esr)
command -v WebKitWebDriver >/dev/null 2>&1 || missing+=(webkit2gtk-driver)
command -v pulseaudio >/dev/null 2>&1 || missing+=(pulseaudio)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
# A real RTSP server for the live-source tests: GStreamer's, run by the system's python3.
/usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0")' >/dev/null 2>&1 \
  || missing+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good)
[ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-test.txt
# The package itself, editable, so bench/ and other scripts import it from anywhere.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
# Firefox is driven by the npm package puppeteer-core (over WebDriver BiDi: no browser download).
[ -d tests/engines/node_modules/puppeteer-core ] || npm ci --prefix tests/engines --no-audit --no-fund --loglevel=error
# The suite checks that this set-up works as the README says, without running itself again.
[ -z "${FRAMECAST_SETUP_ONLY:-}" ] || exit 0

echo "== ruff check"; .venv/bin/ruff check .
echo "== ruff format --check"; .venv/bin/ruff format --check .
echo "== mypy"; .venv/bin/mypy framecast
echo "== pytest"
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here"
  exit 1
fi
exit "$status"
