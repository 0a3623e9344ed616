"""Pure mapping between UBI queries/events and our sessions/events, both ways.

query_id ↔ session_id, user_query ↔ query, application ↔ index, timestamp ↔ created_at,
query_response_object_ids ↔ shown; action_name ↔ type, event_attributes.object.object_id ↔ object_id,
event_attributes.position.ordinal ↔ rank; the rest of event_attributes is kept as the attributes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from functions.clickstream.logic import aware
from functions.clickstream.messages import INT32_MAX, Event, EventError, Session
from functions.clickstream.ubi_messages import UbiEvent, UbiQuery, UbiTime
from functions.records import StoredEvent
from functions.structs import unstorable

SESSION_ID = re.compile(r"^[\x21-\x2e\x30-\x7e]{1,200}$")
AT = re.compile(r"at `\$\.(\w+)")  # the field msgspec names in a ValidationError
# Where each Event field comes from in a UBI event, to name the field at fault.
SOURCES = {
    "event_id": "event_attributes.event_id",
    "object_id": "event_attributes.object.object_id",
    "rank": "event_attributes.position.ordinal",
    "dwell_ms": "event_attributes.dwell_ms",
}


def moment(value: UbiTime | None, now: datetime) -> datetime:
    """A UBI timestamp (RFC 3339 or epoch milliseconds) as an aware datetime; absent means now."""
    if value is None:
        return now
    if isinstance(value, datetime):
        return aware(value)
    return datetime.fromtimestamp(value / 1000, UTC)


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def impressions(events: Sequence[UbiEvent], actions: Collection[str]) -> dict[str, list[str]]:
    """What impression events say each query showed, by ordinal (then in the order they came)."""
    seen: dict[str, list[tuple[int, int, str]]] = {}
    for order, event in enumerate(events):
        attrs = event.event_attributes
        object_id = _dict(attrs.get("object")).get("object_id")
        if event.action_name in actions and event.query_id and isinstance(object_id, str | int):
            ordinal = _dict(attrs.get("position")).get("ordinal")
            place = ordinal if isinstance(ordinal, int) else 1 << 30
            seen.setdefault(event.query_id, []).append((place, order, str(object_id)))
    return {qid: list(dict.fromkeys(oid for *_, oid in sorted(found))) for qid, found in seen.items()}


@dataclass(frozen=True, slots=True)
class QueryFields:
    """What a UBI query says about its session beyond the id, text, index and time."""

    user_id: str | None
    shown: list[str]
    shown_offset: int
    irrelevant: bool
    created_at: datetime


def query_fields(
    query: UbiQuery, shown_by_impressions: Mapping[str, list[str]], now: datetime
) -> QueryFields | EventError:
    """user, shown list, rank offset, irrelevant flag and time of the session a UBI query becomes."""
    if not SESSION_ID.match(query.query_id):
        return EventError(status=422, field="query_id", detail="query_id must be printable ASCII without '/'")
    attrs = query.query_attributes
    bad = unstorable(attrs, "query_attributes")
    if bad is not None:
        return EventError(status=422, field=bad, detail=f"{bad} holds U+0000 or a lone surrogate")
    user = attrs.get("user_id", query.client_id)  # present but null: an anonymous session
    if user is not None and not (isinstance(user, str) and 1 <= len(user) <= 256):
        return EventError(status=422, field="client_id", detail="the user id must be 1-256 characters")
    try:
        created_at = moment(query.timestamp, now)
    except (ValueError, OverflowError, OSError) as exc:
        return EventError(status=422, field="timestamp", detail=f"timestamp is not a time: {exc}")
    shown = query.query_response_object_ids or query.query_response_hit_ids
    listed = list(shown) if shown else shown_by_impressions.get(query.query_id, [])
    offset = attrs.get("shown_offset")
    if isinstance(offset, int) and offset > INT32_MAX - len(listed):  # ranks are Postgres integers
        detail = f"shown_offset is {offset}; at most {INT32_MAX - len(listed)}"
        return EventError(status=422, field="query_attributes.shown_offset", detail=detail)
    return QueryFields(
        user_id=user,
        shown=listed,
        shown_offset=offset if isinstance(offset, int) and offset >= 0 else 0,
        irrelevant=attrs.get("irrelevant") is True,
        created_at=created_at,
    )


def event_id(event: UbiEvent) -> str:
    """The event's own id, or one derived from its content (a re-import finds it again)."""
    given = event.event_attributes.get("event_id")
    if isinstance(given, str) and given:
        return given
    return "ubi-" + hashlib.sha256(msgspec.json.encode(event, order="sorted")).hexdigest()[:40]


def to_event(event: UbiEvent, now: datetime) -> Event | EventError:
    """Our event for a UBI event (its query_id is the session); the rank counts only without an
    object_id, since producers disagree on whether ordinals start at 0 or 1."""
    attrs = dict(event.event_attributes)
    obj, position = _dict(attrs.get("object")), _dict(attrs.get("position"))
    object_id = obj.pop("object_id", None)
    ordinal = position.pop("ordinal", None)
    for key, rest in (("object", obj), ("position", position)):
        if isinstance(attrs.get(key), dict):
            attrs[key] = rest
            if not rest:
                del attrs[key]
    dwell_ms = attrs.pop("dwell_ms", None)
    attrs.pop("event_id", None)
    if isinstance(object_id, int) and not isinstance(object_id, bool):
        object_id = str(object_id)  # UBI producers often log numeric ids
    fields = {
        "event_id": event_id(event),
        "type": event.action_name,
        "object_id": object_id,
        "rank": ordinal if object_id is None else None,
        "dwell_ms": dwell_ms,
        "attributes": attrs,
    }
    try:
        fields["timestamp"] = moment(event.timestamp, now)
    except (ValueError, OverflowError, OSError) as exc:
        return EventError(status=422, field="timestamp", detail=f"timestamp is not a time: {exc}")
    try:
        return msgspec.convert(fields, Event)
    except msgspec.ValidationError as exc:
        at = AT.search(str(exc))
        name = at.group(1) if at else "event_attributes"
        return EventError(status=422, field=SOURCES.get(name, name), detail=str(exc))


def to_query(session: Session) -> UbiQuery:
    """A session as a UBI query; query_attributes carry what UBI has no field for."""
    offset = session.shown[0].rank - 1 if session.shown else 0
    return UbiQuery(
        query_id=session.session_id,
        user_query=session.query,
        client_id=session.user_id or "anonymous",
        timestamp=session.created_at,
        application=session.index,
        query_response_object_ids=[item.object_id for item in session.shown],
        query_attributes={
            "user_id": session.user_id,
            "shown_offset": offset,
            "irrelevant": session.irrelevant,
        },
    )


def to_ubi_event(session: Session, event: StoredEvent) -> UbiEvent:
    """An event as a UBI event; its id, object, rank and dwell go into event_attributes."""
    attrs: dict[str, Any] = {**event.attributes, "event_id": event.event_id}
    if event.object_id is not None:
        attrs["object"] = {**_dict(attrs.get("object")), "object_id": event.object_id}
    if event.rank is not None:
        attrs["position"] = {**_dict(attrs.get("position")), "ordinal": event.rank}
    if event.dwell_ms is not None:
        attrs["dwell_ms"] = event.dwell_ms
    return UbiEvent(
        action_name=event.type,
        query_id=session.session_id,
        client_id=session.user_id or "anonymous",
        timestamp=event.occurred_at,
        application=session.index,
        event_attributes=attrs,
    )
