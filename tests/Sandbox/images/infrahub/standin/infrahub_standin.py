"""A stand-in for Infrahub 1.x and its Prefect task manager that answers what the built-in `infrahub` profile uses, with
Infrahub's own routes, GraphQL types and fields, commands and environment variables (see ../README.md for each source and
every difference from the real product).

One module, several commands (the wrappers in ../bin):
  infrahub server start       the API (infrahub-server) on 127.0.0.1:8000: /api/info, /api/config, /api/schema/summary,
                              /metrics, /graphql, POST /api/artifact/generate/{definition id}
  infrahub git-agent start    the task worker (task-worker): runs the task manager's pending flow runs (repository syncs,
                              artifact generation) against the graph and the git remote
  infrahub upgrade [--check]  the migration: records the version's migration in the graph
  prefect server start        the task manager's API on 127.0.0.1:4200 over its PostgreSQL (task-manager-db)
Objects live in the graph (the Neo4j stand-in's HTTP API, as INFRAHUB_DB_* say), tasks in the task manager's database, so
a backup of Infrahub's data stores holds all of them.
"""
import base64
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graphql import GraphQLError, Schema  # noqa: E402  (the sandbox app's GraphQL subset, copied in at build)

VERSION = open("/opt/infrahub-standin/VERSION").read().strip() if os.path.exists("/opt/infrahub-standin/VERSION") else "0.0.0"
API_PORT = 8000  # `infrahub server start --port` (backend/infrahub/cli/server.py; default 8000)
TASK_MANAGER_PORT = 4200  # `prefect server start --port` (Prefect's default 4200)
REMOTE = "/remote/infra.git"
# A version whose `infrahub upgrade` fails half-way, as a real failed migration does: it logs Infrahub's own message and
# exits 0 (backend/infrahub/cli/upgrade.py), having changed the graph. Tests use it for a broken upgrade.
BROKEN_MIGRATION = {"1.2.0"}


class QuietHTTPServer(ThreadingHTTPServer):
    """A client that goes away before its answer is written (a probe's timeout on a busy machine) is not an error of the
    server: gunicorn does not print a traceback for it, so neither does the stand-in (its logs are scanned for errors)."""
    daemon_threads = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def answer(handler, status, body, content_type="application/json"):
    """One HTTP answer with its length (keep-alive): bytes as they are, anything else as JSON (dates as text)."""
    data = body if isinstance(body, bytes) else json.dumps(body, default=str).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def log(component, text, level="INFO"):
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    print(f"{stamp} [{level:<7}] {component}: {text}", flush=True)


# ---- the graph (Neo4j's HTTP transaction API, as the Neo4j stand-in serves it) ---------------------------------------

def cypher(*statements):
    """Runs the statements in one transaction as INFRAHUB_DB_USERNAME/PASSWORD; returns each statement's rows."""
    address = os.environ.get("INFRAHUB_DB_ADDRESS", "127.0.0.1")
    port = os.environ.get("INFRAHUB_STANDIN_DB_HTTP_PORT", "7474")
    database = os.environ.get("INFRAHUB_DB_DATABASE") or "neo4j"
    body = json.dumps({"statements": [{"statement": s} for s in statements]}).encode()
    request = urllib.request.Request(f"http://{address}:{port}/db/{database}/tx/commit", data=body,
                                     headers={"Content-Type": "application/json"})
    user, password = os.environ.get("INFRAHUB_DB_USERNAME", "neo4j"), os.environ.get("INFRAHUB_DB_PASSWORD", "")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as e:
        raise OSError(f"Neo.ClientError.Security.Unauthorized: the database refused {user}" if e.code == 401 else f"database HTTP {e.code}")
    if answer["errors"]:
        raise OSError(f"{answer['errors'][0]['code']}: {answer['errors'][0]['message']}")
    return [[row["row"] for row in result["data"]] for result in answer["results"]]


def quote(value):
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def nodes(label, **match):
    props = ", ".join(f"{k}: {quote(v)}" for k, v in match.items())
    return [row[0] for row in cypher(f"MATCH (n:{label}{' {' + props + '}' if props else ''}) RETURN n")[0]]


