"""Before a switch: reconcile the destination with the source, then verify counts and recall."""

from __future__ import annotations

from dataclasses import dataclass

from functions.context import Context
from functions.records import Collection
from functions.reindex import logic
from functions.reindex.batch import copy_rows
from functions.reindex.messages import Verification
from functions.reindex.parent import stores


@dataclass
class Reconciled:
    reembedded: int = 0
    removed: int = 0
    payloads: int = 0


async def reconcile(source: Collection, dest: Collection, ctx: Context) -> Reconciled:
    """Diff source and destination by object id and content hash: remove what the source no longer
    has, embed what is missing or changed, copy payloads that moved; repeat while writes that
    computed their targets before the destination joined still leave differences."""
    _, data = stores(ctx)
    done = Reconciled()
    for _ in range(ctx.config.reindex.reconcile_rounds):
        missing, extra = await data.diff(source, dest)
        if extra:
            done.removed += await ctx.vectors.delete(dest, extra)
        done.payloads += await data.sync_payloads(source, dest)
        if not missing and not extra:
            break
        size = ctx.config.reindex.batch_size
        for start in range(0, len(missing), size):
            rows = await data.read_objects(source, missing[start : start + size])
            done.reembedded += await copy_rows(rows, source, dest, ctx)
    return done


async def verify(source: Collection, dest: Collection, ctx: Context) -> Verification:
    """Object counts of both, and the mean top-k overlap of each collection's own model's nearest
    objects for sampled stored texts (1.0: the destination ranks like the source)."""
    _, data = stores(ctx)
    cfg = ctx.config.reindex
    source_n, dest_n = await data.count(source), await data.count(dest)
    texts = await data.sample_texts(source, cfg.probe_queries)
    pairs = []
    if texts:
        old = await (await ctx.embedders.of(source)).embed_queries(texts)
        new = await (await ctx.embedders.of(dest)).embed_queries(texts)
        for a, b in zip(old, new, strict=True):
            pairs.append(
                (await data.nearest_ids(source, a, cfg.probe_k), await data.nearest_ids(dest, b, cfg.probe_k))
            )
    return Verification(
        source_objects=source_n,
        destination_objects=dest_n,
        counts_equal=source_n == dest_n,
        probe_queries=len(pairs),
        probe_k=cfg.probe_k,
        probe_overlap=logic.mean_overlap(pairs, cfg.probe_k),
    )
