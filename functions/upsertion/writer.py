"""Write one batch of items to every target collection: plan against what is stored, embed, write."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from functions.context import Context
from functions.errors import PermanentFailure, Unavailable
from functions.ports import Embedder
from functions.records import Collection, Vectors
from functions.upsertion import logic, parts
from functions.upsertion.logic import Prepared
from functions.upsertion.messages import ItemFailure, UpsertRequest, UpsertResult

# Called with (chunks embedded, chunks to embed) after each write group of one collection.
ChunkReport = Callable[[int, int], Awaitable[None]]


@dataclass
class Tally:
    """Counts over every batch of one upsert; the item counts are the first (blue) collection's."""

    upserted: int = 0
    unchanged: int = 0
    payload_only: int = 0
    chunks: int = 0
    read: int = 0
    failed_count: int = 0
    failed: list[ItemFailure] = field(default_factory=list)

    def fail(self, failures: Sequence[ItemFailure], keep: int) -> None:
        """Count failures; keep the first `keep` (a bad million-line file must not bloat the result)."""
        self.failed_count += len(failures)
        self.failed.extend(failures[: max(0, keep - len(self.failed))])

    def result(self, targets: Sequence[Collection]) -> UpsertResult:
        """The task's result."""
        return UpsertResult(
            upserted=self.upserted,
            unchanged=self.unchanged,
            payload_only=self.payload_only,
            failed=self.failed,
            chunks=self.chunks,
            collection_ids=[c.id for c in targets],
            read=self.read,
            failed_count=self.failed_count,
        )


async def check_models(targets: Sequence[Collection], ctx: Context) -> None:
    """Every target's model version must be one this process can embed with."""
    for collection in targets:
        try:
            await ctx.embedders.of(collection)
        except Unavailable as exc:
            raise PermanentFailure(f"collection {collection.id}: {exc}") from exc


async def write_batch(
    req: UpsertRequest,
    targets: Sequence[Collection],
    ctx: Context,
    tally: Tally,
    on_chunks: ChunkReport | None = None,
) -> None:
    """Embed new and changed items of `req.items`; replace only the payload where only it changed."""
    cfg = ctx.config.upsertion
    ready, failed = logic.prepare(req, cfg.max_item_bytes)
    tally.fail(failed, cfg.max_reported_failures)
    untokenised: set[str] = set()
    for position, collection in enumerate(targets):
        stored = await ctx.vectors.stored(collection, [p.item.object_id for p in ready])
        plan = logic.plan(ready, stored)
        payloads = {p.item.object_id: p.item.payload for p in plan.payload_only}
        await ctx.vectors.update_payloads(collection, payloads)
        embedded, empty = await _embed_and_write(collection, plan.embed, ctx, on_chunks)
        tally.chunks += embedded
        untokenised |= empty
        if position == 0:
            tally.upserted += len([p for p in plan.embed if p.item.object_id not in empty])
            tally.unchanged += len(plan.unchanged)
            tally.payload_only += len(plan.payload_only)
    reason = "content has no tokens to embed"
    tally.fail(
        [ItemFailure(object_id=oid, reason=reason) for oid in sorted(untokenised)], cfg.max_reported_failures
    )


async def _embed_and_write(
    collection: Collection, items: Sequence[Prepared], ctx: Context, on_chunks: ChunkReport | None
) -> tuple[int, set[str]]:
    """Split and embed every chunk of `items`, then write them group by group.

    Embedding the whole batch at once, in length-sorted batches, wastes far less on padding than
    embedding each write group on its own (measured: 0.84 → ~0.94 of raw encode speed).
    """
    cfg = ctx.config.upsertion
    embedder = await ctx.embedders.of(collection)
    split = [await embedder.split(p.text, cfg.chunk_max_tokens, cfg.chunk_overlap_tokens) for p in items]
    kept = [(p, chunks) for p, chunks in zip(items, split, strict=True) if chunks]
    empty = {p.item.object_id for p, chunks in zip(items, split, strict=True) if not chunks}
    texts = [text for _, chunks in kept for text in chunks]
    vectors = await _embed_sorted(texts, collection, embedder, ctx, on_chunks)
    starts = np.cumsum([0] + [len(chunks) for _, chunks in kept])
    for group in parts.write_groups([len(chunks) for _, chunks in kept], cfg.embed_batch_size):
        await ctx.progress.check_cancelled()
        chosen = [kept[i] for i in group]
        group_vectors = np.concatenate([vectors[starts[i] : starts[i + 1]] for i in group])
        writes = parts.object_writes([p for p, _ in chosen], [c for _, c in chosen], group_vectors)
        await ctx.vectors.write(collection, writes)
    return len(texts), empty


async def _embed_sorted(
    texts: Sequence[str],
    collection: Collection,
    embedder: Embedder,
    ctx: Context,
    on_chunks: ChunkReport | None,
) -> Vectors:
    """Vectors of `texts` in their order, embedded shortest first; cancel checks between batches."""
    batch_size = ctx.config.upsertion.embed_batch_size
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.empty((len(texts), collection.dim), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        await ctx.progress.check_cancelled()
        chosen = order[start : start + batch_size]
        embedded = await embedder.embed_documents([texts[i] for i in chosen])
        if embedded.shape != (len(chosen), collection.dim):
            raise PermanentFailure(
                f"embedder returned {embedded.shape}; collection {collection.id} needs dim {collection.dim}"
            )
        vectors[chosen] = embedded
        if on_chunks is not None:
            await on_chunks(start + len(chosen), len(texts))
    return vectors
