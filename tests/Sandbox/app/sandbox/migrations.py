"""Schema and data migrations, one or more per released version, and the `upgrade` command.

Every applied migration is a row of schema_migrations (version, description, kind,
min_app_version, applied_by, applied_at, duration_ms). min_app_version is the oldest application
version that may run on a schema that includes the migration: 1.7.6's is 1.7.5, so 1.7.5 servers
keep working while 1.7.6's migration is applied (mixed-version safe); every other migration needs
its own version.
"""
import hashlib
import hmac
import time

import psycopg2

from . import (VERSION, parse_version, info, error,
               EXIT_OK, EXIT_FAILURE, EXIT_SCHEMA_OLDER, EXIT_SCHEMA_NEWER)

LOCK_ID = 5_800_000_001  # pg_advisory_lock key: one upgrade at a time


class Migration:
    def __init__(self, version, description, min_app_version, apply=None, data=None, withdrawn=False):
        self.version = version
        self.description = description
        self.min_app_version = min_app_version
        self.apply = apply          # fn(cursor, cfg): runs inside one transaction
        self.data = data            # fn(conn, cfg): batched data rewrite, commits per batch
        self.withdrawn = withdrawn  # only the withdrawn release itself runs it

    @property
    def kind(self):
        return "data" if self.data else "schema"

    @property
    def mixed_version_safe(self):
        return parse_version(self.min_app_version) < parse_version(self.version)


def _m_1_6_4(cur, cfg):
    cur.execute("""
        CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL);
        INSERT INTO settings (key, value) VALUES ('deployment_id', gen_random_uuid()::text);
        CREATE TABLE artifacts (
            id serial PRIMARY KEY,
            name text NOT NULL UNIQUE,
            definition text NOT NULL DEFAULT '',
            status text NOT NULL DEFAULT 'pending',
            checksum text,
            storage_id text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE repositories (
            id serial PRIMARY KEY,
            name text NOT NULL UNIQUE,
            location text NOT NULL,
            sync_status text NOT NULL DEFAULT 'syncing',
            commit text,
            last_error text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE jobs (
            id bigserial PRIMARY KEY,
            kind text NOT NULL,
            target text NOT NULL,
            status text NOT NULL DEFAULT 'pending',
            worker text,
            error text,
            created_at timestamptz NOT NULL DEFAULT now(),
            started_at timestamptz,
            finished_at timestamptz);
        CREATE INDEX jobs_pending ON jobs (id) WHERE status = 'pending';
        CREATE TABLE bulk_records (
            id bigserial PRIMARY KEY,
            payload text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now());
    """)


def _m_1_7_5(cur, cfg):
    cur.execute("""
        ALTER TABLE repositories ADD COLUMN default_branch text NOT NULL DEFAULT 'main';
        CREATE INDEX artifacts_status ON artifacts (status);
    """)


def _m_1_7_6(cur, cfg):
    # Additive only: 1.7.x servers that do not know the column keep working.
    cur.execute("""
        ALTER TABLE artifacts ADD COLUMN size_bytes bigint;
        CREATE INDEX jobs_target ON jobs (kind, target);
    """)


def _m_1_7_7(cur, cfg):
    cur.execute("ALTER TABLE artifacts ADD COLUMN labels jsonb NOT NULL DEFAULT '{}'::jsonb")
    cur.execute("UPDATE artifacts SET labels = jsonb_build_object('migrated', true) WHERE id % 2 = 0")
    info("migration 1.7.7: labelled %d of the artifacts" % cur.rowcount)
    # The bug that got 1.7.7 withdrawn: this column only exists from 1.8.0 on.
    cur.execute("UPDATE artifacts SET checksum_algorithm = 'sha256' WHERE checksum IS NOT NULL")


def _m_1_8_0_schema(cur, cfg):
    cur.execute("""
        ALTER TABLE artifacts ADD COLUMN IF NOT EXISTS checksum_algorithm text;
        ALTER TABLE bulk_records ADD COLUMN IF NOT EXISTS format_version integer NOT NULL DEFAULT 1;
        ALTER TABLE bulk_records ADD COLUMN IF NOT EXISTS payload_checksum text;
    """)


