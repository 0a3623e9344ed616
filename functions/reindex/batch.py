"""One keyset batch of a reindex (the `reindex.batch` job), and the embed-and-guarded-write step it
shares with the reconcile pass."""

from __future__ import annotations

import numpy as np

from functions.context import Context
from functions.errors import DomainError, PermanentFailure, TaskCancelled
from functions.records import Collection, EmbeddedRow, SourceRow, TaskError
from functions.reindex import logic
from functions.reindex.messages import BatchRequest, BatchResult
from functions.reindex.parent import advance, stores

# Objects whose source changed between read and write are read and embedded again this many times;
# what still races past is left to the reconcile pass.
STALE_ROUNDS = 3


async def embed_rows(rows: list[SourceRow], dest: Collection, ctx: Context) -> list[EmbeddedRow]:
    """Split each stored text as an upsert does and embed every chunk with the destination's model,
    shortest first (less padding), in the model's batch size."""
    cfg = ctx.config.upsertion
    embedder = await ctx.embedders.of(dest)
    chunks = [
        tuple(await embedder.split(r.rendered, cfg.chunk_max_tokens, cfg.chunk_overlap_tokens)) for r in rows
    ]
    texts = [t for c in chunks for t in c]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.empty((len(texts), dest.dim), dtype=np.float32)
    size = ctx.config.model.batch_size
    for start in range(0, len(order), size):
        await ctx.progress.check_cancelled()
        chosen = order[start : start + size]
        embedded = await embedder.embed_documents([texts[i] for i in chosen])
        if embedded.shape != (len(chosen), dest.dim):
            raise PermanentFailure(f"embedder returned {embedded.shape}; {dest.id} needs dim {dest.dim}")
        vectors[chosen] = embedded
    out, start = [], 0
    for row, parts in zip(rows, chunks, strict=True):
        own = vectors[start : start + len(parts)]
        start += len(parts)
        if parts:  # a stored object always has text; an empty one cannot be searched either way
            out.append(EmbeddedRow(row.object_id, row.content_hash, parts, own, logic.mean_vector(own)))
    return out


async def copy_rows(rows: list[SourceRow], source: Collection, dest: Collection, ctx: Context) -> int:
    """Embed `rows` and write them where their source is unchanged; re-read and retry the changed."""
    _, data = stores(ctx)
    written = 0
    for _ in range(STALE_ROUNDS):
        if not rows:
            break
        count, changed = await data.write_guarded(source, dest, await embed_rows(rows, dest, ctx))
        written += count
        rows = await data.read_objects(source, changed) if changed else []
    return written


async def run_batch(req: BatchRequest, ctx: Context) -> BatchResult:
    """Read the batch's keyset range from the source, embed it with the destination model, write it
    guarded, then advance the parent; a done batch is skipped but still advances it (arq may run a job
    twice, and the first run may have died before advancing)."""
    store, data = stores(ctx)
    run = await store.get_run(req.task_id)
    if run is None or run.dest_collection_id is None:
        raise PermanentFailure(f"reindex {req.task_id} has no destination yet")
    source = await ctx.collections.get_collection(run.source_collection_id)
    dest = await ctx.collections.get_collection(run.dest_collection_id)
    if source is None or dest is None:
        raise PermanentFailure(f"reindex {req.task_id}: its source or destination collection is gone")
    batch = await store.start_batch(req.task_id, req.seq)
    if batch is None:
        await advance(req.task_id, ctx)
        return BatchResult(seq=req.seq, items=0, written=0, skipped=True)
    try:
        rows = await data.read_range(source, batch.after_id, batch.last_id)
        await ctx.progress.report(0, max(1, len(rows)), f"batch {req.seq}: {len(rows)} items")
        written = await copy_rows(rows, source, dest, ctx)
    except TaskCancelled:
        raise
    except Exception as exc:
        message = f"attempt {batch.attempts}: {type(exc).__name__}: {exc}"
        await store.batch_error(req.task_id, req.seq, message)
        await _fail_if_last(req, exc, message, ctx)
        raise
    await store.finish_batch(req.task_id, req.seq, len(rows), written)
    await advance(req.task_id, ctx)
    return BatchResult(seq=req.seq, items=len(rows), written=written)


async def _fail_if_last(req: BatchRequest, exc: Exception, message: str, ctx: Context) -> None:
    """On the batch's last try, end its subtask as failed here (the runner's own end then finds it
    ended) so that advancing the parent sees the failure and finishes the reindex as failed."""
    if ctx.task_id is None:
        return
    own = await ctx.tasks.get(ctx.task_id)
    permanent = isinstance(exc, DomainError | PermanentFailure)
    if own is None or not (permanent or own.attempts >= ctx.config.tasks.max_tries):
        return
    error = TaskError(stage="reindex", type=type(exc).__name__, message=message, attempt=own.attempts)
    await ctx.tasks.finish(ctx.task_id, "failed", error=error)
    await advance(req.task_id, ctx)
