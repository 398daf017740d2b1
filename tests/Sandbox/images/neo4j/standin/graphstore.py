"""A stand-in for Neo4j 5 that keeps the admin contract UpgradeOps relies on (see ../README.md for every difference).

One module, several commands (the wrappers in ../bin call `python3 graphstore.py <tool> ...`):
  init          the container's main process (as tini in the official image): prepares /data, starts `neo4j console`
                as a child running as user neo4j, forwards SIGTERM/SIGINT, exits with the child's exit code
  neo4j         `neo4j console`: the server (HTTP API on 127.0.0.1:7474, the store lock, the pid file)
  cypher-shell  a client of the server's HTTP API with cypher-shell's options and plain output
  neo4j-admin   `database dump|load|backup` on the store files
  health        the image's healthcheck (GET / on the HTTP port)
  client        the sandbox's graph users: `client api PORT` and `client worker` (infrahub-server, task-worker)
"""
import base64
import fcntl
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "5.20.0"
DATA = os.environ.get("NEO4J_STANDIN_DATA", "/data")
PID_FILE = "/var/lib/neo4j/run/neo4j.pid"
EXIT_EARLY = os.path.join(DATA, "upgradeops-standin-exit-early")
MAGIC = b"UPGRADEOPS-GRAPHSTORE-DUMP 1\n"
USER_UID = 7474  # the official image's neo4j user and group id


def edition():
    return os.environ.get("NEO4J_STANDIN_EDITION", "community")


def default_database():
    return os.environ.get("NEO4J_initial_dbms_default__database") or os.environ.get("NEO4J_dbms_default__database") or "neo4j"


def port_of(variable, default):
    value = os.environ.get(variable, "")
    return int(value.rsplit(":", 1)[1]) if ":" in value and value.rsplit(":", 1)[1] else default


def http_port():
    return port_of("NEO4J_server_http_listen__address", 7474)


def bolt_port():
    return port_of("NEO4J_server_bolt_listen__address", 7687)


def store_dir(db):
    return os.path.join(DATA, "databases", db)


def store_file(db):
    return os.path.join(store_dir(db), "graph.json")


def fail(message, code=1):
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.exit(code)


# ---- the store ---------------------------------------------------------------------------------------------------

