#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the dashboard's browser tests, and print its path.
#
#   scripts/browser.sh          install it when /usr/bin/chromium is missing (root with apt-get)
#
# Playwright drives this Chromium (executable_path), so no browser is downloaded by Playwright.
# When it cannot be installed the browser tests skip and say why; nothing else depends on it.
set -euo pipefail
CHROMIUM=/usr/bin/chromium
log() { echo "browser.sh: $*" >&2; }

if [ ! -x "$CHROMIUM" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "installing Debian's chromium (once)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null || log "apt-get update failed; trying the install anyway"
        apt-get install -y -qq --no-install-recommends chromium >/dev/null
    else
        log "$CHROMIUM is missing and cannot be installed here (needs root and apt-get)"
        exit 1
    fi
fi
echo "$CHROMIUM"
