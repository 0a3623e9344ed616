"""UBI mapping with literal values: queries to sessions, events to events, and back."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from functions.clickstream import ubi
from functions.clickstream.messages import Event, EventError, Session, ShownItem
from functions.clickstream.ubi_messages import UbiEvent, UbiQuery
from functions.records import StoredEvent

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def ubi_event(**fields: object) -> UbiEvent:
    fields.setdefault("action_name", "click")
    fields.setdefault("query_id", "q1")
    return msgspec.convert(fields, UbiEvent)


def test_timestamps_rfc3339_epoch_millis_and_absent() -> None:
    assert ubi.moment(1_700_000_000_123, NOW) == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    assert ubi.moment(datetime(2024, 1, 1), NOW) == datetime(2024, 1, 1, tzinfo=UTC)
    assert ubi.moment(None, NOW) == NOW


def test_unknown_ubi_fields_are_ignored() -> None:
    raw = b'{"query_id": "q1", "user_query": "dune", "query_response_id": "r", "extra": {"x": 1}}'
    assert msgspec.json.decode(raw, type=UbiQuery).user_query == "dune"


def test_query_fields_user_shown_and_restored_attributes() -> None:
    plain = UbiQuery(query_id="q1", user_query="dune", client_id="browser-1", query_response_hit_ids=["a"])
    fields = ubi.query_fields(plain, {}, NOW)
    assert isinstance(fields, ubi.QueryFields)
    assert (fields.user_id, fields.shown, fields.shown_offset, fields.irrelevant) == (
        "browser-1",
        ["a"],
        0,
        False,
    )
    attrs = {"user_id": None, "shown_offset": 10, "irrelevant": True}
    ours = UbiQuery(query_id="q2", client_id="anonymous", query_attributes=attrs, timestamp=1000)
    restored = ubi.query_fields(ours, {"q2": ["x", "y"]}, NOW)
    assert isinstance(restored, ubi.QueryFields)
    assert (restored.user_id, restored.shown, restored.shown_offset, restored.irrelevant) == (
        None,
        ["x", "y"],
        10,
        True,
    )
    assert restored.created_at == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)


def test_query_fields_refusals() -> None:
    slash = ubi.query_fields(UbiQuery(query_id="a/b"), {}, NOW)
    assert isinstance(slash, EventError)
    assert slash.field == "query_id"
    far = ubi.query_fields(UbiQuery(query_id="q", timestamp=10**20), {}, NOW)
    assert isinstance(far, EventError)
    assert far.field == "timestamp"


def test_impressions_give_the_shown_list_by_ordinal() -> None:
    events = [
        ubi_event(
            action_name="impression",
            event_attributes={"object": {"object_id": "b"}, "position": {"ordinal": 2}},
        ),
        ubi_event(
            action_name="impression",
            event_attributes={"object": {"object_id": 7}, "position": {"ordinal": 1}},
        ),
        ubi_event(
            action_name="impression",
            event_attributes={"object": {"object_id": "b"}, "position": {"ordinal": 2}},
        ),
        ubi_event(action_name="click", event_attributes={"object": {"object_id": "c"}}),
    ]
    assert ubi.impressions(events, {"impression"}) == {"q1": ["7", "b"]}


def test_to_event_maps_object_rank_dwell_and_keeps_the_rest() -> None:
    given = ubi_event(
        timestamp="2024-01-01T10:00:00Z",
        event_attributes={
            "event_id": "e1",
            "object": {"object_id": 42, "object_id_field": "sku"},
            "position": {"ordinal": 3},
            "dwell_ms": 1500,
            "browser": "firefox",
        },
    )
    converted = ubi.to_event(given, NOW)
    assert converted == Event(
        event_id="e1",
        type="click",
        object_id="42",
        rank=None,  # the object decides the rank (producers disagree on where ordinals start)
        timestamp=datetime(2024, 1, 1, 10, tzinfo=UTC),
        dwell_ms=1500,
        attributes={"object": {"object_id_field": "sku"}, "browser": "firefox"},
    )


def test_to_event_by_ordinal_derived_ids_and_refusals() -> None:
    by_rank = ubi.to_event(ubi_event(event_attributes={"position": {"ordinal": 2}}), NOW)
    assert isinstance(by_rank, Event)
    assert (by_rank.rank, by_rank.object_id, by_rank.attributes) == (2, None, {})
    again = ubi.to_event(ubi_event(event_attributes={"position": {"ordinal": 2}}), NOW)
    assert isinstance(again, Event)
    assert by_rank.event_id == again.event_id
    assert by_rank.event_id.startswith("ubi-")
    zero = ubi.to_event(ubi_event(event_attributes={"position": {"ordinal": 0}}), NOW)
    assert isinstance(zero, EventError)
    assert zero.field == "event_attributes.position.ordinal"
    dwell = ubi.to_event(ubi_event(event_attributes={"dwell_ms": "long"}), NOW)
    assert isinstance(dwell, EventError)
    assert dwell.field == "event_attributes.dwell_ms"


def test_export_then_import_gives_the_same_event() -> None:
    session = Session(
        session_id="s1",
        index="books",
        collection_id="c1",
        search_id=None,
        user_id=None,
        query="dune",
        shown=[ShownItem(object_id="a", rank=1), ShownItem(object_id="b", rank=2)],
        irrelevant=False,
        created_at=NOW,
        last_event_at=NOW,
        closed_at=None,
        applied_at=None,
    )
    stored = StoredEvent(
        event_id="e1",
        session_id="s1",
        type="click",
        object_id="b",
        rank=2,
        dwell_ms=900,
        occurred_at=NOW,
        attributes={"object": {"object_id_field": "sku"}, "k": 1},
    )
    exported = ubi.to_ubi_event(session, stored)
    assert exported.event_attributes == {
        "object": {"object_id_field": "sku", "object_id": "b"},
        "position": {"ordinal": 2},
        "k": 1,
        "event_id": "e1",
        "dwell_ms": 900,
    }
    back = ubi.to_event(msgspec.json.decode(msgspec.json.encode(exported), type=UbiEvent), NOW)
    assert isinstance(back, Event)
    assert (back.event_id, back.object_id, back.dwell_ms, back.timestamp) == ("e1", "b", 900, NOW)
    assert back.attributes == stored.attributes
    query = ubi.to_query(session)
    assert (query.client_id, query.query_attributes["user_id"], query.query_response_object_ids) == (
        "anonymous",
        None,
        ["a", "b"],
    )
