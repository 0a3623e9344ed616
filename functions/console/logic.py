"""Pure rules of the console's read models: collection roles, quality points, traffic series."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from functions.console.messages import CollectionView, QualityPoint, Role, TrafficView
from functions.records import Collection, Index, ReindexRun, Task, TrafficHour

METRICS = ("ndcg_at_10", "mrr_at_10", "recall_at_100")
BUILDING_STATES = ("preparing", "building", "verified")
MIN_SPAN = timedelta(hours=23)


def role_of(
    collection: Collection,
    index: Index,
    runs: Sequence[ReindexRun],
    candidate_id: str | None,
    grace_s: float,
) -> tuple[Role, datetime | None]:
    """What a collection is for: blue, the rollback target (until its grace ends), a reindex building it,
    the candidate of the running experiment, or old (cleanup drops it)."""
    if collection.id == index.blue_collection_id:
        return "blue", None
    if collection.id == candidate_id:
        return "candidate", None
    if any(r.dest_collection_id == collection.id and r.state in BUILDING_STATES for r in runs):
        return "building", None
    if collection.id == index.previous_blue_collection_id:
        until = index.updated_at + timedelta(seconds=grace_s)
        return "rollback", until
    return "old", None


def collection_view(
    collection: Collection, role: Role, until: datetime | None, counts: tuple[int, int]
) -> CollectionView:
    return CollectionView(
        id=collection.id,
        model_name=collection.model_name,
        model_version=collection.model_version,
        role=role,
        created_at=collection.created_at,
        objects=counts[0],
        parts=counts[1],
        until=until,
    )


def quality_points(tasks: Iterable[Task], index: str) -> list[QualityPoint]:
    """The held-out evaluations of the index's finished fine-tuning tasks, oldest first; tasks that
    trained nothing (too little feedback) have none."""
    points = []
    for task in tasks:
        result = task.result or {}
        if task.status != "done" or result.get("index", task.request.get("index")) != index:
            continue
        champion, challenger = result.get("champion"), result.get("challenger")
        if not champion or not challenger:
            continue
        points.append(
            QualityPoint(
                task_id=task.id,
                at=task.finished_at or task.updated_at,
                version=result.get("registered_version"),
                base_version=result.get("base_version"),
                evaluated_on=result.get("evaluated_on") or "clicks",
                champion=_metrics(champion),
                challenger=_metrics(challenger),
                promoted=bool(result.get("promoted")),
                rule=str(result.get("rule") or ""),
            )
        )
    return sorted(points, key=lambda p: p.at)


def _metrics(scores: dict[str, Any]) -> dict[str, float]:
    return {m: float(scores[m]) for m in METRICS if isinstance(scores.get(m), int | float)}


def traffic_view(
    hours: Sequence[TrafficHour], since: datetime, until: datetime, max_rank: int
) -> TrafficView:
    """Hourly series from `since` (or from the first hour with traffic, when that is over a day later)
    to `until`; hours without traffic are zeros, so the charts' time axis is even; and the totals."""
    found = {h.hour: h for h in hours}
    start = since.replace(minute=0, second=0, microsecond=0)
    # A young index's charts start at its first traffic (at least a day back), not a week of zeros.
    if found:
        start = max(start, min(min(found), until.replace(minute=0, second=0, microsecond=0) - MIN_SPAN))
    slots = []
    while start <= until:
        slots.append(start)
        start += timedelta(hours=1)
    rows = [found.get(slot, TrafficHour(hour=slot)) for slot in slots]
    ranks = [0] * max_rank
    for row in rows:
        for i, n in enumerate(row.clicks_by_rank[:max_rank]):
            ranks[i] += n
    sessions = sum(r.sessions for r in rows)
    moves = sum(r.moves for r in rows)
    totals = {
        "searches": float(sum(r.searches for r in rows)),
        "sessions": float(sessions),
        "clicks": float(sum(r.clicks for r in rows)),
        "ctr": sum(r.clicked for r in rows) / sessions if sessions else 0.0,
        "irrelevant": float(sum(r.irrelevant for r in rows)),
        "applied": float(sum(r.applied for r in rows)),
        "drift": sum(r.drift for r in rows) / moves if moves else 0.0,
    }
    return TrafficView(
        hours=slots,
        searches=[r.searches for r in rows],
        sessions=[r.sessions for r in rows],
        ctr=[r.clicked / r.sessions if r.sessions else None for r in rows],
        irrelevant=[r.irrelevant for r in rows],
        applied=[r.applied for r in rows],
        drift=[r.drift / r.moves if r.moves else None for r in rows],
        clicks_by_rank=ranks,
        totals=totals,
    )
