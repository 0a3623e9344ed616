"""Upsertion entry points: write and delete items in every collection an index writes to."""

from __future__ import annotations

import msgspec

from functions.context import Context
from functions.errors import NotFound
from functions.records import Collection, NewTask
from functions.upsertion import logic, streaming, writer
from functions.upsertion.messages import (
    DeleteRequest,
    DeleteResult,
    DeleteSubmission,
    UpsertRequest,
    UpsertResult,
    UpsertSubmission,
)

UPSERT_KIND = "upsertion.upsert"
DELETE_KIND = "upsertion.delete"


async def collections_to_write(index: str, ctx: Context) -> list[Collection]:
    """Every collection a write to `index` must reach: blue first, then those a reindex builds (and,
    shortly after a reindex switch, the rollback target), so deletes and upserts reach them too."""
    blue = await ctx.collections.blue(index)  # max_age 0: a write never trusts a cached pointer
    if blue is None:
        raise NotFound(f"index {index!r} does not exist", field="index")
    if ctx.reindex is None:
        return [blue]
    return [blue, *await ctx.reindex.writing(index, ctx.config.reindex.cleanup_grace_s)]


async def upsert_task(data: UpsertSubmission, ctx: Context) -> NewTask:
    """Check an upsert before it is queued (limits, index exists, source readable); describe its task."""
    logic.check_upsert(data, ctx.config.upsertion)  # before request(), which merges an inline source
    logic.check_sizes(data, ctx.config.upsertion)
    req = data.request()
    await collections_to_write(req.index, ctx)
    source = req.external()
    if source is not None:
        await streaming.check_source(source, ctx)
    return NewTask(
        kind=UPSERT_KIND,
        request=msgspec.to_builtins(req),
        idempotency_key=data.idempotency_key,
        callback_url=data.callback_url,
    )


async def delete_task(data: DeleteSubmission, ctx: Context) -> NewTask:
    """Check a delete before it is queued and describe its task."""
    req = data.request()
    logic.check_delete(req, ctx.config.upsertion)
    await collections_to_write(req.index, ctx)
    return NewTask(
        kind=DELETE_KIND,
        request=msgspec.to_builtins(req),
        idempotency_key=data.idempotency_key,
        callback_url=data.callback_url,
    )


async def upsert(req: UpsertRequest, ctx: Context) -> UpsertResult:
    """Embed new and changed items; replace only the payload where only it changed; skip the rest.

    Items come from the request, or stream batch by batch from the source a loader reads.
    """
    cfg = ctx.config.upsertion
    logic.check_upsert(req, cfg)
    targets = await collections_to_write(req.index, ctx)
    await writer.check_models(targets, ctx)
    source = req.external()
    if source is not None:
        return await streaming.upsert_from(source, req, targets, ctx)

    async def on_chunks(done: int, total: int) -> None:
        await ctx.progress.report(done, total, f"{done}/{total} chunks embedded")

    tally = writer.Tally(read=len(req.inline() or []))
    await writer.write_batch(req, targets, ctx, tally, on_chunks)
    return tally.result(targets)


async def delete(req: DeleteRequest, ctx: Context) -> DeleteResult:
    """Delete objects (and their parts) from every collection of the index; unknown ids are fine."""
    logic.check_delete(req, ctx.config.upsertion)
    targets = await collections_to_write(req.index, ctx)
    counts = [await ctx.vectors.delete(collection, req.object_ids) for collection in targets]
    return DeleteResult(deleted=counts[0], collection_ids=[c.id for c in targets])