class StoreLock:
    """fcntl lock on <db>/store_lock, as Neo4j's file lock keeps a second process off a store it has open."""

    def __init__(self, db):
        os.makedirs(store_dir(db), exist_ok=True)
        self.fd = os.open(os.path.join(store_dir(db), "store_lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self.fd)
            self.fd = None
            raise

    def release(self):
        if self.fd is not None:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def empty_graph():
    return {"nodes": [], "relationships": [], "lastCommittedTx": 1}


def read_graph(db):
    try:
        with open(store_file(db), "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        return None


def write_graph(db, graph):
    """Atomic: a temporary file fsynced and renamed over the store, so a reader sees one committed state or the next."""
    os.makedirs(store_dir(db), exist_ok=True)
    temp = store_file(db) + ".tmp"
    with open(temp, "wb") as f:
        f.write(json.dumps(graph, separators=(",", ":"), sort_keys=True).encode())
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, store_file(db))


def checksum(graph):
    """SHA-256 of the content, independent of ids and order: each node's labels and properties, each relationship's
    type and properties with its end nodes' content; the stand-in's extension CALL upgradeops.graph.checksum()."""
    def canon(value):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    nodes = {n["id"]: canon([sorted(n["labels"]), n["properties"]]) for n in graph["nodes"]}
    lines = sorted("N" + v for v in nodes.values())
    lines += sorted("R" + canon([r["type"], r["properties"], nodes.get(r["start"]), nodes.get(r["end"])]) for r in graph["relationships"])
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


# ---- the Cypher subset -------------------------------------------------------------------------------------------

class CypherError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


NAME = r"(?:`(?:[^`]|``)+`|[A-Za-z_][A-Za-z0-9_]*)"


def unquote_name(name):
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def parse_value(text, variables):
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d*", text):
        return float(text)
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1].replace("\\" + text[0], text[0])
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.lower() == "null":
        return None
    if text in variables:
        return variables[text]
    raise CypherError("Neo.ClientError.Statement.SyntaxError", f"Invalid input '{text}': the stand-in accepts literals and the UNWIND variable only")


def split_top(text, sep=","):
    parts, depth, quote, current = [], 0, None, ""
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += ch
    if current.strip():
        parts.append(current)
    return parts


def parse_map(text, variables):
    text = (text or "").strip()
    if not text:
        return {}
    if not (text.startswith("{") and text.endswith("}")):
        raise CypherError("Neo.ClientError.Statement.SyntaxError", f"Invalid property map '{text}'")
    result = {}
    for part in split_top(text[1:-1]):
        key, _, value = part.partition(":")
        result[unquote_name(key.strip())] = parse_value(value, variables)
    return result


NODE = re.compile(r"\(\s*(?P<var>" + NAME + r")?\s*(?::\s*(?P<label>" + NAME + r"))?\s*(?P<props>\{.*?\})?\s*\)", re.S)


class Graph:
    """One database's graph in memory, written to its store at each commit."""

    def __init__(self, db):
        self.db = db
        self.lock = StoreLock(db)
        self.data = read_graph(db)
        if self.data is None:
            self.data = empty_graph()
            write_graph(db, self.data)

    def close(self):
        self.lock.release()

    def next_id(self):
        return 1 + max([n["id"] for n in self.data["nodes"]] + [r["id"] for r in self.data["relationships"]] + [0])

    def commit(self, graph):
        graph["lastCommittedTx"] = self.data.get("lastCommittedTx", 1) + 1
        write_graph(self.db, graph)
        self.data = graph

    def find(self, graph, label, props):
        return [n for n in graph["nodes"] if (label is None or label in n["labels"]) and all(n["properties"].get(k) == v for k, v in props.items())]

    def run(self, statement):
        s = statement.strip().rstrip(";").strip()
        if re.fullmatch(r"(?i)MATCH\s*\(\s*n\s*\)\s*RETURN\s+count\(\s*n\s*\)(\s+AS\s+(" + NAME + "))?", s):
            alias = re.search(r"(?i)AS\s+(" + NAME + ")$", s)
            return [unquote_name(alias.group(1)) if alias else "count(n)"], [[len(self.data["nodes"])]]
        if re.fullmatch(r"(?i)MATCH\s*\(\s*\)\s*-\s*\[\s*r\s*\]\s*->\s*\(\s*\)\s*RETURN\s+count\(\s*r\s*\)(\s+AS\s+(" + NAME + "))?", s):
            alias = re.search(r"(?i)AS\s+(" + NAME + ")$", s)
            return [unquote_name(alias.group(1)) if alias else "count(r)"], [[len(self.data["relationships"])]]
        if re.fullmatch(r"(?i)CALL\s+upgradeops\.graph\.checksum\(\s*\)(\s+YIELD\s+checksum)?", s):
            return ["checksum"], [[checksum(self.data)]]
        if re.fullmatch(r"(?i)MATCH\s*\(\s*n\s*\)\s*DETACH\s+DELETE\s+n", s):
            self.commit(empty_graph() | {"lastCommittedTx": self.data.get("lastCommittedTx", 1)})
            return [], []
        # Reads and property updates of one label, for the Infrahub stand-in's objects (the row of a node is its property map,
        # as in Neo4j's HTTP API).
        m = re.fullmatch(r"(?is)MATCH\s*(\(.*?\))\s+RETURN\s+(" + NAME + r")", s)
        if m:
            node = NODE.fullmatch(m.group(1))
            if not node or unquote_name(node.group("var") or "") != unquote_name(m.group(2)):
                raise CypherError("Neo.ClientError.Statement.SyntaxError", f"Invalid MATCH ... RETURN: {s[:200]}")
            found = self.find(self.data, unquote_name(node.group("label")) if node.group("label") else None, parse_map(node.group("props"), {}))
            return [unquote_name(m.group(2))], [[dict(n["properties"])] for n in sorted(found, key=lambda n: n["id"])]
        m = re.fullmatch(r"(?is)MATCH\s*(\(.*?\))\s+SET\s+(.*)", s)
        if m:
            node = NODE.fullmatch(m.group(1))
            if not node or not node.group("var"):
                raise CypherError("Neo.ClientError.Statement.SyntaxError", f"Invalid MATCH ... SET: {s[:200]}")
            var = unquote_name(node.group("var"))
            updates = {}
            for assignment in split_top(m.group(2)):
                target, _, value = assignment.partition("=")
                key = re.fullmatch(r"\s*(" + NAME + r")\.(" + NAME + r")\s*", target)
                if not key or unquote_name(key.group(1)) != var:
                    raise CypherError("Neo.ClientError.Statement.SyntaxError", f"Invalid SET item '{assignment.strip()}'")
                updates[unquote_name(key.group(2))] = parse_value(value, {})
            graph = json.loads(json.dumps(self.data))
            found = self.find(graph, unquote_name(node.group("label")) if node.group("label") else None, parse_map(node.group("props"), {}))
            for n in found:
                n["properties"].update(updates)
            if found:
                self.commit(graph)
            return [], []
        m = re.fullmatch(r"(?is)UNWIND\s+range\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)\s+AS\s+(" + NAME + r")\s+CREATE\s+(.*)", s)
        if m:
            graph = json.loads(json.dumps(self.data))
            next_id = self.next_id()
            for i in range(int(m.group(1)), int(m.group(2)) + 1):
                next_id = self.create(graph, m.group(4), {unquote_name(m.group(3)): i}, next_id=next_id)
            self.commit(graph)
            return [], []
        m = re.fullmatch(r"(?is)MATCH\s+(.*?)\s+CREATE\s+(.*)", s)
        if m:
            graph = json.loads(json.dumps(self.data))
            bound = {}
            for pattern in split_top(m.group(1)):
                node = NODE.fullmatch(pattern.strip())
                if not node or not node.group("var"):
                    raise CypherError("Neo.ClientError.Statement.SyntaxError", f"Invalid MATCH pattern '{pattern.strip()}'")
                found = self.find(graph, unquote_name(node.group("label")) if node.group("label") else None, parse_map(node.group("props"), {}))
                if len(found) != 1:
                    return [], []  # no row matched (or several: the stand-in creates only between single nodes)
                bound[unquote_name(node.group("var"))] = found[0]["id"]
            self.create(graph, m.group(2), {}, bound)
            self.commit(graph)
            return [], []
        m = re.fullmatch(r"(?is)CREATE\s+(.*)", s)
        if m:
            graph = json.loads(json.dumps(self.data))
            self.create(graph, m.group(1), {})
            self.commit(graph)
            return [], []
        raise CypherError("Neo.ClientError.Statement.SyntaxError",
                          f"The stand-in does not understand this statement (see tests/Sandbox/images/neo4j/README.md): {s[:200]}")

    def create(self, graph, patterns, variables, bound=None, next_id=None):
        """Creates the patterns' nodes and relationships; returns the next free id (given by a caller creating many)."""
        bound = dict(bound or {})
        if next_id is None:
            next_id = max([n["id"] for n in graph["nodes"]] + [r["id"] for r in graph["relationships"]] + [0]) + 1
        for pattern in split_top(patterns):
            pattern = pattern.strip()
            rel = re.fullmatch(r"(?s)\(\s*(" + NAME + r")\s*\)\s*-\s*\[\s*(?:" + NAME + r")?\s*:\s*(" + NAME + r")\s*(\{.*?\})?\s*\]\s*->\s*\(\s*(" + NAME + r")\s*\)", pattern)
            if rel:
                start, end = unquote_name(rel.group(1)), unquote_name(rel.group(4))
                if start not in bound or end not in bound:
                    raise CypherError("Neo.ClientError.Statement.SyntaxError", f"Variable not defined in '{pattern}'")
                graph["relationships"].append({"id": next_id, "type": unquote_name(rel.group(2)), "start": bound[start], "end": bound[end],
                                               "properties": parse_map(rel.group(3), variables)})
                next_id += 1
                continue
            node = NODE.fullmatch(pattern)
            if not node:
                raise CypherError("Neo.ClientError.Statement.SyntaxError", f"Invalid CREATE pattern '{pattern}'")
            graph["nodes"].append({"id": next_id, "labels": [unquote_name(node.group("label"))] if node.group("label") else [],
                                   "properties": parse_map(node.group("props"), variables)})
            if node.group("var"):
                bound[unquote_name(node.group("var"))] = next_id
            next_id += 1
        return next_id


# ---- the server (`neo4j console`) --------------------------------------------------------------------------------

class Server:
    def __init__(self):
        self.edition = edition()
        self.db = default_database()
        self.lock = threading.Lock()
        self.graphs = {}
        self.stopped = set()
        auth = os.environ.get("NEO4J_AUTH", "neo4j/neo4j")
        self.auth_enabled = auth != "none"
        self.bolt_enabled = os.environ.get("NEO4J_server_bolt_enabled", "true").lower() != "false"
        self.credentials = self.read_auth()

    @staticmethod
    def read_auth():
        try:
            with open(os.path.join(DATA, "dbms", "auth.json")) as f:
                return json.load(f)
        except FileNotFoundError:
            return {"user": "neo4j", "salt": "", "hash": hashlib.sha256(b"neo4j").hexdigest()}

    def authorized(self, header):
        if not self.auth_enabled:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        expected = self.credentials
        return user == expected["user"] and hashlib.sha256((expected["salt"] + password).encode()).hexdigest() == expected["hash"]

    def open(self, db):
        self.graphs[db] = Graph(db)

    def close_all(self):
        for graph in self.graphs.values():
            graph.close()
        self.graphs.clear()

    def execute(self, db, statement):
        s = statement.strip().rstrip(";").strip()
        components = re.fullmatch(r"(?i)CALL\s+dbms\.components\(\s*\)(?:\s+YIELD\s+(.*))?", s)
        if components:
            row = {"name": "Neo4j Kernel", "versions": [VERSION], "edition": self.edition}
            columns = [c.strip() for c in components.group(1).split(",")] if components.group(1) else ["name", "versions", "edition"]
            if any(c not in row for c in columns):
                raise CypherError("Neo.ClientError.Statement.SyntaxError", f"Unknown procedure output: {components.group(1)}")
            return columns, [[row[c] for c in columns]]
        admin = re.fullmatch(r"(?i)(STOP|START)\s+DATABASE\s+(" + NAME + r")", s)
        if admin:
            verb, name = admin.group(1).upper(), unquote_name(admin.group(2))
            if self.edition != "enterprise":
                raise CypherError("Neo.ClientError.Statement.UnsupportedAdministrationCommand", f"Unsupported administration command: {s}")
            if db != "system":
                raise CypherError("Neo.ClientError.Statement.NotSystemDatabaseError",
                                  f"This is an administration command and it should be executed against the system database: {verb} DATABASE")
            if name != self.db:
                raise CypherError("Neo.ClientError.Database.DatabaseNotFound", f"Database does not exist: {name}")
            with self.lock:
                if verb == "STOP" and name in self.graphs:
                    self.graphs.pop(name).close()
                    self.stopped.add(name)
                elif verb == "START" and name not in self.graphs:
                    try:
                        self.open(name)
                    except OSError:
                        raise CypherError("Neo.DatabaseError.General.UnknownError", f"Unable to start database '{name}': its store is locked by another process")
                    self.stopped.discard(name)
            return [], []
        if db == "system":
            raise CypherError("Neo.ClientError.Statement.SyntaxError", f"The stand-in's system database answers dbms.components() and STOP/START DATABASE only: {s[:200]}")
        with self.lock:
            graph = self.graphs.get(db)
            if graph is None:
                if db in self.stopped:
                    raise CypherError("Neo.TransientError.General.DatabaseUnavailable", f"Database '{db}' is unavailable.")
                raise CypherError("Neo.ClientError.Database.DatabaseNotFound", f"Database does not exist. Database name: '{db}'.")
            return graph.run(s)


def send_json(handler, status, body):
    """A JSON answer with its length (HTTP/1.1 keep-alive), for the server's HTTP API and the graph clients."""
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json;charset=utf-8")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class QuietHTTPServer(ThreadingHTTPServer):
    """A client that hangs up before its answer is written (a probe's timeout on a busy machine) is no error of the
    server: Neo4j logs no stack trace for it, so neither does the stand-in (logs are scanned for errors)."""
    daemon_threads = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def make_handler(server):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send_json(self, status, body):
            send_json(self, status, body)

        def do_GET(self):
            if self.path.rstrip("/") == "":
                # Discovery: where the transaction endpoint and Bolt are, the version and edition.
                self.send_json(200, {"bolt_routing": f"neo4j://localhost:{bolt_port()}", "bolt_direct": f"bolt://localhost:{bolt_port()}",
                                     "transaction": f"http://localhost:{http_port()}/db/{{databaseName}}/tx",
                                     "neo4j_version": VERSION, "neo4j_edition": server.edition})
            else:
                self.send_json(404, {"errors": [{"code": "Neo.ClientError.Request.Invalid", "message": f"Not found: {self.path}"}]})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            m = re.fullmatch(r"/db/([^/]+)/tx/commit", self.path)
            if not m:
                self.send_json(404, {"errors": [{"code": "Neo.ClientError.Request.Invalid", "message": f"Not found: {self.path}"}]})
                return
            if self.headers.get("X-Standin-Bolt") and not server.bolt_enabled:
                # cypher-shell's requests stand for Bolt connections: with server.bolt.enabled=false there is no Bolt.
                self.send_json(503, {"errors": [{"code": "Standin.BoltDisabled", "message": "server.bolt.enabled=false"}]})
                return
            if not server.authorized(self.headers.get("Authorization")):
                self.send_json(401, {"errors": [{"code": "Neo.ClientError.Security.Unauthorized",
                                                 "message": "The client is unauthorized due to authentication failure."}]})
                return
            try:
                statements = json.loads(body or b"{}").get("statements", [])
            except ValueError:
                self.send_json(400, {"errors": [{"code": "Neo.ClientError.Request.InvalidFormat", "message": "Unable to deserialize request"}]})
                return
            results, errors = [], []
            for item in statements:
                try:
                    columns, rows = server.execute(urllib.request.unquote(m.group(1)), item.get("statement", ""))
                    results.append({"columns": columns, "data": [{"row": row, "meta": [None] * len(row)} for row in rows]})
                except CypherError as e:
                    errors.append({"code": e.code, "message": str(e)})
                    break
            self.send_json(200, {"results": results, "errors": errors})

    return Handler


def console():
    server = Server()
    log = lambda text: print(f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}+0000 INFO  {text}", flush=True)
    log(f"======== Neo4j {VERSION} (UpgradeOps stand-in, {server.edition}) ========")
    try:
        server.open(server.db)
    except OSError:
        fail(f"Unable to start database '{server.db}': its store is locked by another process (store_lock in {store_dir(server.db)}).")
    httpd = QuietHTTPServer(("127.0.0.1", http_port()), make_handler(server))
    # The shutdown handler before the pid file: whoever reads the pid file may send SIGTERM at once.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    os.makedirs(os.path.dirname(PID_FILE), exist_ok=True)
    with open(PID_FILE, "w") as f:
        f.write(str(os.getpid()))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    log(f"HTTP enabled on 127.0.0.1:{http_port()}.")
    log("Started.")
    # A timed wait: the main thread wakes each half second, so a SIGTERM is handled even if it reached the process
    # while no wait of the main thread could be interrupted (one CI run saw a server ignore it for 120 s).
    while not stop.wait(0.5):
        pass
    log("Neo4j Server shutdown initiated by request")
    httpd.shutdown()
    httpd.server_close()
    with server.lock:
        server.close_all()
    # Fault for the tests, once: the process ends (a second after the SIGTERM, as a shutdown takes time) before its pid
    # file goes, so no watchdog can freeze it: what a server that outruns the watchdog, or dies, looks like. The container
    # then restarts.
    if os.path.exists(EXIT_EARLY):
        os.unlink(EXIT_EARLY)
        time.sleep(1)
        log("Exiting before the pid file is removed (test fault).")
        os._exit(0)
    os.unlink(PID_FILE)
    log("Stopped.")
    # What a JVM still does after Neo4j removed its pid file (shutdown hooks, exit): the window the watchdog uses.
    time.sleep(float(os.environ.get("NEO4J_STANDIN_EXIT_DELAY", "2")))


# ---- the container's main process -------------------------------------------------------------------------------

def ensure_user():
    """The neo4j user and group (uid/gid 7474 as in the official image), created at start by the root process:
    the image has no RUN step, so it cannot add them at build time."""
    try:
        import pwd
        pwd.getpwnam("neo4j")
        return
    except KeyError:
        pass
    subprocess.run(["groupadd", "-g", str(USER_UID), "neo4j"], check=False, stderr=subprocess.DEVNULL)
    subprocess.run(["useradd", "-M", "-u", str(USER_UID), "-g", "neo4j", "-d", "/var/lib/neo4j", "-s", "/bin/sh", "neo4j"], check=True)


def chown_tree(path):
    for root, dirs, files in os.walk(path):
        for name in [root] + [os.path.join(root, x) for x in dirs + files]:
            try:
                os.lchown(name, USER_UID, USER_UID)
            except FileNotFoundError:
                pass


def set_initial_password():
    """NEO4J_AUTH=neo4j/<password> sets the initial password when the store has none yet (neo4j-admin dbms
    set-initial-password in the official image); a later NEO4J_AUTH does not change it. none: no authentication."""
    auth = os.environ.get("NEO4J_AUTH", "")
    path = os.path.join(DATA, "dbms", "auth.json")
    if auth in ("", "none") or os.path.exists(path):
        return
    user, _, password = auth.partition("/")
    if user != "neo4j":
        fail(f"Invalid admin username, it must be neo4j.")
    minimum = int(os.environ.get("NEO4J_dbms_security_auth__minimum__password__length", "8"))
    if len(password) < minimum:
        fail(f"Invalid value for password. It needs to be at least {minimum} characters long")
    salt = os.urandom(16).hex()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"user": user, "salt": salt, "hash": hashlib.sha256((salt + password).encode()).hexdigest()}, f)
    print("Changed password for user 'neo4j'. IMPORTANT: this change will only take effect if performed before the database is started for the first time.", flush=True)


