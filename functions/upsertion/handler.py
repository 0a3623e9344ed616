"""Upsertion entry points: write and delete items in every collection an index writes to."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np

from functions.context import Context
from functions.errors import NotFound, PermanentFailure
from functions.ports import Vectors
from functions.records import Collection
from functions.tasks.messages import NewTask
from functions.upsertion import logic, parts
from functions.upsertion.logic import Prepared
from functions.upsertion.messages import (
    DeleteRequest,
    DeleteResult,
    DeleteSubmission,
    ItemFailure,
    UpsertRequest,
    UpsertResult,
    UpsertSubmission,
)

UPSERT_KIND = "upsertion.upsert"
DELETE_KIND = "upsertion.delete"


async def collections_to_write(index: str, ctx: Context) -> list[Collection]:
    """Every collection a write to `index` must reach, blue first (a reindex target joins later)."""
    blue = await ctx.collections.blue(index)  # max_age 0: a write never trusts a cached pointer
    if blue is None:
        raise NotFound(f"index {index!r} does not exist", field="index")
    return [blue]


async def upsert_task(data: UpsertSubmission, ctx: Context) -> NewTask:
    """Check an upsert before it is queued (limits, index exists) and describe its task."""
    req = data.request()
    logic.check_upsert(req, ctx.config.upsertion)
    await collections_to_write(req.index, ctx)
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
    """Embed new and changed items; replace only the payload where only it changed; skip the rest."""
    cfg = ctx.config.upsertion
    logic.check_upsert(req, cfg)
    targets = await collections_to_write(req.index, ctx)
    ready, failed = logic.prepare(req, cfg.max_item_bytes)
    plans, chunks, untokenised = [], 0, set()
    for collection in targets:
        if collection.model_name != ctx.embedder.model_name:
            raise PermanentFailure(
                f"collection {collection.id} holds {collection.model_name} vectors; "
                f"this worker embeds with {ctx.embedder.model_name}"
            )
        stored = await ctx.vectors.stored(collection, [p.item.object_id for p in ready])
        plan = logic.plan(ready, stored)
        payloads = {p.item.object_id: p.item.payload for p in plan.payload_only}
        await ctx.vectors.update_payloads(collection, payloads)
        embedded, empty = await _embed_and_write(collection, plan.embed, ctx)
        chunks += embedded
        untokenised |= empty
        plans.append(plan)
    failed += [
        ItemFailure(object_id=oid, reason="content has no tokens to embed") for oid in sorted(untokenised)
    ]
    first = plans[0]
    return UpsertResult(
        upserted=len([p for p in first.embed if p.item.object_id not in untokenised]),
        unchanged=len(first.unchanged),
        payload_only=len(first.payload_only),
        failed=failed,
        chunks=chunks,
        collection_ids=[c.id for c in targets],
    )


async def _embed_and_write(
    collection: Collection, items: Sequence[Prepared], ctx: Context
) -> tuple[int, set[str]]:
    """Split, embed and write `items` group by group; the chunks embedded and the ids with none."""
    cfg = ctx.config.upsertion
    split = [await ctx.embedder.split(p.text, cfg.chunk_max_tokens, cfg.chunk_overlap_tokens) for p in items]
    kept = [(p, chunks) for p, chunks in zip(items, split, strict=True) if chunks]
    empty = {p.item.object_id for p, chunks in zip(items, split, strict=True) if not chunks}
    total, done = sum(len(chunks) for _, chunks in kept), 0
    for group in parts.write_groups([len(chunks) for _, chunks in kept], cfg.embed_batch_size):
        await ctx.progress.check_cancelled()
        chosen = [kept[i] for i in group]
        texts = [text for _, chunks in chosen for text in chunks]
        vectors = await _embed(texts, cfg.embed_batch_size, ctx)
        if vectors.shape != (len(texts), collection.dim):
            raise PermanentFailure(
                f"embedder returned {vectors.shape}; collection {collection.id} needs dim {collection.dim}"
            )
        writes = parts.object_writes([p for p, _ in chosen], [c for _, c in chosen], vectors)
        await ctx.vectors.write(collection, writes)
        done += len(texts)
        await ctx.progress.report(done, total, f"{done}/{total} chunks embedded")
    return total, empty


async def _embed(texts: Sequence[str], batch_size: int, ctx: Context) -> Vectors:
    """Embed in batches of `batch_size`, checking for a cancel between batches."""
    batches = []
    for start in range(0, len(texts), batch_size):
        if start:
            await ctx.progress.check_cancelled()
        batches.append(await ctx.embedder.embed_documents(texts[start : start + batch_size]))
    return np.concatenate(batches).astype(np.float32, copy=False)


async def delete(req: DeleteRequest, ctx: Context) -> DeleteResult:
    """Delete objects (and their parts) from every collection of the index; unknown ids are fine."""
    logic.check_delete(req, ctx.config.upsertion)
    targets = await collections_to_write(req.index, ctx)
    counts = [await ctx.vectors.delete(collection, req.object_ids) for collection in targets]
    return DeleteResult(deleted=counts[0], collection_ids=[c.id for c in targets])
