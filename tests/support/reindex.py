"""Helpers of the reindex tests: short-text catalogues, a perturbed model version, direct SQL reads."""

from __future__ import annotations

import json
import time
from typing import Any

import asyncpg
import numpy as np

from functions.config import AppConfig
from functions.context import Context
from functions.upsertion import handler as upsertion
from functions.upsertion.messages import DeleteRequest, UpsertItem, UpsertRequest
from tests.conftest import auth
from tests.support.data_plane import Client, run_gpu_jobs

TOPICS = ("comets", "bread", "roses", "violins", "sailing", "chess", "bees", "pottery", "tea", "trains")


def text(i: int, version: int = 0) -> str:
    """A short text for item i (version > 0: an edited text)."""
    edit = f" revised {version}" if version else ""
    return f"note {i} about {TOPICS[i % len(TOPICS)]} and {TOPICS[(i * 7) % len(TOPICS)]}{edit}"


def oid(i: int) -> str:
    return f"item-{i:05d}"


async def seed(ctx: Context, index: str, ids: range) -> None:
    """Upsert items `ids` in-process (the upsert handler, requests of at most 1,000)."""
    items = [UpsertItem(object_id=oid(i), content=text(i), payload={"n": i}) for i in ids]
    for start in range(0, len(items), 1000):
        await upsertion.upsert(UpsertRequest(index=index, items=items[start : start + 1000]), ctx)


async def delete(ctx: Context, index: str, ids: list[str]) -> None:
    await upsertion.delete(DeleteRequest(index=index, object_ids=ids), ctx)


async def fetch(ctx: Context, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(ctx.config.database.url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def objects(ctx: Context, collection_id: str) -> dict[str, str]:
    """object_id → content hash of a collection."""
    rows = await fetch(ctx, f'SELECT object_id, content_hash FROM "c_{collection_id}_objects"')
    return {r["object_id"]: r["content_hash"] for r in rows}


async def vectors(ctx: Context, collection_id: str, ids: list[str]) -> dict[str, np.ndarray]:
    """First-part vectors of some objects."""
    rows = await fetch(
        ctx,
        f'SELECT object_id, vector FROM "c_{collection_id}_parts" '
        "WHERE part_index = 0 AND object_id = ANY($1)",
        ids,
    )
    # A plain connection (no pgvector codec): the text form "[x,y,...]" is JSON.
    return {r["object_id"]: np.asarray(json.loads(r["vector"]), dtype=np.float32) for r in rows}


async def submit(client: Client, **body: Any) -> dict[str, Any]:
    response = await client.post("/reindex/tasks", json=body, headers=auth())
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    return accepted


async def task(client: Client, task_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await client.get(f"/reindex/tasks/{task_id}", headers=auth())).json()
    return found


async def reindex(client: Client, ctx: Context, **body: Any) -> dict[str, Any]:
    """POST a reindex, run the gpu pool until it is done, return the task."""
    accepted = await submit(client, **body)
    await run_gpu_jobs(ctx)
    return await task(client, accepted["task_id"])


def register_perturbed(config: AppConfig, name: str, scale: float = 0.05) -> tuple[str, Any]:
    """Register the base model with one layer's weights perturbed as a new version of `name`; return
    (version, the perturbed SentenceTransformer) so a test can embed with it itself."""
    import mlflow
    import mlflow.sentence_transformers
    import torch
    from mlflow import MlflowClient
    from sentence_transformers import SentenceTransformer

    from jobs.embedding.model_paths import resolve_model_path
    from jobs.stores.mlflow_tracking import pip_requirements

    model = SentenceTransformer(str(resolve_model_path(config.model.path)), device="cpu")
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in model[0].auto_model.encoder.layer[-1].output.dense.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * scale * float(p.std()))
    uri = config.mlflow.tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    found = client.get_experiment_by_name("reindex-tests")
    experiment = (
        found.experiment_id
        if found
        else client.create_experiment(
            "reindex-tests", artifact_location=f"{config.mlflow.artifacts_uri}/reindex"
        )
    )
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sentence_transformers.log_model(
            model, name="model", pip_requirements=pip_requirements(), registered_model_name=name
        )
    return str(info.registered_model_version), model


async def wait_for(check: Any, timeout_s: float = 120.0, every_s: float = 0.2, why: Any = None) -> None:
    """Poll an async predicate until it holds; on timeout, fail with `why()` (what to look at)."""
    import asyncio

    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting: {why() if why else ''}"
        await asyncio.sleep(every_s)
