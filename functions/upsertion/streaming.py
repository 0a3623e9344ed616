"""Upsert from a source a loader reads (a JSONL file, a SQL query), one bounded batch at a time.

Nothing holds the whole source: each batch is mapped, written and forgotten before the next is read,
so a million-line file costs one batch of memory. A re-run (arq runs a job at least once) reads the
source again and skips every item whose text and payload are already stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import aclosing

import msgspec

from functions.context import Context
from functions.records import Collection, ExternalSource
from functions.upsertion import mapping, writer
from functions.upsertion.messages import UpsertRequest, UpsertResult


async def check_source(source: ExternalSource, ctx: Context) -> None:
    """The loader's own checks (the path is allowed and readable, the query prepares), before any work."""
    await ctx.loader.check(source, ctx.config.upsertion)


async def upsert_from(
    source: ExternalSource, req: UpsertRequest, targets: Sequence[Collection], ctx: Context
) -> UpsertResult:
    """Stream the source's batches into `targets`, reporting items read against the source's total."""
    cfg = ctx.config.upsertion
    await check_source(source, ctx)
    tally = writer.Tally()
    # aclosing: a failed or cancelled upsert closes the file or the query's transaction at once.
    async with aclosing(ctx.loader.batches(source, cfg)) as batches:
        async for batch in batches:
            mapping.check_size(batch.total, tally.read + len(batch.records), cfg)
            await ctx.progress.check_cancelled()
            items, failed = mapping.to_items(batch.records, source)
            tally.read += len(batch.records)
            tally.fail(failed, cfg.max_reported_failures)
            chunk = msgspec.structs.replace(req, items=items, source=None)
            await writer.write_batch(chunk, targets, ctx, tally)
            total = max(batch.total, tally.read)
            await ctx.progress.report(
                tally.read,
                total,
                f"{tally.read}/{total} items read; {tally.upserted} upserted, {tally.failed_count} failed",
            )
    return tally.result(targets)
