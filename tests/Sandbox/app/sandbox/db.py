"""PostgreSQL access: connection with retry, and the schema check every role does at start."""
import time

import psycopg2
import psycopg2.extras

from . import (VERSION, parse_version, info, warn, error,
               EXIT_FAILURE, EXIT_SCHEMA_OLDER, EXIT_SCHEMA_NEWER)


def connect(cfg, role, wait_seconds=None):
    """Connect to PostgreSQL, waiting up to wait_seconds while it starts (not on a bad password)."""
    wait_seconds = cfg.db_wait_seconds if wait_seconds is None else wait_seconds
    deadline = time.monotonic() + wait_seconds
    warned = False
    while True:
        try:
            conn = psycopg2.connect(
                host=cfg.db_address, port=cfg.db_port, dbname=cfg.db_name,
                user=cfg.db_user, password=cfg.db_password, connect_timeout=3,
                application_name="sandbox-%s-%s" % (role, VERSION))
            if warned:
                info("database %s:%s is reachable" % (cfg.db_address, cfg.db_port))
            return conn
        except psycopg2.OperationalError as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if "authentication failed" in message or "does not exist" in message:
                raise
            if time.monotonic() >= deadline:
                raise
            if not warned:
                warn("waiting for database %s:%s: %s" % (cfg.db_address, cfg.db_port, message))
                warned = True
            time.sleep(1)


def connect_or_exit(cfg, role):
    try:
        return connect(cfg, role)
    except psycopg2.Error as exc:
        error("cannot connect to database %s:%s/%s as %s: %s" % (
            cfg.db_address, cfg.db_port, cfg.db_name, cfg.db_user, str(exc).strip().splitlines()[0]))
        raise SystemExit(EXIT_FAILURE)


def applied_migrations(conn):
    """Rows of schema_migrations as dicts, oldest version first; [] on an empty database."""
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute("SELECT to_regclass('public.schema_migrations') IS NOT NULL AS present")
        if not cur.fetchone()["present"]:
            conn.rollback()
            return []
        cur.execute("SELECT version, description, kind, min_app_version, applied_by, applied_at, duration_ms "
                    "FROM schema_migrations")
        rows = list(cur.fetchall())
    conn.rollback()
    rows.sort(key=lambda r: parse_version(r["version"]))
    return rows


class SchemaState:
    def __init__(self, applied, pending, incompatible, newer):
        self.applied = applied
        self.pending = pending
        self.incompatible = incompatible
        self.newer = newer

    @property
    def current(self):
        return self.applied[-1]["version"] if self.applied else None


def schema_state(conn):
    from .migrations import migrations_for
    applied = applied_migrations(conn)
    done = {row["version"] for row in applied}
    pending = [m for m in migrations_for(VERSION) if m.version not in done]
    own = parse_version(VERSION)
    newer = [row for row in applied if parse_version(row["version"]) > own]
    incompatible = [row for row in newer if own < parse_version(row["min_app_version"] or row["version"])]
    return SchemaState(applied, pending, incompatible, newer)


def check_schema_or_exit(conn, role):
    """Servers and workers refuse to run on a schema older or (incompatibly) newer than theirs."""
    state = schema_state(conn)
    if state.incompatible:
        newest = state.incompatible[-1]
        error("database schema %s is newer than this version %s (it needs %s or later): "
              "downgrades are not supported; run %s or later, or restore the backup taken before the upgrade"
              % (state.current, VERSION, newest["min_app_version"], newest["min_app_version"]))
        raise SystemExit(EXIT_SCHEMA_NEWER)
    if state.pending:
        versions = ", ".join(m.version for m in state.pending)
        if state.current is None:
            error("database is not initialized (no schema): run the upgrade command "
                  "('sandbox upgrade') before starting the %s" % role)
        else:
            error("database schema %s is older than this version %s (pending migrations: %s): "
                  "run the upgrade command ('sandbox upgrade') before starting the %s"
                  % (state.current, VERSION, versions, role))
        raise SystemExit(EXIT_SCHEMA_OLDER)
    if state.newer:
        info("database schema %s is newer than %s but compatible with it" % (state.current, VERSION))
    else:
        info("database schema is at %s" % state.current)
    return state


def deployment_id(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT value FROM settings WHERE key = 'deployment_id'")
        row = cur.fetchone()
    return row[0] if row else None
