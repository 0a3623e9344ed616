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
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir

from scripts import service_triton
from scripts.service_common import ServiceError, redact, same_endpoint
from scripts.service_postgres import (
    PostgresSettings,
    database_name,
    ensure_database,
    is_running,
    start_embedded,
    stop_embedded,
    verify,
    with_database,
)
from scripts.service_redis import RedisSettings, our_pid, ping, start_own, stop_own
from scripts.service_triton import TritonSettings

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    """The `services` config group, with paths made absolute."""

    data_dir: Path
    postgres: PostgresSettings
    redis: RedisSettings
    mlflow_tracking_uri: str
    mlflow_artifacts_uri: str
    triton: TritonSettings

    @property
    def env_file(self) -> Path:
        """Where `start` records the URLs for other processes."""
        return self.data_dir / "services.env"

    @property
    def test_database(self) -> str:
        """Name of the embedded test database."""
        return f"{self.postgres.database}_test"


def load_settings(overrides: Sequence[str]) -> Settings:
    """Compose conf/config.yaml with Hydra and read its `services` group."""
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides))
    svc = cfg.services
    data_dir = Path(str(svc.data_dir))
    data_dir = data_dir if data_dir.is_absolute() else REPO_ROOT / data_dir
    pg = svc.postgres
    postgres = PostgresSettings(
        str(pg.host), int(pg.port), str(pg.database), str(pg.user), str(pg.min_pgvector), data_dir
    )
    redis_settings = RedisSettings(str(svc.redis.host), int(svc.redis.port), data_dir)
    mlflow = svc.mlflow
    tracking = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{data_dir / str(mlflow.backend_db)}"
    artifacts = os.environ.get("MLFLOW_ARTIFACTS_URI") or str(data_dir / str(mlflow.artifacts_dir))
    return Settings(
        data_dir, postgres, redis_settings, tracking, artifacts, _triton(cfg.deployment, data_dir)
    )


def _triton(deployment: Any, data_dir: Path) -> TritonSettings:
    server = deployment.server
    repository = Path(str(deployment.repository or data_dir / "triton" / "models"))
    return TritonSettings(
        host=str(server.host),
        http_port=int(server.http_port),
        grpc_port=int(server.grpc_port),
        exit_timeout_s=int(server.exit_timeout_s),
        data_dir=data_dir,
        repository=repository if repository.is_absolute() else REPO_ROOT / repository,
    )


def _env_url(name: str, host: str, port: int) -> str | None:
    # An URL pointing at our own endpoint (e.g. exported from services.env) is not an external service.
    url = os.environ.get(name)
    return None if not url or same_endpoint(url, host, port) else url


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
    external = _env_url("DATABASE_URL", pg.host, pg.port)
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
    external = _env_url("REDIS_URL", rs.host, rs.port)
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
    external = _env_url("TRITON_URL", ts.host, ts.http_port)
    if external:
        if service_triton.live(external):
            print(f"triton: using external {redact(external)}")
            grpc = os.environ.get("TRITON_GRPC_URL", "")
            return external, grpc
        print(f"triton: TRITON_URL {redact(external)} is not live; using our own server")
    began = time.monotonic()
    try:
        action = service_triton.start_own(ts)
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
        triton = start_triton(settings)
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
            **({"TRITON_URL": triton[0], "TRITON_GRPC_URL": triton[1]} if triton else {}),
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
        print(f"triton: {service_triton.stop_own(settings.triton)}")
    return 0


def _postgres_status(settings: Settings) -> tuple[str, str, bool]:
    pg = settings.postgres
    external = _env_url("DATABASE_URL", pg.host, pg.port)
    for url, state in ((external, "external"), (pg.url(), "running")):
        if url is not None:
            try:
                return state, f"{redact(url)} ({verify(url, pg.min_pgvector).describe()})", True
            except ServiceError:
                continue  # like `start`: an unusable DATABASE_URL falls back to the embedded server
    return ("unhealthy" if is_running(pg) else "stopped"), pg.url(), False


def _redis_status(settings: Settings) -> tuple[str, str, bool]:
    rs = settings.redis
    external = _env_url("REDIS_URL", rs.host, rs.port)
    if external and ping(external):
        return "external", redact(external), True
    if ping(rs.url):
        return ("running" if our_pid(rs) else "foreign"), rs.url, True
    return "stopped", rs.url, False


def _mlflow_status(settings: Settings) -> tuple[str, str, bool]:
    uri = settings.mlflow_tracking_uri
    if not uri.startswith("http"):
        return "local", uri, True  # a sqlite/file store: nothing runs, nothing can be down
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=2):
            return "external", uri, True
    except OSError:
        return "stopped", uri, False


def _triton_status(settings: Settings) -> tuple[str, str, bool]:
    ts = settings.triton
    external = _env_url("TRITON_URL", ts.host, ts.http_port)
    if external and service_triton.live(external):
        return "external", redact(external), True
    if service_triton.live(ts.http_url):
        return ("running" if service_triton.our_pid(ts) else "foreign"), ts.http_url, True
    return "stopped", ts.http_url, False


def cmd_status(settings: Settings) -> int:
    """One line per service; exit 1 if any needed service is down."""
    rows = [
        ("postgres", _postgres_status(settings)),
        ("redis", _redis_status(settings)),
        ("mlflow", _mlflow_status(settings)),
        ("triton", _triton_status(settings)),
    ]
    for name, (state, url, _) in rows:
        print(f"{name:<9} {state:<9} {url}")
    return 0 if all(up for _, (_, _, up) in rows) else 1


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
