"""Configuration from the environment (the compose file's x-app-config block)."""
import os
import re
import socket

from . import VERSION, has, error, EXIT_CONFIGURATION


def _int(name, default):
    value = os.environ.get(name, "")
    try:
        return int(value) if value.strip() else default
    except ValueError:
        return default


def container_id():
    """The short container id (with host networking the hostname is the host's)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as handle:
            for line in handle:
                match = re.search(r"/containers/([0-9a-f]{64})/", line)
                if match:
                    return match.group(1)[:12]
    except OSError:
        pass
    return None


class Config:
    def __init__(self, env=None):
        env = os.environ if env is None else env
        get = lambda name, default="": (env.get(name) or "").strip() or default  # noqa: E731
        self.db_address = get("APP_DB_ADDRESS", "127.0.0.1")
        self.db_port = _int("APP_DB_PORT", 55432)
        self.db_name = get("APP_DB_DATABASE", "sandbox")
        self.db_user = get("APP_DB_USERNAME", "sandbox")
        self.db_password = env.get("APP_DB_PASSWORD", "")
        self.db_wait_seconds = _int("APP_DB_WAIT_SECONDS", 60)
        self.cache_address = get("APP_CACHE_ADDRESS", "127.0.0.1")
        self.cache_port = _int("APP_CACHE_PORT", 56379)
        self.cache_database = _int("APP_CACHE_DATABASE", 0)
        self.bind = get("APP_BIND", "127.0.0.1")
        self.port = _int("APP_PORT", 58001)
        self.storage_path = get("APP_STORAGE_PATH", "/opt/sandbox/storage")
        self.repositories_path = get("APP_GIT_REPOSITORIES_DIRECTORY", "/opt/sandbox/repositories")
        self.log_level = get("APP_LOG_LEVEL", "INFO")
        self.signing_key = env.get("APP_SIGNING_KEY", "").strip()
        self.batch_size = max(1, _int("APP_MIGRATION_BATCH_SIZE", 5000))
        self.batch_delay_ms = max(0, _int("APP_MIGRATION_BATCH_DELAY_MS", 0))
        self.worker_poll_seconds = max(1, _int("APP_WORKER_POLL_SECONDS", 2))
        self.instance = container_id() or socket.gethostname()

    def require(self):
        """Exit 3 when a configuration value this version needs is missing."""
        if has("signing_key_required") and not self.signing_key:
            error("configuration value APP_SIGNING_KEY is required since %s" % "2.0.0")
            error("set APP_SIGNING_KEY (for example in the deployment's .env) and start again")
            raise SystemExit(EXIT_CONFIGURATION)

    def public(self):
        """The configuration as /api/config shows it: no password, key or other secret value."""
        return {
            "main": {"version": VERSION, "log_level": self.log_level},
            "database": {
                "driver": "postgresql",
                "address": self.db_address,
                "port": self.db_port,
                "database": self.db_name,
                "username": self.db_user,
            },
            "cache": {
                "driver": "redis",
                "address": self.cache_address,
                "port": self.cache_port,
                "database": self.cache_database,
            },
            "storage": {"driver": "local", "local_path": self.storage_path},
            "git": {"repositories_directory": self.repositories_path},
            "security": {"signing_key_configured": bool(self.signing_key),
                         "signing_key_required": has("signing_key_required")},
            "migration": {"batch_size": self.batch_size},
            "api": {"bind": self.bind, "port": self.port},
        }
