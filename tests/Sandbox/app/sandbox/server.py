"""The `server` role: the HTTP API on APP_BIND:APP_PORT (127.0.0.1:58001 by default)."""
import json
import sys
import os
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

import psycopg2
import redis

from . import VERSION, info, warn, error
from .api import Backend, build_schema
from .config import Config
from .db import connect_or_exit, check_schema_or_exit

ROLE_FILE = "/tmp/sandbox-role"


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = {}
        self.started = time.time()

    def count(self, status):
        with self.lock:
            self.requests[status] = self.requests.get(status, 0) + 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "UpgradeOpsSandbox/" + VERSION
    sys_version = ""
    timeout = 30
    disable_nagle_algorithm = True  # headers and body leave at once (no 40 ms delayed-ACK stall)
    app = None  # set by serve()

    def log_message(self, format, *args):  # noqa: A002 - the default access log is replaced by _log
        pass

    def _send(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else (json.dumps(body) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if self.server.draining:
            # Stopping: the proxy must not send another request on this connection.
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self._status = status

    def _send_error(self, status, message):
        """Answers an error; a client that already went away gets nothing, and the log line says so."""
        try:
            self._send(status, {"errors": [{"message": message}]})
            return ""
        except (BrokenPipeError, ConnectionResetError):
            return " (the client went away before the answer)"

    def _log(self, started, note=""):
        status = getattr(self, "_status", 0)
        level = "ERROR" if status >= 500 or getattr(self, "_graphql_errors", False) else "INFO"
        line = "%s %s %s %d %.1fms" % (level, self.command, urlsplit(self.path).path, status,
                                       (time.monotonic() - started) * 1000)
        print(line + (" " + note if note else ""), flush=True)
        self.app.stats.count(status)

    def setup(self):
        super().setup()
        self.server.track(self)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.untrack(self)

    def _handle(self, method):
        started = time.monotonic()
        if not self.server.begin(self):
            # Drained between reading the request and answering it: nothing is sent, so the proxy retries elsewhere.
            self.close_connection = True
            return
        self._status, self._graphql_errors, note = 0, False, ""
        url = urlsplit(self.path)
        try:
            injected_delay()
            if method == "POST":
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length > 0 else b""
            else:
                body = b""
            note = self.app.route(self, method, url, body) or ""
        except (BrokenPipeError, ConnectionResetError) as exc:
            # The client went away (a probe's timeout, a proxy's retry): nothing to answer, not a server error.
            note = "client went away (%s)" % type(exc).__name__
            self._status = 499
        except (psycopg2.Error, redis.RedisError) as exc:
            note = "%s: %s" % (type(exc).__name__, str(exc).strip().splitlines()[0] if str(exc).strip() else "")
            note += self._send_error(503, "service unavailable: a backing service failed")
        except Exception as exc:  # noqa: BLE001 - answer 500 and log, never crash the thread
            note = "%s: %s" % (type(exc).__name__, exc)
            note += self._send_error(500, "internal server error")
        finally:
            self._log(started, note)
            if self.server.end(self):
                self.close_connection = True

    def do_GET(self):  # noqa: N802
        self._handle("GET")

    def do_HEAD(self):  # noqa: N802
        self._handle("GET")

    def do_POST(self):  # noqa: N802
        self._handle("POST")


class Server(ThreadingHTTPServer):
    """Stops as a production server does on SIGTERM: no new connections, idle keep-alive connections closed, and every
    request already being answered finished before the process exits. Exiting with a half-written answer made a proxy
    cut its client's response (a failed request in a rolling upgrade), where a connection closed before any byte of an
    answer is one the proxy retries on another server."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.connections = {}  # handler -> answering a request now
        self.connections_lock = threading.Lock()
        self.draining = False

    def track(self, handler):
        with self.connections_lock:
            self.connections[handler] = False

    def untrack(self, handler):
        with self.connections_lock:
            self.connections.pop(handler, None)

    def begin(self, handler):
        """Marks the connection busy; False when the drain already closed it."""
        with self.connections_lock:
            if handler not in self.connections:
                return False
            self.connections[handler] = True
            return True

    def end(self, handler):
        """Marks the connection idle; True when it must close (draining)."""
        with self.connections_lock:
            if handler in self.connections:
                self.connections[handler] = False
            return self.draining

    def drain(self, timeout):
        """Closes idle connections until none is left or the timeout passes; returns how many were still answering."""
        deadline = time.monotonic() + timeout
        while True:
            with self.connections_lock:
                self.draining = True
                # Closed under the lock, so that no request starts on a connection being closed.
                for handler in [h for h, busy in self.connections.items() if not busy]:
                    del self.connections[handler]
                    try:
                        handler.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                left = len(self.connections)
            if left == 0 or time.monotonic() >= deadline:
                return left
            time.sleep(0.02)

    def handle_error(self, request, client_address):
        # A connection the client reset while its request was read is logged as such, without a traceback.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            print("INFO connection from %s:%s closed by the client" % client_address[:2], flush=True)
            return
        super().handle_error(request, client_address)


class App:
    def __init__(self, cfg):
        self.cfg = cfg
        self.backend = Backend(cfg)
        self.schema = build_schema()
        self.stats = Stats()

    def route(self, handler, method, url, body):
        path = url.path.rstrip("/") or "/"
        if path == "/api/info" and method == "GET":
            handler._send(200, {"deployment_id": self.backend.deployment_id(), "version": VERSION})
        elif path == "/api/config" and method == "GET":
            handler._send(200, self.cfg.public())
        elif path == "/health" and method == "GET":
            return self.health(handler)
        elif path == "/graphql":
            return self.graphql(handler, method, url, body)
        elif path == "/metrics" and method == "GET":
            handler._send(200, self.metrics().encode("utf-8"), "text/plain; version=0.0.4")
        elif path in ("/api/info", "/api/config", "/health", "/metrics"):
            handler._send(405, {"errors": [{"message": "method not allowed"}]})
        else:
            handler._send(404, {"errors": [{"message": "not found: %s" % url.path}]})
        return ""

    def health(self, handler):
        checks, notes = {}, []
        for name, check in (("database", self.backend.check_database), ("cache", self.backend.check_cache)):
            try:
                check()
                checks[name] = "ok"
            except Exception as exc:  # noqa: BLE001
                checks[name] = "error"
                notes.append("%s: %s" % (name, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__))
        ok = all(v == "ok" for v in checks.values())
        handler._send(200 if ok else 503, {"status": "ok" if ok else "error", "checks": checks, "version": VERSION})
        return "; ".join(notes)

    def graphql(self, handler, method, url, body):
        if method == "GET":
            params = parse_qs(url.query)
            request = {"query": (params.get("query") or [""])[0]}
            if params.get("variables"):
                try:
                    request["variables"] = json.loads(params["variables"][0])
                except ValueError:
                    request["variables"] = None
        else:
            try:
                request = json.loads(body.decode("utf-8") or "null")
            except (ValueError, UnicodeDecodeError) as exc:
                handler._send(400, {"errors": [{"message": "request body is not valid JSON: %s" % exc}]})
                return "bad JSON"
        if not isinstance(request, dict) or not isinstance(request.get("query"), str) or not request["query"].strip():
            handler._send(400, {"errors": [{"message": "expected a JSON object with a \"query\" string"}]})
            return "no query"
        variables = request.get("variables") or {}
        if not isinstance(variables, dict):
            handler._send(400, {"errors": [{"message": "\"variables\" must be a JSON object"}]})
            return "bad variables"
        if method == "GET" and request["query"].lstrip().startswith("mutation"):
            handler._send(405, {"errors": [{"message": "mutations must use POST"}]})
            return "mutation over GET"
        response = self.schema.execute(request["query"], variables, request.get("operationName"), self.backend)
        errors = response.get("errors")
        handler._graphql_errors = bool(errors)
        handler._send(200, response)
        return ("graphql: " + "; ".join(e["message"] for e in errors)) if errors else ""

    def metrics(self):
        lines = ["# HELP sandbox_build_info The running sandbox version.",
                 "# TYPE sandbox_build_info gauge",
                 'sandbox_build_info{version="%s"} 1' % VERSION,
                 "# TYPE sandbox_http_requests_total counter"]
        with self.stats.lock:
            for status, count in sorted(self.stats.requests.items()):
                lines.append('sandbox_http_requests_total{status="%s"} %d' % (status, count))
        lines.append("# TYPE sandbox_uptime_seconds gauge")
        lines.append("sandbox_uptime_seconds %.0f" % (time.time() - self.stats.started))
        try:
            lines.append("# TYPE sandbox_artifacts gauge")
            for row in self.backend.query("SELECT status, count(*) AS n FROM artifacts GROUP BY status ORDER BY status"):
                lines.append('sandbox_artifacts{status="%s"} %d' % (row["status"], row["n"]))
        except psycopg2.Error:
            pass
        return "\n".join(lines) + "\n"


def injected_delay():
    """Test knob: the milliseconds written to /tmp/sandbox-delay-ms slow every request (a slowed-down server)."""
    try:
        with open("/tmp/sandbox-delay-ms", encoding="utf-8") as handle:
            time.sleep(float(handle.read().strip() or 0) / 1000)
    except (OSError, ValueError):
        pass


def serve(cfg=None):
    cfg = cfg or Config()
    cfg.require()
    conn = connect_or_exit(cfg, "server")
    try:
        check_schema_or_exit(conn, "server")
    finally:
        conn.close()
    app = App(cfg)
    Handler.app = app
    try:
        httpd = Server((cfg.bind, cfg.port), Handler)
    except OSError as exc:
        error("cannot listen on %s:%s: %s" % (cfg.bind, cfg.port, exc))
        return 1
    httpd.daemon_threads = True
    with open(ROLE_FILE, "w", encoding="utf-8") as handle:
        handle.write("server %d\n" % cfg.port)

    def stop(signum, frame):
        info("received signal %d: shutting down" % signum)
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    info("sandbox %s server listening on http://%s:%d (instance %s, pid %d)"
         % (VERSION, cfg.bind, cfg.port, cfg.instance, os.getpid()))
    try:
        app.backend.deployment_id()
    except Exception as exc:  # noqa: BLE001
        warn("could not warm the deployment id: %s" % exc)
    # How long a SIGTERM waits for the accept loop to notice: every replica of a rolling upgrade pays it once.
    httpd.serve_forever(poll_interval=0.05)
    httpd.server_close()
    # Docker waits 30 s (the upgrade's stop timeout) before it kills: answers in progress get most of that.
    left = httpd.drain(timeout=20)
    info("server stopped" + (" (%d answers were cut off)" % left if left else ""))
    return 0
