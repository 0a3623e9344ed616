"""Tests leave the shared Triton server as they found it. Each loaded version is a python-backend stub
process (~0.4 GB, ~1 GB after a bulk embed) on a server `make services` keeps between runs, so a test
that deploys removes what it deployed, pass or fail, and the suite checks the loaded models at its end
(tests/conftest.py)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Collection
from pathlib import Path

import httpx

from functions.config import AppConfig
from functions.context import Context
from functions.deployment.logic import triton_name
from functions.deployment.triton_config import parse_served_name
from functions.errors import Unavailable
from jobs.triton.server import TritonModelServer

# Triton model names this session deploys without registering them in its MLflow store
# (test_triton_serving's exports); indexes register theirs (embedloop-<index>).
OWNED: set[str] = set()


async def remove_models(config: AppConfig, models: Collection[str]) -> list[str]:
    """Unload every version of these Triton models and delete their files; the versions removed."""
    if not models:
        return []
    server = TritonModelServer(config)
    removed: list[str] = []
    try:
        for row in await server.served():
            if row.triton_model in models:
                # One that will not go must not keep the others loaded; the session check reports it.
                with contextlib.suppress(Unavailable):
                    await server.remove_version(row.triton_model, row.triton_version)
                    removed.append(f"{row.triton_model}_v{row.triton_version}")
    finally:
        await server.close()
    return removed


async def undeploy_recorded(ctx: Context) -> None:
    """Remove what the test database says is deployed: this test's deployments (the ctx fixture
    empties the tables before each test), blue or not, whatever state the test left them in."""
    if ctx.deployments is None:
        return
    rows = await ctx.deployments.all()
    await remove_models(ctx.config, {row.triton_model for row in rows})
    for row in rows:
        await ctx.deployments.remove(row.id)


def loaded_versions(config: AppConfig) -> set[str] | None:
    """Triton's READY models (its repository index); None when no server answers."""
    try:
        response = httpx.post(
            f"{config.deployment.http_url}/v2/repository/index", json={"ready": True}, timeout=10
        )
        response.raise_for_status()
    except httpx.HTTPError:
        return None
    return {str(m["name"]) for m in response.json() if m.get("state") == "READY"}


def session_models() -> set[str]:
    """Triton model names this session made: its indexes' registered models (the session's own MLflow
    store, tests/conftest.py) and OWNED."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    path = Path(uri.removeprefix("sqlite:///"))
    names: set[str] = set(OWNED)
    if uri.startswith("sqlite:///") and path.exists():
        # suppress: a store without registry tables yet has no models
        with contextlib.closing(sqlite3.connect(path)) as db, contextlib.suppress(sqlite3.OperationalError):
            names |= {triton_name(r[0]) for r in db.execute("SELECT name FROM registered_models")}
    return names


def leaked(before: set[str], after: set[str], mine: set[str]) -> tuple[list[str], list[str]]:
    """Versions READY now and not before: (this session's, anyone else's)."""
    new = sorted(after - before)
    ours = [name for name in new if (parse_served_name(name) or ("", 0))[0] in mine]
    return ours, [name for name in new if name not in ours]
