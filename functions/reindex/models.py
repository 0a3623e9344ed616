"""The destination of a reindex: its model version (deployed first where the backend needs it) and
its collection, made once per task."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import msgspec

from functions.context import Context
from functions.errors import InvalidInput, NotFound, PermanentFailure, Unavailable
from functions.records import Collection, NewCollection, NewTask
from functions.reindex import logic
from functions.tasks import handler as tasks
from functions.tasks.logic import is_terminal

DEPLOY_KIND = "deployment.deploy"


async def version_model_name(index: str, version: str, ctx: Context) -> str:
    """The model name a collection of `version` carries: the configured model's for the base version,
    `<registered>@<version>` for any other registered one (NotFound when it is not registered)."""
    registered = ctx.embedders.registered_name(index)
    base = await ctx.registry.ensure_base(registered, ctx.embedder.model_name, ctx.config.model.path)
    if version == base:
        return ctx.embedder.model_name
    if await ctx.registry.model_dir(registered, version) is None:
        raise NotFound(f"model {registered} has no version {version!r}", field="model_version")
    return f"{registered}@{version}"


async def deploy(index: str, version: str, ctx: Context) -> None:
    """Make sure the version is served before embedding with it: with Triton, through a
    `deployment.deploy` task (awaited); in-process backends need nothing."""
    if ctx.config.embedder.backend != "triton":
        return
    new = NewTask(
        kind=DEPLOY_KIND,
        request={"model": ctx.embedders.registered_name(index), "version": version},
        idempotency_key=f"reindex-deploy:{ctx.embedders.registered_name(index)}:{version}",
        parent_id=ctx.task_id,
    )
    accepted = await tasks.submit(new, ctx)
    deadline = time.monotonic() + ctx.config.reindex.deploy_timeout_s
    while True:
        task = await tasks.get(accepted.task_id, ctx)
        if is_terminal(task):
            break
        if time.monotonic() > deadline:
            raise Unavailable(f"deployment task {task.id} did not finish in time")
        await ctx.progress.check_cancelled()
        await asyncio.sleep(ctx.config.reindex.poll_s)
    if task.status != "done":
        raise PermanentFailure(f"deploying {new.request} ended {task.status}: {task.error}")


async def destination(index: str, version: str, source: Collection, ctx: Context) -> Collection:
    """The task's destination collection: found if a previous run of the task made it, else made
    (empty, same metric as the source) after checking its model can embed here."""
    collection_id = logic.destination_id(index, ctx.task_id or "script")
    existing = await ctx.collections.get_collection(collection_id)
    if existing is not None:
        return existing
    model_name = await version_model_name(index, version, ctx)
    await deploy(index, version, ctx)
    probe = Collection(
        id=collection_id,
        index_name=index,
        model_name=model_name,
        model_version=version,
        dim=source.dim,
        metric=source.metric,
        status="active",
        created_at=datetime.now(UTC),
    )
    embedder = await ctx.embedders.of(probe)  # Unavailable when this process cannot serve it
    if not await embedder.ready():  # loads it; its dimension is known only then
        raise Unavailable(f"model version {version} is not ready; try again shortly")
    if embedder.model_name != model_name:
        raise PermanentFailure(f"version {version} embeds as {embedder.model_name}, expected {model_name}")
    if embedder.dim != source.dim and source.model_version == version:
        raise InvalidInput("the source collection's dimension does not match its own model", field="index")
    new = NewCollection(
        id=collection_id,
        index_name=index,
        model_name=model_name,
        model_version=version,
        dim=embedder.dim,
        metric=source.metric,
    )
    return await ctx.collections.add_collection(msgspec.structs.replace(new))