def init(args):
    args = args or ["neo4j"]
    if args[0] != "neo4j":
        os.execvp(args[0], args)  # another command, as the official entrypoint runs one given instead of neo4j
    if edition() == "enterprise" and os.environ.get("NEO4J_ACCEPT_LICENSE_AGREEMENT") not in ("yes", "eval"):
        fail("In order to use Neo4j Enterprise Edition you must accept the license agreement: set NEO4J_ACCEPT_LICENSE_AGREEMENT=yes.")
    if os.getuid() == 0:
        ensure_user()
    for folder in (DATA, "/logs", os.path.dirname(PID_FILE)):
        os.makedirs(folder, exist_ok=True)
    set_initial_password()
    if os.getuid() == 0:
        for folder in (DATA, "/logs", os.path.dirname(PID_FILE)):
            chown_tree(folder)
    command = [sys.executable, os.path.abspath(__file__), "neo4j", "console"]
    child = subprocess.Popen(command, user=USER_UID if os.getuid() == 0 else None, group=USER_UID if os.getuid() == 0 else None,
                             extra_groups=[] if os.getuid() == 0 else None)
    forward = lambda sig, _frame: child.send_signal(sig)
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = child.wait()
    sys.exit(code if code >= 0 else 128 - code)


# ---- neo4j-admin ------------------------------------------------------------------------------------------------

