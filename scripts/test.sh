#!/usr/bin/env bash
# Install everything the test suite needs, then run it. This is the README's test command and
# what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check -r requirements.txt -r requirements-test.txt
if [ ! -x /usr/bin/chromium ]; then
  # Debian's Chromium drives the end-to-end tests (Playwright never downloads a browser here).
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q && $SUDO apt-get install -y -q chromium
fi
exec python3 -m pytest "$@"
