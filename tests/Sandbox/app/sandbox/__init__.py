"""UpgradeOps sandbox application: a small service that speaks the same API as Infrahub.

One code base, several released versions: the version is baked into each image as the file
/opt/sandbox/VERSION (see tests/Sandbox/images/app/Dockerfile) and selects the behaviour in
RELEASES and FEATURES below.
"""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


def _read_version():
    for candidate in (os.path.join(os.path.dirname(_HERE), "VERSION"), "/opt/sandbox/VERSION"):
        try:
            with open(candidate, encoding="utf-8") as handle:
                value = handle.read().strip()
                if value:
                    return value
        except OSError:
            pass
    return "0.0.0"


VERSION = _read_version()

# Released versions and what they are known for (documented in tests/Sandbox/README.md).
RELEASES = {
    "1.6.4": "first release with the artifact and repository API",
    "1.7.5": "repositories track a branch",
    "1.7.6": "patch: artifacts record their size (migration safe with 1.7.x servers running)",
    "1.7.7": "WITHDRAWN: its migration fails and is rolled back",
    "1.8.0": "data migration: every artifact and bulk record is rewritten in batches",
    "2.0.0": "major: artifacts are signed, APP_SIGNING_KEY is required",
}

# Behaviour switched on from a version on.
FEATURES = {
    "repository_branch": "1.7.5",      # repositories.default_branch (renamed to ref in 2.0.0)
    "artifact_size": "1.7.6",          # artifacts.size_bytes
    "checksum_algorithm": "1.8.0",     # artifacts.checksum_algorithm, bulk_records.format_version
    "signature": "2.0.0",              # artifacts.signature, repositories.ref
    "signing_key_required": "2.0.0",   # APP_SIGNING_KEY must be set
}


def parse_version(text):
    parts = []
    for piece in str(text).split("-")[0].split("."):
        try:
            parts.append(int(piece))
        except ValueError:
            parts.append(0)
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts[:3])


def has(feature, version=None):
    return parse_version(version or VERSION) >= parse_version(FEATURES[feature])


def log(level, message):
    """One line per event on stdout; errors start with ERROR."""
    sys.stdout.write("%s %s\n" % (level, message))
    sys.stdout.flush()


def info(message):
    log("INFO", message)


def warn(message):
    log("WARN", message)


def error(message):
    log("ERROR", message)


# Exit codes shared by every role (documented in the README).
EXIT_OK = 0
EXIT_FAILURE = 1           # migration failed, database unreachable, unexpected error
EXIT_SCHEMA_OLDER = 2      # migrations pending: run the upgrade command (also `upgrade --check`)
EXIT_CONFIGURATION = 3     # a required configuration value is missing
EXIT_SCHEMA_NEWER = 4      # the database was migrated by a newer version: downgrades are refused
