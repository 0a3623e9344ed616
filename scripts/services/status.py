"""`python -m scripts.services status`: one line per service, and whether all answer."""

from __future__ import annotations

import urllib.request

from scripts.services import triton
from scripts.services.common import ServiceError, redact
from scripts.services.postgres import is_running, verify
from scripts.services.redis import our_pid, ping
from scripts.services.settings import Settings, env_url


def _postgres_status(settings: Settings) -> tuple[str, str, bool]:
    pg = settings.postgres
    external = env_url("DATABASE_URL", pg.host, pg.port)
    for url, state in ((external, "external"), (pg.url(), "running")):
        if url is not None:
            try:
                return state, f"{redact(url)} ({verify(url, pg.min_pgvector).describe()})", True
            except ServiceError:
                continue  # like `start`: an unusable DATABASE_URL falls back to the embedded server
    return ("unhealthy" if is_running(pg) else "stopped"), pg.url(), False


def _redis_status(settings: Settings) -> tuple[str, str, bool]:
    rs = settings.redis
    external = env_url("REDIS_URL", rs.host, rs.port)
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
    external = env_url("TRITON_URL", ts.host, ts.http_port)
    if external and triton.live(external):
        return "external", redact(external), True
    if triton.live(ts.http_url):
        return ("running" if triton.our_pid(ts) else "foreign"), ts.http_url, True
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