def update(label, node_id, **values):
    assignments = ", ".join(f"n.{k} = {quote(v)}" for k, v in values.items())
    cypher(f"MATCH (n:{label} {{id: {quote(node_id)}}}) SET {assignments}")


def initialize_graph():
    """What Infrahub's first start does to an empty database (core/initialization.py): the root node with the graph's
    version and default branch; here also one repository and one artifact of a definition, as a user would have them."""
    if nodes("Root"):
        return
    branch = os.environ.get("INFRAHUB_INITIAL_DEFAULT_BRANCH", "main")
    repository, definition, artifact = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    cypher(f"CREATE (:Root {{id: 'root', deployment_id: {quote(uuid.uuid4())}, graph_version: {quote(VERSION)}, default_branch: {quote(branch)}}})",
           f"CREATE (:CoreRepository {{id: {quote(repository)}, name: 'infra', location: {quote(REMOTE)}, "
           f"default_branch: {quote(branch)}, sync_status: 'unknown', commit: ''}})",
           f"CREATE (:CoreArtifactDefinition {{id: {quote(definition)}, name: 'startup-config'}})",
           f"CREATE (:CoreArtifact {{id: {quote(artifact)}, name: 'device-001 startup-config', definition: {quote(definition)}, "
           f"status: 'Pending', checksum: ''}})",
           f"MATCH (a:CoreArtifact {{id: {quote(artifact)}}}), (d:CoreArtifactDefinition {{id: {quote(definition)}}}) "
           f"CREATE (a)-[:IS_RELATED]->(d)")
    log("infrahub.core.initialization", f"initialized the graph at version {VERSION}, default branch {branch}")


# ---- the task manager (Prefect's REST API subset: flow runs and their state) -----------------------------------------

