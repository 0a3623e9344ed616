"""Start, stop and report the backing services (PostgreSQL + pgvector, Redis, MLflow store, Triton).

Usage: python -m scripts.services start|stop|status|env [hydra overrides...]

Services named by DATABASE_URL / REDIS_URL / MLFLOW_TRACKING_URI / TRITON_URL are used as they are when
usable; otherwise we run our own (embedded PostgreSQL 18 + pgvector, a private redis-server, sqlite
MLflow, the tritonserver bundled in nvidia-pytriton).
`start` writes <data_dir>/services.env, which jobs/envfile.py loads into other processes.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from scripts.services import triton
from scripts.services.common import ServiceError, redact
from scripts.services.postgres import (
    database_name,
    ensure_database,
    start_embedded,
    stop_embedded,
    verify,
    with_database,
)
from scripts.services.redis import ping, start_own, stop_own
from scripts.services.settings import Settings, env_url, load_settings
from scripts.services.status import cmd_status


@contextmanager
def _lock(settings: Settings) -> Iterator[None]:
    # Two concurrent `start`s (parallel test sessions) must not race initdb or bind the same port twice.
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.data_dir / ".services.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _external_test_url(url: str, min_pgvector: str) -> str:
    given = os.environ.get("TEST_DATABASE_URL")
    test_url = given or with_database(url, f"{database_name(url)}_test")
    try:
        # Only a derived name is ours to create; an explicit TEST_DATABASE_URL is only checked.
        verify(test_url, min_pgvector) if given else ensure_database(test_url, min_pgvector, admin_url=url)
    except ServiceError as exc:
        print(f"postgres: warning: test database not ready: {exc}")
    return test_url


def start_postgres(settings: Settings) -> tuple[str, str]:
    """Use DATABASE_URL when usable, else start the embedded server; return (url, test url)."""
    pg = settings.postgres
    external = env_url("DATABASE_URL", pg.host, pg.port)
    if external:
        try:
            info = verify(external, pg.min_pgvector)
            print(f"postgres: using external {redact(external)} ({info.describe()})")
            return external, _external_test_url(external, pg.min_pgvector)
        except ServiceError as exc:
            print(f"postgres: DATABASE_URL not usable ({exc}); using the embedded server")
    began = time.monotonic()
    action, info = start_embedded(pg, settings.test_database)
    print(
        f"postgres: {action} embedded {info.describe()} on {pg.host}:{pg.port} "
        f"({time.monotonic() - began:.1f} s)"
    )
    return pg.url(), pg.url(settings.test_database)


def start_redis(settings: Settings) -> str:
    """Use REDIS_URL when it answers PING, else start our own server; return its URL."""
    rs = settings.redis
    external = env_url("REDIS_URL", rs.host, rs.port)
    if external:
        if ping(external):
            print(f"redis: using external {redact(external)}")
            return external
        print(f"redis: REDIS_URL {redact(external)} does not answer PING; using our own server")
    began = time.monotonic()
    action = start_own(rs)
    print(f"redis: {action} on {rs.host}:{rs.port} ({time.monotonic() - began:.1f} s)")
    # REDIS_URL naming our own endpoint is kept as written (it may select another database number).
    own = os.environ.get("REDIS_URL")
    return own if own and external is None else rs.url


def start_triton(settings: Settings) -> tuple[str, str] | None:
    """Use TRITON_URL when live, else start the bundled server; (http url, grpc url), None if it cannot."""
    ts = settings.triton
    external = env_url("TRITON_URL", ts.host, ts.http_port)
    if external:
        if triton.live(external):
            print(f"triton: using external {redact(external)}")
            grpc = os.environ.get("TRITON_GRPC_URL", "")
            return external, grpc
        print(f"triton: TRITON_URL {redact(external)} is not live; using our own server")
    began = time.monotonic()
    try:
        action = triton.start_own(ts)
    except ServiceError as exc:  # the other services stay usable; deployment tests report it
        print(f"triton: warning: not started: {exc}")
        return None
    print(f"triton: {action} on {ts.http_url} / {ts.grpc_url} ({time.monotonic() - began:.1f} s)")
    return ts.http_url, ts.grpc_url


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Write KEY=VALUE lines atomically (temp file + rename), owner-only (URLs may hold passwords)."""
    lines = [f"{key}={value}\n" for key, value in values.items()]
    text = "# written by `python -m scripts.services start`\n" + "".join(lines)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".services.", delete=False) as handle:
        handle.write(text)
    os.replace(handle.name, path)


def cmd_start(settings: Settings) -> int:
    """Start what is missing and record the URLs."""
    with _lock(settings):
        database_url, test_url = start_postgres(settings)
        redis_url = start_redis(settings)
        triton_urls = start_triton(settings)
    if settings.mlflow_artifacts_uri.startswith("/"):
        Path(settings.mlflow_artifacts_uri).mkdir(parents=True, exist_ok=True)
    print(f"mlflow: tracking {settings.mlflow_tracking_uri}, artifacts {settings.mlflow_artifacts_uri}")
    write_env_file(
        settings.env_file,
        {
            "DATABASE_URL": database_url,
            "TEST_DATABASE_URL": test_url,
            "REDIS_URL": redis_url,
            "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
            "MLFLOW_ARTIFACTS_URI": settings.mlflow_artifacts_uri,
            **({"TRITON_URL": triton_urls[0], "TRITON_GRPC_URL": triton_urls[1]} if triton_urls else {}),
        },
    )
    print(f"wrote {settings.env_file}")
    return 0


def cmd_stop(settings: Settings) -> int:
    """Stop what we started; external services are never touched."""
    with _lock(settings):
        stopped = stop_embedded(settings.postgres)
        print(f"postgres: {'stopped embedded server' if stopped else 'embedded server not running'}")
        print(f"redis: {stop_own(settings.redis)}")
        print(f"triton: {triton.stop_own(settings.triton)}")
    return 0


def cmd_env(settings: Settings) -> int:
    """Print services.env."""
    if not settings.env_file.exists():
        print(f"{settings.env_file} does not exist: run `python -m scripts.services start`", file=sys.stderr)
        return 1
    print(settings.env_file.read_text(), end="")
    return 0


COMMANDS: dict[str, Callable[[Settings], int]] = {
    "start": cmd_start,
    "stop": cmd_stop,
    "status": cmd_status,
    "env": cmd_env,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m scripts.services", description="Backing services.")
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. services.postgres.port=55432")
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](load_settings(args.overrides))
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
