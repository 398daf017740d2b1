"""sandbox ROLE [options]: the command line of the sandbox image (see tests/Sandbox/README.md).

  sandbox server              the HTTP API (APP_BIND:APP_PORT)
  sandbox worker              background jobs: artifact generation, Git repository sync
  sandbox upgrade [--check]   apply the schema migrations up to this version (--check: list them)
  sandbox seed --bulk-rows N  add N rows to bulk_records (test data for the data migration)
  sandbox migrations          list this version's migrations and whether each is applied
  sandbox healthcheck         the container healthcheck for the role running in the container
  sandbox version             print the version
"""
import os
import sys
import time
import urllib.request

from . import VERSION, RELEASES, info, error, EXIT_OK, EXIT_FAILURE

USAGE = __doc__


def healthcheck():
    """Stdlib only (runs every few seconds): server -> GET /health, worker -> recent heartbeat."""
    try:
        with open("/tmp/sandbox-role", encoding="utf-8") as handle:
            role = handle.read().split()
    except OSError:
        print("no role started yet")
        return 1 if os.environ.get("SANDBOX_HEALTHCHECK_STRICT") else 0
    if role and role[0] == "server":
        port = role[1] if len(role) > 1 else os.environ.get("APP_PORT", "58001")
        try:
            with urllib.request.urlopen("http://127.0.0.1:%s/health" % port, timeout=3) as response:
                print(response.read().decode("utf-8").strip())
                return 0 if response.status == 200 else 1
        except Exception as exc:  # noqa: BLE001 - any failure is unhealthy
            print("unhealthy: %s" % exc)
            return 1
    if role and role[0] == "worker":
        try:
            age = time.time() - os.stat("/tmp/sandbox-worker.heartbeat").st_mtime
        except OSError:
            print("no heartbeat yet")
            return 1
        print("heartbeat %.0fs ago" % age)
        return 0 if age < 30 else 1
    return 0


def seed(args):
    from .config import Config
    from .db import connect_or_exit, check_schema_or_exit
    from . import has
    rows = 0
    if "--bulk-rows" in args:
        rows = int(args[args.index("--bulk-rows") + 1])
    cfg = Config()
    cfg.require()
    conn = connect_or_exit(cfg, "seed")
    check_schema_or_exit(conn, "seed")
    started = time.monotonic()
    done = 0
    with conn.cursor() as cur:
        while done < rows:
            batch = min(100000, rows - done)
            if has("checksum_algorithm"):
                cur.execute("INSERT INTO bulk_records (payload, format_version, payload_checksum) "
                            "SELECT p, 2, encode(sha256(convert_to(p, 'UTF8')), 'hex') FROM "
                            "(SELECT 'record-' || i || '-' || md5(i::text) AS p FROM generate_series(%s, %s) AS i) s",
                            (done + 1, done + batch))
            else:
                cur.execute("INSERT INTO bulk_records (payload) SELECT 'record-' || i || '-' || md5(i::text) "
                            "FROM generate_series(%s, %s) AS i", (done + 1, done + batch))
            conn.commit()
            done += batch
        cur.execute("SELECT count(*) FROM bulk_records")
        total = cur.fetchone()[0]
    conn.commit()
    conn.close()
    info("seeded %d bulk records in %.1fs (%d in total)" % (rows, time.monotonic() - started, total))
    return EXIT_OK


def list_migrations():
    from .config import Config
    from .db import connect_or_exit, applied_migrations
    from .migrations import migrations_for
    cfg = Config()
    conn = connect_or_exit(cfg, "migrations")
    applied = {row["version"]: row for row in applied_migrations(conn)}
    conn.close()
    for m in migrations_for(VERSION):
        row = applied.get(m.version)
        state = "applied %s by %s" % (row["applied_at"].isoformat(), row["applied_by"]) if row else "pending"
        print("%s %-6s %-8s %s" % (m.version, m.kind, state, m.description))
    for version in sorted(set(applied) - {m.version for m in migrations_for(VERSION)}):
        print("%s applied by a newer version (%s)" % (version, applied[version]["applied_by"]))
    return EXIT_OK


def main(argv):
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE.strip())
        return EXIT_OK if argv else EXIT_FAILURE
    role, args = argv[0], argv[1:]
    if role == "version":
        print(VERSION)
        return EXIT_OK
    if role == "healthcheck":
        return healthcheck()
    if VERSION not in RELEASES:
        info("sandbox version %s is not a known release" % VERSION)
    try:
        if role == "server":
            from .server import serve
            return serve()
        if role == "worker":
            from .worker import work
            return work()
        if role == "upgrade":
            from .config import Config
            from .migrations import run
            unknown = [a for a in args if a != "--check"]
            if unknown:
                error("unknown option %s for 'sandbox upgrade' (only --check)" % unknown[0])
                return EXIT_FAILURE
            return run(Config(), check="--check" in args)
        if role == "seed":
            return seed(args)
        if role == "migrations":
            return list_migrations()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001
        error("%s failed: %s: %s" % (role, type(exc).__name__, exc))
        return EXIT_FAILURE
    error("unknown role %r" % role)
    print(USAGE.strip())
    return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
