#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster for medmaas's integration tests and print its URL.
#
#   scripts/postgres.sh [DATA_DIR] [PORT]     start (or reuse) a cluster; URL on the last line
#   scripts/postgres.sh stop [DATA_DIR]       stop it again
#
# Idempotent: an existing cluster in DATA_DIR is reused and a running one is left running.
# Installs Debian's postgresql only when initdb/pg_ctl are missing and it runs as root with
# apt-get. PostgreSQL refuses to run as root, so as root the cluster belongs to the 'postgres'
# user. It listens on 127.0.0.1 only; the password is fixed because the cluster is disposable.
#
#   export MEDMAAS_TEST_POSTGRES_URL="$(scripts/postgres.sh | tail -n1)"
#   pytest -m integration tests/integration/test_postgres.py
set -euo pipefail

PG_USER=medmaas
PG_PASSWORD=medmaas
PG_DB=medmaas_test

die() { echo "postgres.sh: $*" >&2; exit 1; }
log() { echo "postgres.sh: $*" >&2; }

ACTION=start
if [ "${1:-}" = "stop" ]; then ACTION=stop; shift; fi
DATA_DIR="${1:-/tmp/medmaas-pg}"
PORT="${2:-55432}"
case "$PORT" in ''|*[!0-9]*) die "port must be a number; got '$PORT'" ;; esac

find_bin() {
    # Debian keeps the server binaries outside PATH, one folder per major version.
    local found
    found="$(command -v "$1" 2>/dev/null || true)"
    if [ -z "$found" ]; then
        found="$(ls -1d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n1 || true)"
    fi
    echo "$found"
}

INITDB="$(find_bin initdb)"
PG_CTL="$(find_bin pg_ctl)"
if [ -z "$INITDB" ] || [ -z "$PG_CTL" ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing postgresql with apt-get"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 \
            || die "apt-get install postgresql failed"
        INITDB="$(find_bin initdb)"
        PG_CTL="$(find_bin pg_ctl)"
    fi
    [ -n "$INITDB" ] && [ -n "$PG_CTL" ] \
        || die "initdb/pg_ctl not found; install PostgreSQL (apt-get install postgresql) or run as root"
fi
BIN_DIR="$(dirname "$PG_CTL")"
PSQL="$BIN_DIR/psql"; [ -x "$PSQL" ] || PSQL="$(find_bin psql)"
CREATEDB="$BIN_DIR/createdb"; [ -x "$CREATEDB" ] || CREATEDB="$(find_bin createdb)"

RUN_AS=""
if [ "$(id -u)" -eq 0 ]; then
    RUN_AS=postgres
    id "$RUN_AS" >/dev/null 2>&1 || die "running as root needs a '$RUN_AS' user to own the cluster"
fi

as_owner() {
    if [ -z "$RUN_AS" ]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$RUN_AS" -- "$@"
    else
        su "$RUN_AS" -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
}

is_running() { as_owner "$PG_CTL" -D "$DATA_DIR" status >/dev/null 2>&1; }

if [ "$ACTION" = stop ]; then
    if [ -f "$DATA_DIR/PG_VERSION" ] && is_running; then
        as_owner "$PG_CTL" -D "$DATA_DIR" -m fast -w stop >&2
    else
        log "no cluster running in $DATA_DIR"
    fi
    exit 0
fi

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [ ! -f "$DATA_DIR/PG_VERSION" ]; then
    log "creating cluster in $DATA_DIR"
    mkdir -p "$DATA_DIR"
    [ -z "$(ls -A "$DATA_DIR")" ] || die "$DATA_DIR exists, is not empty and holds no cluster"
    [ -z "$RUN_AS" ] || chown "$RUN_AS" "$DATA_DIR"
    chmod 700 "$DATA_DIR"
    PWFILE="$(mktemp)"
    trap 'rm -f "$PWFILE"' EXIT
    echo "$PG_PASSWORD" >"$PWFILE"
    [ -z "$RUN_AS" ] || chown "$RUN_AS" "$PWFILE"
    as_owner "$INITDB" -D "$DATA_DIR" -U "$PG_USER" --pwfile="$PWFILE" -E UTF8 --no-locale \
        --auth-local=trust --auth-host=scram-sha-256 >&2 || die "initdb failed"
fi

if is_running; then
    PORT="$(sed -n 4p "$DATA_DIR/postmaster.pid")"
    log "cluster in $DATA_DIR already running on port $PORT"
else
    tries=0
    while port_in_use "$PORT"; do
        tries=$((tries + 1))
        [ "$tries" -lt 50 ] || die "no free port found from $((PORT - tries + 1)) upwards"
        PORT=$((PORT + 1))
    done
    log "starting on 127.0.0.1:$PORT"
    as_owner "$PG_CTL" -D "$DATA_DIR" -l "$DATA_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA_DIR" start >&2 \
        || die "server did not start; see $DATA_DIR/server.log"
fi

exists="$(as_owner "$PSQL" -h "$DATA_DIR" -p "$PORT" -U "$PG_USER" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" || die "cannot connect to the server"
if [ "$exists" != "1" ]; then
    as_owner "$CREATEDB" -h "$DATA_DIR" -p "$PORT" -U "$PG_USER" "$PG_DB" || die "createdb failed"
fi

echo "postgresql+psycopg://$PG_USER:$PG_PASSWORD@127.0.0.1:$PORT/$PG_DB"
