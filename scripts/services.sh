#!/usr/bin/env bash
# Make sure the services the tests need are up; start them when they are not; say what is missing.
set -euo pipefail

PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}

pg_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; }

if ! command -v pg_isready >/dev/null; then
    echo "missing: PostgreSQL client tools (pg_isready); install PostgreSQL 15 (apt-get install postgresql)" >&2
    exit 1
fi
if ! pg_ready; then
    echo "PostgreSQL is not answering at $PG_HOST:$PG_PORT; starting it"
    if command -v pg_ctlcluster >/dev/null; then
        for version in $(ls /etc/postgresql 2>/dev/null); do
            pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
        done
    fi
    for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
    if ! pg_ready; then
        echo "missing: PostgreSQL at $PG_HOST:$PG_PORT (trust auth for user postgres); start it" \
             "or point TOOLKIT_TEST_POSTGRES_ADMIN_URL at one" >&2
        exit 1
    fi
fi
echo "PostgreSQL: ready at $PG_HOST:$PG_PORT"