def parse_options(args, flags, valued):
    options, positional = {}, []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if name in flags:
                options[name] = (value.lower() != "false") if eq else True
            elif name in valued:
                if not eq:
                    i += 1
                    if i >= len(args):
                        fail(f"Missing required parameter for option '--{name}'", 64)
                    value = args[i]
                options[name] = value
            else:
                fail(f"Unknown option: '{arg}'", 64)
        elif arg in ("-h", "--help"):
            print("(UpgradeOps Neo4j stand-in) see tests/Sandbox/images/neo4j/README.md")
            sys.exit(0)
        else:
            positional.append(arg)
        i += 1
    return options, positional


def database_argument(positional, default):
    if len(positional) > 1:
        fail(f"Unmatched arguments from index 1: {', '.join(repr(p) for p in positional[1:])}", 64)
    return positional[0] if positional else default


def in_use(db):
    return f"The database is in use. Stop database '{db}' and try again."


def lock_existing_store(db, failure=""):
    """The store lock of an existing database, or exit 1: it does not exist, or it is in use (its server holds the lock)."""
    if not os.path.exists(store_file(db)):
        fail(f"{failure}Database does not exist: {db}")
    try:
        return StoreLock(db)
    except OSError:
        fail(f"{failure}{in_use(db)}")


def write_archive(out, db, kind):
    raw = open(store_file(db), "rb").read()
    graph = json.loads(raw)
    header = {"format": 1, "kind": kind, "database": db, "neo4jVersion": VERSION, "edition": edition(),
              "lastCommittedTx": graph.get("lastCommittedTx", 1), "nodes": len(graph["nodes"]),
              "relationships": len(graph["relationships"]), "payloadBytes": len(raw),
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    out.write(MAGIC)
    out.write(json.dumps(header, sort_keys=True).encode() + b"\n")
    out.write(raw)
    out.write(b"sha256:" + hashlib.sha256(raw).hexdigest().encode() + b"\n")
    out.flush()


def read_archive(stream, source):
    """The header and the store of an archive, checked whole: magic, header, payload length and SHA-256."""
    magic = stream.read(len(MAGIC))
    if magic != MAGIC:
        fail(f"Not a valid Neo4j archive: {source}")
    header_line = stream.readline()
    try:
        header = json.loads(header_line)
        size = int(header["payloadBytes"])
    except (ValueError, KeyError, TypeError):
        fail(f"Not a valid Neo4j archive: {source} (its header is damaged)")
    payload = stream.read(size)
    trailer = stream.read(7 + 64 + 1)
    if len(payload) < size or not trailer.startswith(b"sha256:") or len(trailer) < 72:
        fail(f"The archive {source} is truncated: it ends after {len(MAGIC) + len(header_line) + len(payload) + len(trailer)} bytes, "
             f"before its {size} bytes of store and its checksum. Nothing was loaded.")
    if trailer[7:71].decode(errors="replace") != hashlib.sha256(payload).hexdigest():
        fail(f"The archive {source} is damaged: its checksum does not match its content. Nothing was loaded.")
    if stream.read(1):
        fail(f"Not a valid Neo4j archive: {source} (data after its end)")
    return header, payload


def admin(args):
    if args[:1] in (["--version"], ["-V"], ["version"]):
        print(f"neo4j-admin {VERSION}")
        return
    if len(args) < 2 or args[0] != "database":
        fail(f"Unmatched argument at index 0: '{args[0] if args else ''}'", 64)
    command, rest = args[1], args[2:]
    if command == "dump":
        options, positional = parse_options(rest, {"expand-commands", "verbose", "overwrite-destination", "to-stdout"}, {"to-path", "additional-config"})
        db = database_argument(positional, default_database())
        lock = lock_existing_store(db, f"Dump failed for databases: '{db}'\n")
        try:
            if options.get("to-stdout"):
                write_archive(sys.stdout.buffer, db, "dump")
            else:
                folder = options.get("to-path") or os.path.join(DATA, "dumps")
                target = os.path.join(folder, f"{db}.dump")
                if os.path.exists(target) and not options.get("overwrite-destination"):
                    fail(f"Dump failed for databases: '{db}'\nArchive already exists: {target}")
                os.makedirs(folder, exist_ok=True)
                with open(target + ".tmp", "wb") as f:
                    write_archive(f, db, "dump")
                os.replace(target + ".tmp", target)
        finally:
            lock.release()
        return
    if command == "load":
        options, positional = parse_options(rest, {"expand-commands", "verbose", "overwrite-destination", "from-stdin", "info"}, {"from-path", "additional-config"})
        db = database_argument(positional, default_database())
        if options.get("from-stdin"):
            stream, source = sys.stdin.buffer, "<stdin>"
        else:
            folder = options.get("from-path") or os.path.join(DATA, "dumps")
            source = os.path.join(folder, f"{db}.dump")
            if not os.path.exists(source):
                fail(f"Load failed for databases: '{db}'\nArchive does not exist: {source}")
            stream = open(source, "rb")
        if options.get("info"):
            header, payload = read_archive(stream, source)
            print(f"Database: {header['database']}\nFormat: UPGRADEOPS-GRAPHSTORE {header['format']} ({header['kind']}, {header['edition']})\n"
                  f"Files: 1\nBytes: {len(payload)}\nNodes: {header['nodes']}\nRelationships: {header['relationships']}\n"
                  f"Last committed transaction id: {header['lastCommittedTx']}\nNeo4j version: {header['neo4jVersion']}")
            return
        if os.path.exists(store_file(db)) and not options.get("overwrite-destination"):
            fail(f"Load failed for databases: '{db}'\nDatabase already exists: {db}. Use --overwrite-destination to replace it.")
        try:
            lock = StoreLock(db)
        except OSError:
            fail(f"Load failed for databases: '{db}'\n{in_use(db)}")
        try:
            header, payload = read_archive(stream, source)
            json.loads(payload)
            temp = store_file(db) + ".load"
            with open(temp, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, store_file(db))
        finally:
            lock.release()
        return
    if command == "check":
        options, positional = parse_options(rest, {"expand-commands", "verbose", "force", "check-indexes", "check-graph", "check-counts", "check-property-owners"},
                                            {"report-path", "additional-config", "threads", "max-off-heap-memory"})
        db = database_argument(positional, default_database())
        lock = lock_existing_store(db)
        try:
            graph = read_graph(db)
            ids = [n["id"] for n in graph["nodes"]]
            problems = len(ids) - len(set(ids))
            problems += sum(1 for r in graph["relationships"] if r["start"] not in set(ids) or r["end"] not in set(ids))
        finally:
            lock.release()
        if problems:
            fail(f"Inconsistencies found: {problems}. See the report.")
        print(f"Nodes: {len(graph['nodes'])}\nRelationships: {len(graph['relationships'])}\nLast committed transaction id: {graph.get('lastCommittedTx', 1)}\n"
              "Consistency check passed")
        return
    if command == "backup":
        if edition() != "enterprise":
            fail("Unmatched argument at index 1: 'backup'\nDid you mean: neo4j-admin database load or neo4j-admin database dump?", 64)
        options, positional = parse_options(rest, {"expand-commands", "verbose", "compress", "keep-failed", "parallel-recovery"},
                                            {"include-metadata", "to-path", "type", "from", "temp-path", "pagecache", "inspect-path", "additional-config"})
        db = database_argument(positional, "neo4j")
        if "to-path" not in options:
            fail("Missing required option: '--to-path=<path>'", 64)
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{http_port()}/", timeout=5).read()
        except OSError as e:
            fail(f"Backup failed for databases: '{db}'\nUnable to connect to the backup server at {options.get('from', '127.0.0.1:6362')}: {e}")
        if not os.path.exists(store_file(db)):
            fail(f"Backup failed for databases: '{db}'\nDatabase does not exist: {db}")
        os.makedirs(options["to-path"], exist_ok=True)
        target = os.path.join(options["to-path"], f"{db}-{datetime.now(timezone.utc).strftime('%Y-%m-%dT%H-%M-%S')}.backup")
        with open(target + ".tmp", "wb") as f:
            write_archive(f, db, "backup")
        os.replace(target + ".tmp", target)
        print(f"Backup command completed. {target}")
        return
    fail(f"Unmatched argument at index 1: '{command}'", 64)


# ---- cypher-shell -----------------------------------------------------------------------------------------------

def format_plain(value):
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, list):
        return "[" + ", ".join(format_plain(v) for v in value) + "]"
    return str(value)