def _batched(conn, cfg, label, table, statement):
    """Run `statement` (with %(first)s, %(last)s id bounds) over the table in batches, committing
    each batch and logging progress: 'migrating artifacts: 5000/20000 (25%)'."""
    with conn.cursor() as cur:
        cur.execute("SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0) FROM %s" % table)
        total, low, high = cur.fetchone()
    conn.commit()
    if total == 0:
        info("migrating %s: 0/0 (100%%)" % label)
        return
    done = 0
    start = low
    while start <= high:
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM %s WHERE id >= %%s ORDER BY id OFFSET %%s LIMIT 1" % table,
                        (start, cfg.batch_size))
            row = cur.fetchone()
            stop = row[0] if row else high + 1
            cur.execute(statement, {"first": start, "last": stop})
            done += cur.rowcount
        conn.commit()
        info("migrating %s: %d/%d (%d%%)" % (label, done, total, done * 100 // total))
        start = stop
        if cfg.batch_delay_ms:
            time.sleep(cfg.batch_delay_ms / 1000.0)


def _m_1_8_0_data(conn, cfg):
    _batched(conn, cfg, "artifacts", "artifacts",
             "UPDATE artifacts SET checksum_algorithm = CASE WHEN checksum IS NULL THEN NULL ELSE 'sha256' END, "
             "storage_id = coalesce(storage_id, 'artifacts/' || name || '.txt') "
             "WHERE id >= %(first)s AND id < %(last)s")
    _batched(conn, cfg, "bulk records", "bulk_records",
             "UPDATE bulk_records SET format_version = 2, "
             "payload_checksum = encode(sha256(convert_to(payload, 'UTF8')), 'hex') "
             "WHERE id >= %(first)s AND id < %(last)s")


def sign(key, name, checksum):
    return hmac.new(key.encode("utf-8"), ("%s:%s" % (name, checksum)).encode("utf-8"),
                    hashlib.sha256).hexdigest()


def _m_2_0_0(cur, cfg):
    cur.execute("""
        ALTER TABLE artifacts ADD COLUMN signature text;
        ALTER TABLE repositories RENAME COLUMN default_branch TO ref;
    """)
    cur.execute("SELECT id, name, checksum FROM artifacts WHERE checksum IS NOT NULL")
    rows = cur.fetchall()
    for artifact_id, name, checksum in rows:
        cur.execute("UPDATE artifacts SET signature = %s WHERE id = %s",
                    (sign(cfg.signing_key, name, checksum), artifact_id))
    info("migration 2.0.0: signed %d artifacts" % len(rows))


MIGRATIONS = [
    Migration("1.6.4", "create settings, artifacts, repositories, jobs and bulk_records", "1.6.4", _m_1_6_4),
    Migration("1.7.5", "add repositories.default_branch and an index on artifacts.status", "1.7.5", _m_1_7_5),
    Migration("1.7.6", "add artifacts.size_bytes and an index on jobs", "1.7.5", _m_1_7_6),
    Migration("1.7.7", "label artifacts (broken: fails and is rolled back)", "1.7.7", _m_1_7_7, withdrawn=True),
    Migration("1.8.0", "record the checksum algorithm of every artifact and rewrite every bulk record",
              "1.8.0", _m_1_8_0_schema, data=_m_1_8_0_data),
    Migration("2.0.0", "sign artifacts, rename repositories.default_branch to ref", "2.0.0", _m_2_0_0),
]


def migrations_for(version):
    """The migrations a given application version applies, in order."""
    own = parse_version(version)
    return [m for m in MIGRATIONS
            if parse_version(m.version) <= own and (not m.withdrawn or m.version == version)]


def _ensure_table(conn):
    with conn.cursor() as cur:
        cur.execute("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version text PRIMARY KEY,
                description text NOT NULL,
                kind text NOT NULL,
                min_app_version text NOT NULL,
                applied_by text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                duration_ms integer NOT NULL DEFAULT 0)
        """)
    conn.commit()


def _record(cur, migration, started):
    cur.execute("INSERT INTO schema_migrations (version, description, kind, min_app_version, applied_by, duration_ms) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (migration.version, migration.description, migration.kind, migration.min_app_version,
                 VERSION, int((time.monotonic() - started) * 1000)))


def _apply(conn, cfg, migration, current):
    info("applying migration %s (%s%s): %s" % (
        migration.version, migration.kind, ", mixed-version safe" if migration.mixed_version_safe else "",
        migration.description))
    started = time.monotonic()
    try:
        with conn.cursor() as cur:
            cur.execute("SET LOCAL statement_timeout = 0")
            migration.apply(cur, cfg)
            if not migration.data:
                _record(cur, migration, started)
        conn.commit()
        if migration.data:
            migration.data(conn, cfg)
            with conn.cursor() as cur:
                _record(cur, migration, started)
            conn.commit()
    except psycopg2.Error as exc:
        conn.rollback()
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        error("migration %s failed: %s" % (migration.version, first))
        error("the migration's transaction was rolled back: the database schema is still at %s"
              % (current or "(empty)"))
        return False
    info("migration %s applied in %.2fs" % (migration.version, time.monotonic() - started))
    return True


def run(cfg, check=False):
    """`sandbox upgrade [--check]`: exit 0 done/nothing pending, 2 pending (--check), 1 failed, 4 newer."""
    from .db import connect_or_exit, schema_state
    cfg.require()
    conn = connect_or_exit(cfg, "upgrade")
    try:
        if not check:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_ID,))
                if not cur.fetchone()[0]:
                    info("another upgrade is running: waiting for it to finish")
                    cur.execute("SELECT pg_advisory_lock(%s)", (LOCK_ID,))
            conn.commit()
            _ensure_table(conn)
        state = schema_state(conn)
        current = state.current
        if state.incompatible:
            error("database schema %s is newer than this version %s: downgrades are not supported"
                  % (current, VERSION))
            return EXIT_SCHEMA_NEWER
        if not state.pending:
            info("database schema is at %s: no migrations pending for %s" % (current, VERSION))
            return EXIT_OK
        if check:
            info("database schema is at %s: %d migration(s) pending for %s"
                 % (current or "(empty)", len(state.pending), VERSION))
            for m in state.pending:
                info("pending migration %s (%s%s): %s" % (
                    m.version, m.kind, ", mixed-version safe" if m.mixed_version_safe else "", m.description))
            return EXIT_SCHEMA_OLDER
        info("upgrading database schema from %s to %s" % (current or "(empty)", VERSION))
        for migration in state.pending:
            if not _apply(conn, cfg, migration, current):
                return EXIT_FAILURE
            current = migration.version
        info("database schema is now at %s" % current)
        return EXIT_OK
    finally:
        conn.close()
