"""Helpers of the loader tests: a Context that allows one temporary folder, upserts run to their end."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec

from app.main import create_app
from functions.context import Context
from tests.conftest import auth
from tests.support.data_plane import Client, run_gpu_jobs

Env = tuple[Context, Client, Path]


@asynccontextmanager
async def source_env(ctx: Context, tmp_path: Path) -> AsyncIterator[Env]:
    """A Context (and a client on it) whose JSONL allowlist is one folder of tmp_path, reading two
    records per batch (so every source spans several) and at most ten per source."""
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    upsertion = msgspec.structs.replace(
        ctx.config.upsertion, jsonl_roots=(str(allowed),), source_batch_size=2, max_source_items=10
    )
    local = with_upsertion(ctx, upsertion)
    transport = httpx.ASGITransport(app=create_app(context=local))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield local, client, allowed


def with_upsertion(ctx: Context, upsertion: Any) -> Context:
    """The Context with other upsertion settings (the worker and the routes read them per call)."""
    return dataclasses.replace(ctx, config=msgspec.structs.replace(ctx.config, upsertion=upsertion))


def field_of(response: httpx.Response) -> tuple[int, str]:
    """Status and the `field` a problem response names."""
    return response.status_code, str(response.json().get("field"))


async def run(client: Client, ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    """POST an upsert, run the gpu pool, and return the ended task."""
    response = await client.post("/items/upsert", json=body, headers=auth())
    assert response.status_code == 202, response.text
    await run_gpu_jobs(ctx)
    return await task_of(client, response.json()["task_id"])


async def task_of(client: Client, task_id: str) -> dict[str, Any]:
    """The task as the API shows it."""
    task: dict[str, Any] = (await client.get(f"/tasks/{task_id}", headers=auth())).json()
    return task


def write_lines(path: Path, lines: list[str]) -> str:
    """Write a JSONL file; its path as a string."""
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)
