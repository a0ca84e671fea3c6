#!/usr/bin/env bash
# The test command: start a throwaway PostgreSQL on loopback (installing Debian's package if
# needed), run pytest against SQLite and PostgreSQL, stop the server. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PGDIR="${MEDMAAS_TEST_PGDIR:-/tmp/medmaas-pg-$$}"

cleanup() { ./scripts/postgres.sh stop "$PGDIR" >/dev/null 2>&1 || true; rm -rf "$PGDIR"; }
if url=$(./scripts/postgres.sh "$PGDIR" 2>/tmp/medmaas-pg.log | tail -n 1) && [[ "$url" == postgresql* ]]; then
  export MEDMAAS_TEST_POSTGRES_URL="$url"
  trap cleanup EXIT
  echo "PostgreSQL for tests: ${url%%@*}@... (loopback)"
else
  echo "PostgreSQL could not be started (see /tmp/medmaas-pg.log); its tests will be skipped"
fi

# The dashboard's browser tests need Debian's Chromium; without it they skip and say why.
if ./scripts/browser.sh >/dev/null 2>/tmp/medmaas-browser.log; then
  export MEDMAAS_TEST_CHROMIUM=/usr/bin/chromium
else
  echo "Chromium could not be installed (see /tmp/medmaas-browser.log); the browser tests will be skipped"
fi

args=("$@")
if [[ ${#args[@]} -eq 0 ]]; then args=(-m "not slow"); fi
# Not exec: the EXIT trap must still run to stop the PostgreSQL server.
"$BIN/python" -m pytest "${args[@]}"
