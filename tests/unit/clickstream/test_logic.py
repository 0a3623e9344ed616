"""Clickstream rules with literal values: shown lists, per-event checks, dedupe, cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from functions.clickstream import logic
from functions.clickstream.messages import Event, EventError, EventResult, ShownItem
from functions.errors import InvalidInput
from functions.records import StoredEvent, StoredSession

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
WEIGHTS = {"click": 1.0, "purchase": 3.0}


def session(shown: list[str], offset: int = 0, session_id: str = "s1") -> StoredSession:
    return StoredSession(
        session_id=session_id,
        index_name="books",
        collection_id="c1",
        search_id=None,
        user_id="u1",
        query="dune",
        shown=shown,
        shown_offset=offset,
        irrelevant=False,
        created_at=NOW,
        last_event_at=NOW,
        closed_at=None,
        applied_at=None,
    )


def event(event_id: str = "e1", **fields: object) -> Event:
    fields.setdefault("type", "click")
    return Event(event_id=event_id, **fields)  # type: ignore[arg-type]


def test_shown_list_orders_by_rank_and_keeps_the_page_offset() -> None:
    items = [ShownItem(object_id="b", rank=12), ShownItem(object_id="a", rank=11)]
    assert logic.shown_list(items) == (["a", "b"], 10)
    assert logic.shown_list([]) == ([], 0)


@pytest.mark.parametrize(
    "items",
    [
        [ShownItem(object_id="a", rank=1), ShownItem(object_id="b", rank=3)],
        [ShownItem(object_id="a", rank=1), ShownItem(object_id="b", rank=1)],
        [ShownItem(object_id="a", rank=1), ShownItem(object_id="a", rank=2)],
    ],
)
def test_shown_list_refuses_gaps_and_repeats(items: list[ShownItem]) -> None:
    with pytest.raises(InvalidInput) as caught:
        logic.shown_list(items)
    assert caught.value.field == "shown"


def test_shown_items_give_the_ranks_the_user_saw() -> None:
    assert logic.shown_items(session(["a", "b"], offset=10)) == [
        ShownItem(object_id="a", rank=11),
        ShownItem(object_id="b", rank=12),
    ]


def test_a_click_by_object_gets_its_rank_and_one_by_rank_its_object() -> None:
    s = session(["a", "b", "c"], offset=10)
    by_object = logic.check_event(event(object_id="b"), "s1", s, WEIGHTS, NOW)
    by_rank = logic.check_event(event(rank=13), "s1", s, WEIGHTS, NOW)
    assert isinstance(by_object, StoredEvent)
    assert isinstance(by_rank, StoredEvent)
    assert (by_object.object_id, by_object.rank) == ("b", 12)
    assert (by_rank.object_id, by_rank.rank) == ("c", 13)
    assert by_object.occurred_at == NOW  # no timestamp: now


def test_an_event_without_object_or_rank_is_about_the_session() -> None:
    stored = logic.check_event(event(type="purchase"), "s1", session(["a"]), WEIGHTS, NOW)
    assert isinstance(stored, StoredEvent)
    assert (stored.object_id, stored.rank) == (None, None)


def test_naive_timestamps_are_utc_and_zones_are_kept() -> None:
    naive = logic.check_event(event(timestamp=datetime(2024, 1, 1, 8)), "s1", session(["a"]), WEIGHTS, NOW)
    assert isinstance(naive, StoredEvent)
    assert naive.occurred_at == datetime(2024, 1, 1, 8, tzinfo=UTC)
    berlin = datetime(2024, 1, 1, 9, tzinfo=timezone(timedelta(hours=1)))
    assert logic.aware(berlin) == datetime(2024, 1, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "found", "status", "field"),
    [
        (event(object_id="a"), None, 404, "session_id"),
        (event(type="hover", object_id="a"), session(["a"]), 422, "type"),
        (event(object_id="zzz"), session(["a"]), 422, "object_id"),
        (event(object_id="a", rank=2), session(["a", "b"]), 422, "rank"),
        (event(rank=3), session(["a", "b"]), 422, "rank"),
        (event(rank=1), session(["a", "b"], offset=5), 422, "rank"),
        (event(object_id="a", attributes={"ua": "x\x00"}), session(["a"]), 422, "attributes.ua"),
        (event(attributes={"tags": ["ok", {"k": "\ud800"}]}), session(["a"]), 422, "attributes.tags[1].k"),
    ],
)
def test_refusals_name_status_and_field(
    given: Event, found: StoredSession | None, status: int, field: str
) -> None:
    refused = logic.check_event(given, "s1", found, WEIGHTS, NOW)
    assert isinstance(refused, EventError)
    assert (refused.status, refused.field) == (status, field)


def test_plan_claims_each_id_once_and_settle_reports_stored_duplicates() -> None:
    sessions = {"s1": session(["a", "b"])}
    events = [
        ("s1", event("e1", object_id="zzz")),  # refused: does not claim e1
        ("s1", event("e1", object_id="a")),
        ("s1", event("e1", object_id="b")),  # a repeat within the request
        ("s1", event("e2", object_id="b")),
        ("nope", event("e3", object_id="a")),
    ]
    rows, pending = logic.plan(events, sessions, WEIGHTS, NOW)
    assert [(r.event_id, r.object_id) for r in rows] == [("e1", "a"), ("e2", "b")]
    final = logic.settle(events, pending, inserted={"e1"})  # e2 was already stored
    assert [(r.event_id, r.status) for r in final] == [
        ("e1", "rejected"),
        ("e1", "accepted"),
        ("e1", "duplicate"),
        ("e2", "duplicate"),
        ("e3", "rejected"),
    ]
    assert final[0].error == EventError(
        status=422, field="object_id", detail="object 'zzz' was not shown in this session"
    )
    assert isinstance(final[4], EventResult)
    assert final[4].error is not None
    assert final[4].error.status == 404


def test_cursor_round_trip_and_foreign_cursors() -> None:
    later = session(["a"], session_id="s9")
    assert logic.decode_cursor(logic.encode_cursor(later)) == (NOW, "s9")
    assert logic.decode_cursor(None) is None
    for bad in ("not-base64!", "bm8tc2VwYXJhdG9y", "MjAyNC0wMS0wMXxzMQ=="):  # no '|'; a naive time
        with pytest.raises(InvalidInput) as caught:
            logic.decode_cursor(bad)
        assert caught.value.field == "cursor"
