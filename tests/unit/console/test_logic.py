"""The console's read models from literal rows: collection roles, quality points, traffic series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from functions.console.logic import quality_points, role_of, traffic_view
from functions.records import Collection, Index, ReindexRun, Task, TrafficHour

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def collection(cid: str) -> Collection:
    return Collection(
        id=cid,
        index_name="books",
        model_name="m",
        model_version="1",
        dim=3,
        metric="cosine",
        status="active",
        created_at=T0,
    )


def run(dest: str, state: str) -> ReindexRun:
    return ReindexRun(
        task_id="t",
        index_name="books",
        source_collection_id="a",
        dest_collection_id=dest,
        model_version="2",
        state=state,  # type: ignore[arg-type]
        total=None,
        created_at=T0,
        updated_at=T0,
    )


INDEX = Index(
    name="books",
    model_name="m",
    blue_collection_id="b",
    previous_blue_collection_id="a",
    created_at=T0,
    updated_at=T0,
)


def test_roles_name_blue_candidate_building_rollback_and_old() -> None:
    runs = [run("c", "building"), run("d", "failed")]
    assert role_of(collection("b"), INDEX, runs, "e", 3600) == ("blue", None)
    assert role_of(collection("e"), INDEX, runs, "e", 3600) == ("candidate", None)
    assert role_of(collection("c"), INDEX, runs, "e", 3600) == ("building", None)
    assert role_of(collection("a"), INDEX, runs, "e", 3600) == ("rollback", T0 + timedelta(hours=1))
    assert role_of(collection("d"), INDEX, runs, "e", 3600) == ("old", None)


def task(tid: str, status: str, result: dict[str, object] | None, finished: datetime) -> Task:
    return Task(
        id=tid,
        kind="fine_tuning.run",
        status=status,  # type: ignore[arg-type]
        progress=100,
        message="",
        attempts=1,
        generation=0,
        error=None,
        idempotency_key=None,
        parent_id=None,
        request={"index": "books"},
        result=result,
        callback_url=None,
        cancel_requested=False,
        created_at=finished,
        updated_at=finished,
        started_at=finished,
        finished_at=finished,
    )


def test_quality_points_keep_evaluated_runs_of_the_index_oldest_first() -> None:
    scores = {"ndcg_at_10": 0.5, "mrr_at_10": 0.6, "recall_at_100": 0.9}
    better = {"ndcg_at_10": 0.55, "mrr_at_10": 0.62, "recall_at_100": 0.91}
    tasks = [
        task(
            "late",
            "done",
            {
                "index": "books",
                "champion": scores,
                "challenger": better,
                "promoted": True,
                "registered_version": "3",
                "rule": "better",
            },
            T0 + timedelta(days=1),
        ),
        task(
            "early",
            "done",
            {
                "index": "books",
                "champion": scores,
                "challenger": scores,
                "evaluated_on": "corpus",
                "rule": "tie",
            },
            T0,
        ),
        task("thin", "done", {"index": "books", "status": "not_enough_feedback"}, T0),
        task("other", "done", {"index": "films", "champion": scores, "challenger": better}, T0),
        task("broken", "failed", None, T0),
    ]
    points = quality_points(tasks, "books")
    assert [p.task_id for p in points] == ["early", "late"]
    assert points[0].evaluated_on == "corpus"
    assert points[0].version is None
    assert points[1].challenger == better
    assert points[1].promoted
    assert points[1].version == "3"


def test_traffic_fills_empty_hours_and_sums_the_window() -> None:
    hours = [
        TrafficHour(
            hour=T0, searches=10, sessions=4, clicked=3, clicks=5, irrelevant=1, clicks_by_rank=[3, 1, 1]
        ),
        TrafficHour(
            hour=T0 + timedelta(hours=2), searches=6, sessions=2, clicked=0, applied=2, moves=4, drift=0.2
        ),
    ]
    view = traffic_view(hours, T0 + timedelta(minutes=30), T0 + timedelta(hours=2, minutes=5), max_rank=2)
    assert view.hours == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert view.searches == [10, 0, 6]
    assert view.ctr == [0.75, None, 0.0]
    assert view.drift == [None, None, 0.05]
    assert view.clicks_by_rank == [3, 1]  # ranks past max_rank are left out
    assert view.totals["ctr"] == 0.5
    assert view.totals["sessions"] == 6
    assert view.totals["drift"] == 0.05


def test_a_young_index_charts_from_its_first_traffic_at_least_a_day_back() -> None:
    now = T0 + timedelta(days=10, minutes=20)
    recent = [TrafficHour(hour=T0 + timedelta(days=10), sessions=1)]
    view = traffic_view(recent, now - timedelta(hours=167), now, max_rank=3)
    assert view.hours[0] == T0 + timedelta(days=9, hours=1)
    assert len(view.hours) == 24
    old = [TrafficHour(hour=T0 + timedelta(days=5), sessions=1)]
    assert traffic_view(old, T0 + timedelta(days=3), now, max_rank=3).hours[0] == T0 + timedelta(days=5)
    assert len(traffic_view([], now - timedelta(hours=167), now, max_rank=3).hours) == 168
