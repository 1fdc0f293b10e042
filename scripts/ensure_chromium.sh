#!/usr/bin/env bash
# Make sure Debian's headless-capable Chromium is installed at /usr/bin/chromium.
#
# Used by tests/test_report_browser.py (the report's browser test) and by CI set-up.
# Exit status: 0 when /usr/bin/chromium is present (already or after installing it);
# non-zero, with the reason on stderr, when it is missing and cannot be installed here.
set -euo pipefail

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
    echo "chromium present: $CHROMIUM"
    exit 0
fi

if [ "$(id -u)" != "0" ]; then
    echo "ensure_chromium: $CHROMIUM is missing and this is not root, so it cannot be" \
         "installed here; run 'sudo apt-get install -y chromium' (Debian/Ubuntu) first." >&2
    exit 2
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: $CHROMIUM is missing and apt-get is not available on this" \
         "system; install Debian's 'chromium' package by other means." >&2
    exit 3
fi

echo "ensure_chromium: installing Debian's chromium package with apt-get ..." >&2
export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o Acquire::Retries=1 -o Acquire::http::Timeout=30 -o Acquire::https::Timeout=30)
if ! apt-get "${APT_OPTS[@]}" update -qq >&2; then
    echo "ensure_chromium: 'apt-get update' failed (no network or no package mirror?)." >&2
    exit 4
fi
if ! apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends chromium >&2; then
    echo "ensure_chromium: 'apt-get install chromium' failed; see the apt output above." >&2
    exit 5
fi

if [ ! -x "$CHROMIUM" ]; then
    echo "ensure_chromium: chromium was installed but $CHROMIUM is still missing." >&2
    exit 6
fi
echo "chromium installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
