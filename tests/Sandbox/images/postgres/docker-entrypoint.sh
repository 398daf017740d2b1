#!/bin/sh
# PostgreSQL entrypoint for the sandbox: initdb on first start, then run as the postgres user.
set -eu
if [ "${1:-}" != "postgres" ]; then exec "$@"; fi
shift
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
PGPORT="${PGPORT:-55432}"
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres /run/postgresql
if [ "$(stat -c %U "$PGDATA")" != postgres ]; then chown -R postgres:postgres "$PGDATA"; fi
chmod 700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "ERROR POSTGRES_PASSWORD must be set to initialize the database" >&2
    exit 1
  fi
  pwfile="$(mktemp)"
  printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"
  chown postgres "$pwfile"
  echo "initializing database cluster in $PGDATA for user $POSTGRES_USER"
  as_postgres initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 > /tmp/initdb.log 2>&1 || { cat /tmp/initdb.log >&2; exit 1; }
  rm -f "$pwfile"
  as_postgres pg_ctl -D "$PGDATA" -w -s \
    -o "-c listen_addresses='' -c unix_socket_directories=/run/postgresql -p $PGPORT" start
  if [ "$POSTGRES_DB" != postgres ]; then
    echo 'CREATE DATABASE :"db";' | as_postgres psql -q -v ON_ERROR_STOP=1 -v db="$POSTGRES_DB" \
      -h /run/postgresql -p "$PGPORT" -U "$POSTGRES_USER" -d postgres
  fi
  as_postgres pg_ctl -D "$PGDATA" -w -s -m fast stop
  echo "database $POSTGRES_DB created"
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" \
  -c listen_addresses=127.0.0.1 -c port="$PGPORT" -c unix_socket_directories=/run/postgresql "$@"