def task_manager(path, body=None):
    address = os.environ.get("PREFECT_API_URL", f"http://127.0.0.1:{TASK_MANAGER_PORT}/api").rstrip("/")
    request = urllib.request.Request(address + path, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"}, method="POST" if body is not None else "GET")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def submit(name, parameters):
    return task_manager("/flow_runs/", {"name": name, "parameters": parameters, "state": {"type": "PENDING"}})["id"]


def count_tasks(states):
    return task_manager("/flow_runs/count", {"flow_runs": {"state": {"type": {"any_": list(states)}}}})


# ---- infrahub server start ----------------------------------------------------------------------------------------

def wait_for(name, host, port, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=2).close()
            log("infrahub.services", f"connected to {name} at {host}:{port}")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def attribute(value):
    return {"value": value}


def schema():
    def kind_query(label, extra=None):
        def resolve(context, ids=None, limit=None, **filters):
            found = [n for n in nodes(label) if ids is None or n["id"] in ids]
            if extra:
                found = [n for n in found if extra(n)]
            total = len(found)
            if limit is not None:
                found = found[:int(limit)]
            return {"count": total, "edges": [{"node": project(n)} for n in found]}
        return resolve

    def project(node):
        out = {"id": node["id"]}
        for key, value in node.items():
            if key == "definition":
                out[key] = {"node": {"id": value}}
            elif key != "id":
                out[key] = attribute(value)
        return out

    def generic_repositories(context, ids=None, limit=None):
        found = [n for n in nodes("CoreRepository") + nodes("CoreReadOnlyRepository") if ids is None or n["id"] in ids]
        return {"count": len(found), "edges": [{"node": project(n)} for n in found[:int(limit) if limit is not None else None]]}

    def tasks(context, state=None, limit=None):
        return {"count": count_tasks(state or ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"])}

    def repository_process(context, data):
        if not context["authenticated"]:
            raise GraphQLError("You must be authenticated to run this mutation (anonymous access is read-only)")
        repository = data.get("id") if isinstance(data, dict) else None
        if not nodes("CoreRepository", id=repository):
            raise GraphQLError(f"Unable to find the node {repository} / CoreRepository in the database.")
        update("CoreRepository", repository, sync_status="syncing")
        submit("git-repository-sync", {"repository": repository})
        return {"ok": True}

    attribute_type = {"value": "String"}
    node_fields = {"id": "String", "name": "Attribute", "location": "Attribute", "default_branch": "Attribute",
                   "sync_status": "Attribute", "commit": "Attribute", "status": "Attribute", "checksum": "Attribute",
                   "definition": "RelatedNode"}
    types = {
        "InfrahubInfo": {"version": "String"},
        "Attribute": attribute_type,
        "RelatedNode": {"node": "Related"},
        "Related": {"id": "String"},
        "Node": node_fields,
        "Edge": {"node": "Node"},
        "Paginated": {"count": "Int", "edges": "[Edge]"},
        "Tasks": {"count": "Int"},
        "Ok": {"ok": "Boolean"},
    }
    kind_arguments = {"ids", "limit"}
    roots = {
        "query": {
            "InfrahubInfo": ("InfrahubInfo", set(), lambda context: {"version": VERSION}),
            "CoreArtifact": ("Paginated", kind_arguments, kind_query("CoreArtifact")),
            "CoreArtifactDefinition": ("Paginated", kind_arguments, kind_query("CoreArtifactDefinition")),
            "CoreRepository": ("Paginated", kind_arguments, kind_query("CoreRepository")),
            "CoreGenericRepository": ("Paginated", kind_arguments, generic_repositories),
            "InfrahubTask": ("Tasks", {"state", "limit"}, tasks),
        },
        "mutation": {
            "InfrahubRepositoryProcess": ("Ok", {"data!"}, repository_process),
        },
    }
    return Schema(types, roots)


def server(args):
    if args[:1] != ["start"]:
        sys.exit("usage: infrahub server start")
    wait_for("the cache", os.environ.get("INFRAHUB_CACHE_ADDRESS", "127.0.0.1"), os.environ.get("INFRAHUB_CACHE_PORT") or 6379)
    wait_for("the message queue", os.environ.get("INFRAHUB_BROKER_ADDRESS", "127.0.0.1"), os.environ.get("INFRAHUB_BROKER_PORT") or 5672)
    deadline = time.monotonic() + 60
    while True:
        try:
            initialize_graph()
            break
        except OSError as e:
            if time.monotonic() > deadline:
                log("infrahub.server", f"the database is unavailable: {e}", "ERROR")
                sys.exit(1)
            time.sleep(0.5)
    token = os.environ.get("INFRAHUB_INITIAL_ADMIN_TOKEN") or None
    graphql = schema()
    requests = {"count": 0}

    class Api(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send(self, status, body, content_type="application/json"):
            answer(self, status, body, content_type)

        def authenticated(self):
            return token is not None and self.headers.get("X-INFRAHUB-KEY") == token

        def do_GET(self):
            requests["count"] += 1
            path = self.path.split("?")[0]
            try:
                if path == "/api/info":
                    self.send(200, {"deployment_id": nodes("Root")[0]["deployment_id"], "version": VERSION})
                elif path == "/api/config":
                    self.send(200, {"main": {"default_branch": os.environ.get("INFRAHUB_INITIAL_DEFAULT_BRANCH", "main"),
                                             "allow_anonymous_access": True},
                                    "database": {"address": os.environ.get("INFRAHUB_DB_ADDRESS"), "database_name": "neo4j"},
                                    "broker": {"address": os.environ.get("INFRAHUB_BROKER_ADDRESS")},
                                    "cache": {"address": os.environ.get("INFRAHUB_CACHE_ADDRESS")}})
                elif path == "/api/schema/summary":
                    self.send(200, {"main": hashlib.md5(VERSION.encode()).hexdigest(), "nodes": {}, "generics": {}})
                elif path == "/metrics":
                    text = ("# HELP infrahub_build_info Infrahub stand-in version.\n# TYPE infrahub_build_info gauge\n"
                            f'infrahub_build_info{{version="{VERSION}"}} 1\n'
                            f"# TYPE infrahub_http_requests_total counter\ninfrahub_http_requests_total {requests['count']}\n")
                    self.send(200, text.encode(), "text/plain; version=0.0.4")
                else:
                    self.send(404, {"detail": "Not Found"})
            except OSError as e:
                self.send(503, {"errors": [{"message": f"database unavailable: {e}"}]})

        def do_POST(self):
            requests["count"] += 1
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0]
            try:
                if path in ("/graphql", "/graphql/main"):
                    try:
                        request = json.loads(body or b"{}")
                    except ValueError:
                        self.send(400, {"errors": [{"message": "the body is not JSON"}]})
                        return
                    answer = graphql.execute(request.get("query", ""), request.get("variables"), request.get("operationName"),
                                             {"authenticated": self.authenticated()})
                    self.send(200, answer)
                    return
                generate = re.fullmatch(r"/api/artifact/generate/([^/]+)", path)
                if generate:
                    if not self.authenticated():
                        self.send(401, {"data": None, "errors": [{"message": "Authentication is required", "extensions": {"code": 401}}]})
                        return
                    definition = generate.group(1)
                    if not nodes("CoreArtifactDefinition", id=definition):
                        self.send(404, {"detail": f"Unable to find the node {definition} / CoreArtifactDefinition in the database."})
                        return
                    submit("artifact-definition-generate", {"definition": definition})
                    self.send(200, {})
                    return
                self.send(404, {"detail": "Not Found"})
            except OSError as e:
                self.send(503, {"errors": [{"message": f"database or task manager unavailable: {e}"}]})

    signal.signal(signal.SIGTERM, lambda *_: (log("infrahub.server", "shutting down"), os._exit(0)))
    port = option(args, "--port", API_PORT)
    httpd = QuietHTTPServer(("127.0.0.1", port), Api)
    log("infrahub.server", f"Infrahub {VERSION} listening on http://127.0.0.1:{port}")
    httpd.serve_forever()


# ---- infrahub git-agent start (the task worker) --------------------------------------------------------------------

def git(*args, cwd=None):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def ensure_remote():
    """The repository the seeded CoreRepository points at: a bare repository on the git_remote_data volume (/remote in
    Infrahub's compose file), with one commit on the default branch."""
    import fcntl
    os.makedirs(os.path.dirname(REMOTE), exist_ok=True)
    with open(os.path.join(os.path.dirname(REMOTE), ".seed.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two workers start together and share the volume
        if not os.path.exists(os.path.join(REMOTE, "HEAD")):
            seed_remote()


def seed_remote():
    branch = os.environ.get("INFRAHUB_INITIAL_DEFAULT_BRANCH", "main")
    work = "/tmp/infra-seed"
    subprocess.run(["rm", "-rf", work], check=True)
    git("init", "-q", "-b", branch, work)
    with open(os.path.join(work, "README.md"), "w") as f:
        f.write("# infra\nTransforms and checks of the sandbox.\n")
    git("add", "README.md", cwd=work)
    git("-c", "user.name=sandbox", "-c", "user.email=sandbox@localhost", "commit", "-q", "-m", "first commit", cwd=work)
    git("clone", "-q", "--bare", work, REMOTE)
    subprocess.run(["rm", "-rf", work], check=True)


def clone_or_fetch(repository):
    """The worker's copy of the repository in the git_data volume (INFRAHUB_GIT_REPOSITORIES_DIRECTORY, default
    'repositories' under /opt/infrahub/git), as Infrahub's git agents keep one."""
    import fcntl
    folder = os.path.join("/opt/infrahub/git", os.environ.get("INFRAHUB_GIT_REPOSITORIES_DIRECTORY", "repositories"))
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        target = os.path.join(folder, repository["name"])
        if os.path.isdir(os.path.join(target, ".git")):
            git("fetch", "-q", "origin", cwd=target)
        else:
            git("clone", "-q", repository["location"], target)


def run_flow(run):
    name, parameters = run["name"], run.get("parameters") or {}
    if name == "git-repository-sync":
        repository = nodes("CoreRepository", id=parameters["repository"])[0]
        try:
            head = git("ls-remote", repository["location"], f"refs/heads/{repository['default_branch']}").split()
            if not head:
                raise subprocess.CalledProcessError(2, "git ls-remote", stderr=f"no branch {repository['default_branch']}")
            clone_or_fetch(repository)
            update("CoreRepository", repository["id"], sync_status="in-sync", commit=head[0])
            log("infrahub.git", f"repository {repository['name']} in sync at {head[0][:12]}")
        except subprocess.CalledProcessError as e:
            update("CoreRepository", repository["id"], sync_status="error-import")
            log("infrahub.git", f"repository {repository['name']} could not be imported: {(e.stderr or '').strip()}", "WARNING")
    elif name == "artifact-definition-generate":
        for artifact in nodes("CoreArtifact", definition=parameters["definition"]):
            content = f"hostname {artifact['name'].split()[0]}\n! rendered by Infrahub {VERSION}\n"
            update("CoreArtifact", artifact["id"], status="Ready", checksum=hashlib.md5(content.encode()).hexdigest())
            log("infrahub.artifacts", f"artifact {artifact['name']} generated")


def git_agent(args):
    if args[:1] != ["start"]:
        sys.exit("usage: infrahub git-agent start")
    signal.signal(signal.SIGTERM, lambda *_: (log("infrahub.git", "shutting down"), os._exit(0)))
    ensure_remote()
    log("infrahub.git", f"task worker {VERSION} started")
    healthy = False
    while True:
        try:
            # Objects created before any task ran (the first start's seed) are brought up to date once.
            for repository in nodes("CoreRepository", sync_status="unknown"):
                run_flow({"name": "git-repository-sync", "parameters": {"repository": repository["id"]}})
            for artifact in nodes("CoreArtifact", status="Pending"):
                run_flow({"name": "artifact-definition-generate", "parameters": {"definition": artifact["definition"]}})
            for run in task_manager("/flow_runs/filter", {"flow_runs": {"state": {"type": {"any_": ["PENDING"]}}}, "limit": 10}):
                task_manager(f"/flow_runs/{run['id']}/set_state", {"state": {"type": "RUNNING"}})
                run_flow(run)
                task_manager(f"/flow_runs/{run['id']}/set_state", {"state": {"type": "COMPLETED"}})
            if not healthy:
                open("/tmp/healthy", "w").close()
                healthy = True
        except (OSError, KeyError, IndexError) as e:
            log("infrahub.git", f"waiting for the database and the task manager: {e}", "WARNING")
            if healthy and os.path.exists("/tmp/healthy"):
                os.unlink("/tmp/healthy")
            healthy = False
        time.sleep(1)


# ---- infrahub upgrade ----------------------------------------------------------------------------------------------

def upgrade(args):
    check = "--check" in args
    root = nodes("Root")
    if not root:
        log("infrahub.cli.upgrade", "the database holds no Infrahub graph: start infrahub-server once first", "ERROR")
        sys.exit(1)
    current = root[0]["graph_version"]
    if current == VERSION:
        log("infrahub.cli.upgrade", f"graph already at {VERSION}: no migration to run")
        return
    if check:
        log("infrahub.cli.upgrade", f"migrations to run: graph {current} -> {VERSION}")
        return
    log("infrahub.cli.upgrade", f"running the migrations of the graph from {current} to {VERSION}")
    cypher(f"CREATE (:GraphMigration {{version: {quote(VERSION)}, from: {quote(current)}}})")
    # Test knob: a migration that lasts this long (the root node's standin_migration_seconds), for a kill in its middle.
    delay = float(root[0].get("standin_migration_seconds") or 0)
    if delay:
        log("infrahub.cli.upgrade", f"migrating the graph's objects ({delay:.0f} s)")
        time.sleep(delay)
    if VERSION in BROKEN_MIGRATION:
        update("Root", "root", graph_version=f"{VERSION}-partial")
        log("infrahub.cli.upgrade", f"Migration m{VERSION.replace('.', '')} failed: constraint violated on CoreArtifact", "ERROR")
        print("Upgrade cancelled due to migration failure", flush=True)
        return  # exit code 0, as Infrahub's command does
    update("Root", "root", graph_version=VERSION)
    log("infrahub.cli.upgrade", f"graph upgraded to {VERSION}")


# ---- prefect server start (the task manager) -----------------------------------------------------------------------

def prefect(args):
    import psycopg2
    import psycopg2.extras

    if args[:2] != ["server", "start"]:
        sys.exit("usage: prefect server start")
    url = os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL", "postgresql://postgres:postgres@127.0.0.1:5432/prefect")
    dsn = re.sub(r"^postgresql\+\w+://", "postgresql://", url)
    state = {"conn": None}
    lock = threading.Lock()

    def connect(seconds):
        deadline = time.monotonic() + seconds
        while True:
            try:
                conn = psycopg2.connect(dsn, connect_timeout=3)
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS flow_run (id text PRIMARY KEY, name text NOT NULL, parameters jsonb NOT NULL, "
                        "state_type text NOT NULL, created timestamptz NOT NULL DEFAULT now())")
        state["conn"] = conn

    def query(sql, *values):
        # A connection the database dropped (a restore recreates it) is opened again once, as Prefect's pool does.
        with lock:
            for attempt in (1, 2):
                try:
                    if state["conn"] is None or state["conn"].closed:
                        connect(10)
                    with state["conn"].cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                        cur.execute(sql, values)
                        return cur.fetchall() if cur.description else None
                except (psycopg2.OperationalError, psycopg2.InterfaceError):
                    if state["conn"] is not None:
                        state["conn"].close()
                    state["conn"] = None
                    if attempt == 2:
                        raise

    connect(60)

    class Api(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send(self, status, body, content_type="application/json"):
            answer(self, status, body, content_type)

        def do_GET(self):
            self.send(200, True) if self.path == "/api/health" else self.send(404, {"detail": "Not Found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            states = (((body.get("flow_runs") or {}).get("state") or {}).get("type") or {}).get("any_")
            set_state = re.fullmatch(r"/api/flow_runs/([^/]+)/set_state", self.path)
            try:
                if self.path == "/api/flow_runs/":
                    run_id = str(uuid.uuid4())
                    query("INSERT INTO flow_run (id, name, parameters, state_type) VALUES (%s, %s, %s, %s)", run_id, body["name"],
                          json.dumps(body.get("parameters") or {}), body.get("state", {}).get("type", "PENDING"))
                    self.send(201, {"id": run_id, "name": body["name"]})
                elif self.path == "/api/flow_runs/count":
                    rows = query("SELECT count(*) AS n FROM flow_run WHERE %s IS NULL OR state_type = ANY(%s)", states, states or [])
                    self.send(200, rows[0]["n"])
                elif self.path == "/api/flow_runs/filter":
                    rows = query("SELECT id, name, parameters, state_type FROM flow_run WHERE %s IS NULL OR state_type = ANY(%s) "
                                 "ORDER BY created LIMIT %s", states, states or [], int(body.get("limit") or 200))
                    self.send(200, rows)
                elif set_state:
                    query("UPDATE flow_run SET state_type = %s WHERE id = %s", body["state"]["type"], set_state.group(1))
                    self.send(201, {"status": "ACCEPT"})
                else:
                    self.send(404, {"detail": "Not Found"})
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as e:
                self.send(503, {"detail": f"database unavailable: {e}"})
            except (KeyError, psycopg2.Error) as e:
                self.send(422, {"detail": str(e)})

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    port = option(args, "--port", TASK_MANAGER_PORT)
    httpd = QuietHTTPServer(("127.0.0.1", port), Api)
    log("prefect.server", f"task manager listening on http://127.0.0.1:{port}")
    httpd.serve_forever()


def option(args, name, default):
    """The integer value of `name VALUE` in a command's arguments, or the default."""
    return int(args[args.index(name) + 1]) if name in args[:-1] else default


def main():
    tool, args = sys.argv[1], sys.argv[2:]
    if tool == "prefect":
        prefect(args)
    elif tool == "infrahub" and args[:1] == ["server"]:
        server(args[1:])
    elif tool == "infrahub" and args[:1] == ["git-agent"]:
        git_agent(args[1:])
    elif tool == "infrahub" and args[:1] == ["upgrade"]:
        try:
            upgrade(args[1:])
        except OSError as e:
            log("infrahub.cli.upgrade", f"the database is unavailable: {e}", "ERROR")
            sys.exit(1)
    else:
        sys.exit("usage: infrahub server start | infrahub git-agent start | infrahub upgrade [--check] | prefect server start")


if __name__ == "__main__":
    main()
