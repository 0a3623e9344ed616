"""The console's reads of one index: its collections and their roles, its quality over time, its traffic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from functions.console import logic
from functions.console.messages import CollectionView, QualityPoint, TrafficView
from functions.context import Context
from functions.errors import NotFound, Unavailable
from functions.records import Index, TaskQuery

FINE_TUNING_KIND = "fine_tuning.run"
# Fine-tuning tasks the quality chart reads, newest first: years of daily cycles.
QUALITY_TASKS = 500


async def collections(name: str, ctx: Context) -> list[CollectionView]:
    """Every collection of the index with its role and counts, blue first, then newest first."""
    index = await ctx.collections.get_index(name)
    if index is None:
        raise NotFound(f"index {name!r} does not exist", field="index")
    return await collections_of(index, ctx)


async def collections_of(index: Index, ctx: Context) -> list[CollectionView]:
    """`collections` of an index already read (the overview lists them all)."""
    name = index.name
    runs = await ctx.reindex.runs_of_index(name) if ctx.reindex is not None else []
    running = await ctx.experiments.running(name, max_age_s=0) if ctx.experiments is not None else None
    candidate = running.candidate_collection_id if running is not None else None
    views = []
    for collection in await ctx.collections.collections_of(name):
        role, until = logic.role_of(collection, index, runs, candidate, ctx.config.reindex.cleanup_grace_s)
        counts = await ctx.vectors.counts(collection) if collection.status == "active" else (0, 0)
        views.append(logic.collection_view(collection, role, until, counts))
    views.sort(key=lambda v: (v.role != "blue", -v.created_at.timestamp()))
    return views


async def quality(name: str, ctx: Context) -> list[QualityPoint]:
    """The held-out figures of every model the index's fine-tuning produced, oldest first."""
    tasks, _ = await ctx.tasks.page(TaskQuery(kind=FINE_TUNING_KIND, status="done", limit=QUALITY_TASKS))
    return logic.quality_points(tasks, name)


async def roll_up(ctx: Context, now: datetime | None = None) -> str:
    """Roll up the finished hours of every index's traffic window (the cpu pool runs it every
    console.rollup_interval_s): a view then aggregates only the newest hours itself."""
    if ctx.traffic is None:
        return "traffic figures are not wired in this process"
    cfg = ctx.config.console
    since = (now or datetime.now(UTC)) - timedelta(hours=cfg.traffic_hours - 1)
    names = [index.name for index in await ctx.collections.list_indexes()]
    for name in names:
        await ctx.traffic.roll_up(name, since, cfg.max_rank)
    return f"rolled up the traffic of {len(names)} indexes"


async def traffic(name: str, ctx: Context, now: datetime | None = None) -> TrafficView:
    """The index's traffic per hour over the configured window (console.traffic_hours)."""
    if ctx.traffic is None:
        raise Unavailable("traffic figures are not wired in this process")
    cfg = ctx.config.console
    until = now or datetime.now(UTC)
    since = until - timedelta(hours=cfg.traffic_hours - 1)
    hours = await ctx.traffic.hours(name, since, cfg.max_rank)
    return logic.traffic_view(hours, since, until, cfg.max_rank)
