"""Pure rules of the clickstream: shown lists and ranks, per-event checks, dedupe, list cursors."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from functions.clickstream.messages import Event, EventError, EventResult, ShownItem
from functions.errors import InvalidInput
from functions.records import StoredEvent, StoredSession
from functions.structs import unstorable


def aware(moment: datetime) -> datetime:
    """A timestamp with a zone; one without is taken as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def shown_list(items: Sequence[ShownItem]) -> tuple[list[str], int]:
    """Object ids in rank order and the offset of the first rank (ranks 11..20 give offset 10)."""
    ordered = sorted(items, key=lambda item: item.rank)
    ids = [item.object_id for item in ordered]
    if len(set(ids)) != len(ids):
        raise InvalidInput("shown lists an object_id twice", field="shown")
    offset = ordered[0].rank - 1 if ordered else 0
    if [item.rank for item in ordered] != list(range(offset + 1, offset + 1 + len(ordered))):
        raise InvalidInput("shown ranks must be distinct and consecutive", field="shown")
    return ids, offset


def shown_items(session: StoredSession) -> list[ShownItem]:
    """The session's shown list with the ranks the user saw."""
    return [
        ShownItem(object_id=oid, rank=session.shown_offset + i + 1) for i, oid in enumerate(session.shown)
    ]


def _refuse(status: int, field: str, detail: str) -> EventError:
    return EventError(status=status, field=field, detail=detail)


def _placed(event: Event, session: StoredSession) -> tuple[str | None, int | None] | EventError:
    """The event's object and rank, each filled from the other through the shown list."""
    if event.object_id is None and event.rank is None:
        return None, None  # an event about the session as a whole
    if event.object_id is not None:
        if event.object_id not in session.shown:
            return _refuse(422, "object_id", f"object {event.object_id!r} was not shown in this session")
        rank = session.shown_offset + session.shown.index(event.object_id) + 1
        if event.rank is not None and event.rank != rank:
            return _refuse(422, "rank", f"object {event.object_id!r} was shown at rank {rank}")
        return event.object_id, rank
    assert event.rank is not None
    position = event.rank - session.shown_offset - 1
    if not 0 <= position < len(session.shown):
        first, last = session.shown_offset + 1, session.shown_offset + len(session.shown)
        return _refuse(422, "rank", f"rank {event.rank} was not shown (this session showed {first}-{last})")
    return session.shown[position], event.rank


def check_event(
    event: Event, session_id: str, session: StoredSession | None, weights: Mapping[str, float], now: datetime
) -> StoredEvent | EventError:
    """The row to store for one event, or why it is refused."""
    if session is None:
        return _refuse(404, "session_id", f"session {session_id!r} does not exist")
    if event.type not in weights:
        known = ", ".join(sorted(weights))
        return _refuse(422, "type", f"event type {event.type!r} is not one of: {known}")
    bad = unstorable(event.attributes, "attributes")  # free-form JSON: its strings are checked here
    if bad is not None:
        return _refuse(422, bad, f"{bad} holds U+0000 or a lone surrogate, which cannot be stored")
    placed = _placed(event, session)
    if isinstance(placed, EventError):
        return placed
    return StoredEvent(
        event_id=event.event_id,
        session_id=session_id,
        type=event.type,
        object_id=placed[0],
        rank=placed[1],
        dwell_ms=event.dwell_ms,
        occurred_at=aware(event.timestamp) if event.timestamp is not None else now,
        attributes=event.attributes,
    )


def plan(
    events: Sequence[tuple[str, Event]],
    sessions: Mapping[str, StoredSession],
    weights: Mapping[str, float],
    now: datetime,
) -> tuple[list[StoredEvent], list[EventResult | None]]:
    """Rows to insert (each event id once) and the results known before inserting: refusals, and
    repeats of an id earlier in the request. None marks a row whose insert decides its status."""
    rows: list[StoredEvent] = []
    results: list[EventResult | None] = []
    claimed: set[str] = set()
    for session_id, event in events:
        checked = check_event(event, session_id, sessions.get(session_id), weights, now)
        if isinstance(checked, EventError):
            results.append(EventResult(event_id=event.event_id, status="rejected", error=checked))
        elif event.event_id in claimed:
            results.append(EventResult(event_id=event.event_id, status="duplicate"))
        else:
            claimed.add(event.event_id)
            rows.append(checked)
            results.append(None)
    return rows, results


def settle(
    events: Sequence[tuple[str, Event]], pending: Sequence[EventResult | None], inserted: set[str]
) -> list[EventResult]:
    """Final results: a planned row the store did not insert already existed (a duplicate)."""
    return [
        known
        if known is not None
        else EventResult(
            event_id=event.event_id, status="accepted" if event.event_id in inserted else "duplicate"
        )
        for (_, event), known in zip(events, pending, strict=True)
    ]


def encode_cursor(session: StoredSession) -> str:
    """An opaque cursor naming the last row of a page."""
    raw = f"{session.created_at.isoformat()}|{session.session_id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """The (created_at, session_id) a cursor names; InvalidInput for one this API did not issue."""
    if not cursor:
        return None
    try:
        created, _, session_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        moment = datetime.fromisoformat(created)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor is not one this API issued", field="cursor") from exc
    if not session_id or moment.tzinfo is None:
        raise InvalidInput("cursor is not one this API issued", field="cursor")
    return moment, session_id