def cypher_shell(args):
    address = os.environ.get("NEO4J_ADDRESS") or os.environ.get("NEO4J_URI") or f"neo4j://localhost:{bolt_port()}"
    user, password = os.environ.get("NEO4J_USERNAME", ""), os.environ.get("NEO4J_PASSWORD", "")
    database, fmt, statements = os.environ.get("NEO4J_DATABASE", ""), "auto", []
    i = 0
    while i < len(args):
        arg = args[i]
        value = args[i + 1] if i + 1 < len(args) else None
        if arg in ("-a", "--address", "--uri"):
            address, i = value, i + 1
        elif arg in ("-u", "--username"):
            user, i = value, i + 1
        elif arg in ("-p", "--password"):
            password, i = value, i + 1
        elif arg.startswith("-p") and len(arg) > 2:
            password = arg[2:]
        elif arg in ("-d", "--database"):
            database, i = value, i + 1
        elif arg == "--format":
            fmt, i = value, i + 1
        elif arg in ("--non-interactive",):
            pass
        elif arg.startswith("-"):
            fail(f"cypher-shell: error: unrecognized arguments: '{arg}'", 1)
        else:
            statements.append(arg)
        i += 1
    if not statements:
        statements = [s for s in split_top(sys.stdin.read(), ";") if s.strip()]
    host_port = re.sub(r"^[a-z0-9+]+://", "", address).rstrip("/")
    host, _, port = host_port.rpartition(":")
    port = int(port) if port.isdigit() else bolt_port()
    # No Bolt here: the Bolt address the server listens on is reached through its HTTP API.
    url_port = http_port() if port == bolt_port() else port
    database = database or default_database()
    body = json.dumps({"statements": [{"statement": s} for s in statements]}).encode()
    request = urllib.request.Request(f"http://{'127.0.0.1' if host in ('', 'localhost') else host}:{url_port}/db/{urllib.request.quote(database)}/tx/commit", data=body,
                                     headers={"Content-Type": "application/json", "Accept": "application/json", "X-Standin-Bolt": "1"})
    if user or password:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as e:
        try:
            answer = json.loads(e.read())
        except ValueError:
            fail(f"Unexpected HTTP {e.code} from {address}")
        if e.code == 503:
            fail(f"Unable to connect to {host_port}, ensure the database is running and that there is a working network connection to it.")
    except OSError:
        fail(f"Unable to connect to {host_port}, ensure the database is running and that there is a working network connection to it.")
    for result in answer.get("results", []):
        if result["columns"]:
            print(", ".join(result["columns"]))
            for row in result["data"]:
                print(", ".join(format_plain(v) for v in row["row"]))
    if answer.get("errors"):
        fail(answer["errors"][0]["message"])


