#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/browser: Playwright for Python drives it; Playwright's own
# browser download is never used). Installed with apt-get when missing and we are root (as on CI).
# Where it cannot be installed: a failure on CI (CI=true), a notice elsewhere (the browser tier is then skipped).
set -euo pipefail
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0
fail() {
  if [ "${CI:-}" = "true" ]; then
    echo "error: $1 (CI needs Chromium for the browser tests)" >&2
    exit 1
  fi
  echo "notice: $1; the browser tests will be skipped" >&2
  exit 0
}
command -v apt-get >/dev/null 2>&1 || fail "$CHROMIUM is missing and there is no apt-get to install Debian's chromium"
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    fail "$CHROMIUM is missing and installing Debian's chromium needs root (apt-get install chromium)"
  fi
fi
echo "installing Debian's chromium (apt-get) for the browser tests"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || fail "apt-get update failed"
$SUDO apt-get install -y -qq chromium >/dev/null || fail "apt-get install chromium failed"
[ -x "$CHROMIUM" ] || fail "apt-get installed chromium but $CHROMIUM is not there"
echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo installed)"
