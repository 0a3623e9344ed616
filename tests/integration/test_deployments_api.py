"""Deployments through the API, the real cpu worker and the real local tritonserver: deploy the base
version of an index's model, deploy it again (no-op), refuse to remove it while blue uses it, upsert
and search through Triton, fail cleanly on a version that does not exist, undeploy."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from app.main import create_app
from functions.context import Context
from functions.deployment import handler
from functions.deployment.messages import DeployRequest
from functions.errors import PermanentFailure
from functions.records import NewCollection
from functions.upsertion.logic import new_collection_id
from jobs.stores.embedders import EmbedderPool, triton_factory
from jobs.triton.repository import Repository
from jobs.triton.server import repository_root
from tests.conftest import auth
from tests.support.data_plane import CATALOGUE, Client, new_index, run_gpu_jobs
from tests.support.improvement import run_cpu_jobs
from tests.support.triton import undeploy_recorded

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.model]


@pytest.fixture(autouse=True)
async def _undeploy_after(ctx: Context) -> AsyncIterator[None]:
    """What a test deployed leaves Triton when it ends, passed or failed (blue or not)."""
    try:
        yield
    finally:
        await undeploy_recorded(ctx)


async def finished(client: Client, ctx: Context, accepted: dict[str, Any]) -> dict[str, Any]:
    await run_cpu_jobs(ctx)
    task: dict[str, Any] = (await client.get(f"/tasks/{accepted['task_id']}", headers=auth())).json()
    return task


async def deploy(client: Client, ctx: Context, model: str, version: str) -> dict[str, Any]:
    response = await client.post("/deployments", json={"model": model, "version": version}, headers=auth())
    assert response.status_code == 202, response.text
    return await finished(client, ctx, response.json())


async def test_deploy_serve_refuse_and_undeploy(client: Client, ctx: Context) -> None:
    index = await new_index(client)
    model = f"embedloop-{index}"

    first = await deploy(client, ctx, model, "1")
    assert first["status"] == "done", first
    assert first["result"]["state"] == "ready"
    assert first["result"]["served_parity"] >= 0.9999
    assert first["result"]["export_parity"] >= 0.9999
    again = await deploy(client, ctx, model, "1")
    assert again["result"]["already"] is True

    listed = (await client.get("/deployments", headers=auth())).json()
    mine = [d for d in listed["deployments"] if d["model"] == model]
    assert listed["triton_live"] is True
    assert [(d["version"], d["state"], d["triton_state"]) for d in mine] == [("1", "ready", "READY")]

    refused = await client.delete(f"/deployments/{model}@1", headers=auth())
    assert refused.status_code == 409, refused.text

    # Upsert and search with every version served by Triton: the same neighbours as in-process.
    pool = EmbedderPool(ctx.config, ctx.embedder, ctx.registry, triton_factory(ctx.config), base_too=True)
    through_triton = dataclasses.replace(ctx, embedders=pool)
    blue = await ctx.collections.blue(index)
    assert blue is not None
    triton_embedder = await pool.of(blue)
    texts = [f"{c['content']['title']}. {c['content']['body']}" for c in CATALOGUE]  # type: ignore[index]
    local = await ctx.embedder.embed_documents(texts)
    served = await triton_embedder.embed_documents(texts)
    assert float(np.min(np.sum(local * served, axis=1))) >= 0.9999
    response = await client.post("/items/upsert", json={"index": index, "items": CATALOGUE}, headers=auth())
    assert response.status_code == 202
    await run_gpu_jobs(through_triton)
    calls = getattr(triton_embedder, "calls", 0)
    assert calls > 0  # the upsert embedded through Triton
    transport = httpx.ASGITransport(app=create_app(context=through_triton))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as served:
        body = {"index": index, "query": "sandworms on a desert planet", "limit": 3}
        found = (await served.post("/search/similar", json=body, headers=auth())).json()
    assert found["hits"][0]["object_id"] == "dune"
    # The query was embedded in-process by the query model written beside the Triton version (no
    # Triton round trip): Triton saw no new request.
    assert getattr(triton_embedder, "calls", 0) == calls

    # The job refuses too (a switch may come between the request and the job).
    with pytest.raises(PermanentFailure):
        await handler.undeploy(DeployRequest(model=model, version="1"), ctx)


async def test_a_version_that_does_not_exist_fails_clearly_and_leaves_nothing(
    client: Client, ctx: Context
) -> None:
    index = await new_index(client)
    model = f"embedloop-{index}"

    refused = await client.post("/deployments", json={"model": model, "version": "9"}, headers=auth())
    assert refused.status_code == 404
    assert refused.json()["field"] == "version"

    with pytest.raises(PermanentFailure):  # the job itself, as if the version vanished after submission
        await handler.deploy(DeployRequest(model=model, version="9"), ctx)
    assert ctx.deployments is not None
    assert await ctx.deployments.get(f"{model}@9") is None
    assert not Repository(Path(repository_root(ctx.config))).version_dir(model, 9).exists()


async def test_undeploy_removes_files_and_triton_state(client: Client, ctx: Context) -> None:
    index = await new_index(client)
    model = f"embedloop-{index}"
    assert (await deploy(client, ctx, model, "1"))["status"] == "done"
    # Point the index at a collection of another version so version 1 is no longer blue.
    assert ctx.deployments is not None
    await ctx.collections.set_blue(index, (await _second_collection(ctx, index)).id)

    response = await client.delete(f"/deployments/{model}@1", headers=auth())
    assert response.status_code == 202, response.text
    task = await finished(client, ctx, response.json())

    assert task["status"] == "done", task
    assert task["result"]["state"] == "undeployed"
    assert await ctx.deployments.get(f"{model}@1") is None
    assert not Repository(Path(repository_root(ctx.config))).version_dir(model, 1).exists()
    listed = (await client.get("/deployments", headers=auth())).json()
    assert [d for d in listed["deployments"] if d["model"] == model] == []
    assert (await client.delete(f"/deployments/{model}@1", headers=auth())).status_code == 404


async def _second_collection(ctx: Context, index: str) -> Any:
    blue = await ctx.collections.blue(index)
    assert blue is not None
    new = NewCollection(
        id=new_collection_id(index, "second"),
        index_name=index,
        model_name="other-model",
        model_version="2",
        dim=blue.dim,
        metric=blue.metric,
    )
    return await ctx.collections.add_collection(new)