# ---- the sandbox's graph users ------------------------------------------------------------------

def client(args):
    """infrahub-server (`client api PORT`): answers /health after reading the graph's node count; task-worker
    (`client worker`): reads the count every 2 s and marks itself healthy in /tmp/healthy. Both use the graph as
    NEO4J_USERNAME/NEO4J_PASSWORD (Infrahub's INFRAHUB_DB_* values) let them."""
    def count():
        body = json.dumps({"statements": [{"statement": "MATCH (n) RETURN count(n)"}]}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{http_port()}/db/{default_database()}/tx/commit", data=body,
                                         headers={"Content-Type": "application/json"})
        user, password = os.environ.get("INFRAHUB_DB_USERNAME", "neo4j"), os.environ.get("INFRAHUB_DB_PASSWORD", "")
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
        with urllib.request.urlopen(request, timeout=5) as response:
            answer = json.loads(response.read())
        if answer["errors"]:
            raise OSError(answer["errors"][0]["message"])
        return answer["results"][0]["data"][0]["row"][0]

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args[:1] == ["worker"]:
        while True:
            try:
                count()
                open("/tmp/healthy", "w").close()
            except OSError as e:
                print(f"graph unavailable: {e}", flush=True)
                if os.path.exists("/tmp/healthy"):
                    os.unlink("/tmp/healthy")
            time.sleep(2)

    port = int(args[1]) if len(args) > 1 else 18000

    class Api(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            try:
                nodes = count()
                status, body = 200, {"status": "ok", "nodes": nodes}
            except OSError as e:
                status, body = 503, {"status": "graph unavailable", "error": str(e)}
            send_json(self, status, body)

    QuietHTTPServer(("127.0.0.1", port), Api).serve_forever()


def main():
    tool, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("init", [])
    if tool == "init":
        init(args)
    elif tool == "neo4j":
        if args[:1] != ["console"]:
            fail("The stand-in runs only in the foreground: neo4j console", 64)
        console()
    elif tool == "neo4j-admin":
        admin(args)
    elif tool == "cypher-shell":
        cypher_shell(args)
    elif tool == "client":
        client(args)
    else:
        fail(f"unknown tool {tool}", 64)


if __name__ == "__main__":
    main()
