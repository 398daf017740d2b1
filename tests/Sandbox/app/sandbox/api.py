"""The GraphQL schema and resolvers (artifacts, repositories, jobs) on top of PostgreSQL + Redis."""
import re
import threading
from contextlib import contextmanager

import psycopg2
import psycopg2.extras
import psycopg2.pool
import redis

from . import VERSION, has, warn
from .graphql import Schema, GraphQLError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
JOB_QUEUE = "sandbox:jobs"
DEPLOYMENT_KEY = "sandbox:deployment_id"


def artifact_columns():
    cols = ["id", "name", "definition", "status", "checksum", "storage_id", "updated_at"]
    if has("artifact_size"):
        cols.append("size_bytes")
    if has("checksum_algorithm"):
        cols.append("checksum_algorithm")
    if has("signature"):
        cols.append("signature")
    return cols


def repository_columns():
    cols = ["id", "name", "location", "sync_status", "commit", "last_error", "updated_at"]
    if has("signature"):
        cols.append("ref AS branch")
    elif has("repository_branch"):
        cols.append("default_branch AS branch")
    return cols


def _plain(row):
    out = dict(row)
    for key, value in out.items():
        if hasattr(value, "isoformat"):
            out[key] = value.isoformat()
    return out


class Backend:
    """Connection pool + Redis client shared by the HTTP handler threads."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.pool = psycopg2.pool.ThreadedConnectionPool(
            1, 10, host=cfg.db_address, port=cfg.db_port, dbname=cfg.db_name, user=cfg.db_user,
            password=cfg.db_password, connect_timeout=3, application_name="sandbox-server-%s" % VERSION)
        self.slots = threading.BoundedSemaphore(10)
        self.redis = redis.Redis(host=cfg.cache_address, port=cfg.cache_port, db=cfg.cache_database,
                                 socket_timeout=1, socket_connect_timeout=1)

    @contextmanager
    def db(self):
        self.slots.acquire()
        conn, broken = None, False
        try:
            conn = self.pool.getconn()
            yield conn
            conn.commit()
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            broken = True
            raise
        except Exception:
            if conn is not None and not conn.closed:
                try:
                    conn.rollback()
                except psycopg2.Error:
                    broken = True
            raise
        finally:
            if conn is not None:
                self.pool.putconn(conn, close=broken or bool(conn.closed))
            self.slots.release()

    def query(self, sql, params=None, retry=True):
        try:
            with self.db() as conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                cur.execute(sql, params)
                return [_plain(r) for r in cur.fetchall()] if cur.description else []
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            if not retry:
                raise
            return self.query(sql, params, retry=False)  # a pooled connection may predate a restart

    def notify_workers(self, count=1):
        try:
            pipe = self.redis.pipeline()
            for _ in range(min(count, 50)):
                pipe.lpush(JOB_QUEUE, "job")
            pipe.ltrim(JOB_QUEUE, 0, 999)
            pipe.execute()
        except redis.RedisError as exc:
            warn("cannot notify workers through the cache (%s): they will poll" % exc)

    def deployment_id(self):
        try:
            cached = self.redis.get(DEPLOYMENT_KEY)
            if cached:
                return cached.decode("utf-8")
        except redis.RedisError:
            cached = None
        rows = self.query("SELECT value FROM settings WHERE key = 'deployment_id'")
        value = rows[0]["value"] if rows else None
        if value:
            try:
                self.redis.set(DEPLOYMENT_KEY, value, ex=300)
            except redis.RedisError:
                pass
        return value

    def check_database(self):
        self.query("SELECT 1 AS ok")

    def check_cache(self):
        if not self.redis.ping():
            raise redis.RedisError("no PONG")


# ---- resolvers ---------------------------------------------------------------------------------

def _valid_name(name, what):
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise GraphQLError("invalid %s name %r: use letters, digits, '.', '_' and '-'" % (what, name))
    return name


def r_info(backend):
    return {"version": VERSION, "deployment_id": backend.deployment_id()}


def r_artifacts(backend, name=None, status=None, limit=None):
    where, params = [], []
    if name is not None:
        where.append("name = %s")
        params.append(name)
    if status is not None:
        where.append("status = %s")
        params.append(status)
    sql = "SELECT %s FROM artifacts" % ", ".join(artifact_columns())
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY name"
    if limit is not None:
        sql += " LIMIT %d" % max(0, int(limit))
    return backend.query(sql, params)


def r_artifact_summary(backend):
    row = backend.query("SELECT count(*) AS total, "
                        "count(*) FILTER (WHERE status = 'pending') AS pending, "
                        "count(*) FILTER (WHERE status = 'ready') AS ready, "
                        "count(*) FILTER (WHERE status = 'error') AS error FROM artifacts")[0]
    return row


def r_job_summary(backend):
    row = backend.query("SELECT count(*) FILTER (WHERE status = 'pending') AS pending, "
                        "count(*) FILTER (WHERE status = 'running') AS running, "
                        "count(*) FILTER (WHERE status = 'done') AS done, "
                        "count(*) FILTER (WHERE status = 'failed') AS failed FROM jobs")[0]
    return row


def r_repositories(backend, name=None):
    sql = "SELECT %s FROM repositories" % ", ".join(repository_columns())
    params = []
    if name is not None:
        sql += " WHERE name = %s"
        params.append(name)
    return backend.query(sql + " ORDER BY name", params)


_ENQUEUE = ("INSERT INTO jobs (kind, target) SELECT %(kind)s, %(target)s WHERE NOT EXISTS "
            "(SELECT 1 FROM jobs WHERE kind = %(kind)s AND target = %(target)s AND status = 'pending')")


def r_artifact_generate(backend, name, definition=None):
    _valid_name(name, "artifact")
    if definition is not None and not isinstance(definition, str):
        raise GraphQLError("definition must be a string")
    # The artifact as this request left it (pending): read back after the workers are told, a fast worker has already
    # made it ready, and a caller could not tell that its request was taken.
    artifact = backend.query(
        "INSERT INTO artifacts (name, definition, status) VALUES (%(name)s, coalesce(%(definition)s, ''), 'pending') "
        "ON CONFLICT (name) DO UPDATE SET status = 'pending', updated_at = now(), "
        "definition = coalesce(%(definition)s, artifacts.definition) RETURNING " + ", ".join(artifact_columns()),
        {"name": name, "definition": definition})[0]
    backend.query(_ENQUEUE + " RETURNING id", {"kind": "artifact", "target": name})
    backend.notify_workers()
    return artifact


def r_artifact_regenerate_all(backend):
    rows = backend.query(
        "WITH marked AS (UPDATE artifacts SET status = 'pending', updated_at = now() RETURNING name) "
        "INSERT INTO jobs (kind, target) SELECT 'artifact', m.name FROM marked m WHERE NOT EXISTS "
        "(SELECT 1 FROM jobs j WHERE j.kind = 'artifact' AND j.target = m.name AND j.status = 'pending') "
        "RETURNING id")
    backend.notify_workers(len(rows))
    return {"count": len(r_artifacts(backend, status="pending"))}


def r_repository_create(backend, name, location, branch=None):
    _valid_name(name, "repository")
    if not isinstance(location, str) or not location:
        raise GraphQLError("location must be a non-empty string")
    if backend.query("SELECT id FROM repositories WHERE name = %s", [name]):
        raise GraphQLError("repository %r already exists" % name)
    if has("signature"):
        backend.query("INSERT INTO repositories (name, location, ref) VALUES (%s, %s, %s)",
                      [name, location, branch or "main"])
    elif has("repository_branch"):
        backend.query("INSERT INTO repositories (name, location, default_branch) VALUES (%s, %s, %s)",
                      [name, location, branch or "main"])
    else:
        backend.query("INSERT INTO repositories (name, location) VALUES (%s, %s)", [name, location])
    backend.query(_ENQUEUE + " RETURNING id", {"kind": "repository-sync", "target": name})
    backend.notify_workers()
    return r_repositories(backend, name=name)[0]


def r_repository_sync(backend, name):
    rows = backend.query("UPDATE repositories SET sync_status = 'syncing', updated_at = now() "
                         "WHERE name = %s RETURNING id", [name])
    if not rows:
        raise GraphQLError("repository %r does not exist" % name)
    backend.query(_ENQUEUE + " RETURNING id", {"kind": "repository-sync", "target": name})
    backend.notify_workers()
    return r_repositories(backend, name=name)[0]


def build_schema():
    artifact = {"id": "Int", "name": "String", "definition": "String", "status": "String",
                "checksum": "String", "storage_id": "String", "updated_at": "String"}
    if has("artifact_size"):
        artifact["size_bytes"] = "Int"
    if has("checksum_algorithm"):
        artifact["checksum_algorithm"] = "String"
    if has("signature"):
        artifact["signature"] = "String"
    repository = {"id": "Int", "name": "String", "location": "String", "sync_status": "String",
                  "commit": "String", "last_error": "String", "updated_at": "String"}
    create_args = {"name!", "location!"}
    if has("repository_branch"):
        repository["branch"] = "String"
        create_args.add("branch")
    types = {
        "InfrahubInfo": {"version": "String", "deployment_id": "String"},
        "Artifact": artifact,
        "Repository": repository,
        "ArtifactSummary": {"total": "Int", "pending": "Int", "ready": "Int", "error": "Int"},
        "JobSummary": {"pending": "Int", "running": "Int", "done": "Int", "failed": "Int"},
        "Regeneration": {"count": "Int"},
    }
    roots = {
        "query": {
            "InfrahubInfo": ("InfrahubInfo", set(), r_info),
            "Artifacts": ("[Artifact]", {"name", "status", "limit"}, r_artifacts),
            "ArtifactSummary": ("ArtifactSummary", set(), r_artifact_summary),
            "Repositories": ("[Repository]", {"name"}, r_repositories),
            "JobSummary": ("JobSummary", set(), r_job_summary),
        },
        "mutation": {
            "ArtifactGenerate": ("Artifact", {"name!", "definition"}, r_artifact_generate),
            "ArtifactRegenerateAll": ("Regeneration", set(), r_artifact_regenerate_all),
            "RepositoryCreate": ("Repository", create_args, r_repository_create),
            "RepositorySync": ("Repository", {"name!"}, r_repository_sync),
        },
    }
    return Schema(types, roots)
