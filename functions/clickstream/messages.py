"""Clickstream messages: sessions (what a user was shown for a query) and the events that followed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from functions.records import IndexName, ObjectId
from functions.structs import Struct, Text

# Session and event ids travel in URL paths: printable ASCII without '/' or spaces.
SessionId = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[\x21-\x2e\x30-\x7e]+$")]
EventId = Annotated[Text, Meta(min_length=1, max_length=200)]
UserId = Annotated[Text, Meta(min_length=1, max_length=256)]
INT32_MAX = 2**31 - 1  # ranks, offsets and dwell times are Postgres integers
Rank = Annotated[int, Meta(ge=1, le=INT32_MAX)]
MAX_EVENTS = 1000  # per request; config.clickstream.max_batch_events may lower it


class ShownItem(Struct, frozen=True, kw_only=True):
    """One result the user saw, at `rank` (1 = top of the first page)."""

    object_id: ObjectId
    rank: Rank


class CreateSession(Struct, frozen=True, kw_only=True):
    """Give `search_id` (index, query, shown and the query vector come from that search; the session
    id defaults to it), or `index`, `query` and `shown` (the query is embedded now). Ranks in `shown`
    must be distinct and consecutive (a later page may start above 1)."""

    session_id: SessionId | None = None
    search_id: Annotated[Text, Meta(max_length=200)] | None = None
    index: IndexName | None = None
    user_id: UserId | None = None
    query: Annotated[Text, Meta(min_length=1)] | None = None  # bounded by the body limit, like a search's
    shown: Annotated[list[ShownItem], Meta(max_length=1000)] | None = None


class Session(Struct, frozen=True, kw_only=True):
    """A session; `task_id` is set by close (the improvement task it submitted)."""

    session_id: str
    index: str
    collection_id: str | None
    search_id: str | None
    user_id: str | None
    query: str
    shown: list[ShownItem]
    irrelevant: bool
    created_at: datetime
    last_event_at: datetime
    closed_at: datetime | None
    applied_at: datetime | None
    task_id: str | None = None


class Event(Struct, frozen=True, kw_only=True):
    """One user action. `type` is one of config clickstream.event_weights (click, add_to_cart, ...).
    `object_id` must be one the session showed; give it, its `rank`, or both (they must agree).
    `timestamp` defaults to now (without a zone: UTC); events may arrive in any order."""

    event_id: EventId
    type: Annotated[Text, Meta(min_length=1, max_length=100)]
    object_id: ObjectId | None = None
    rank: Rank | None = None
    timestamp: datetime | None = None
    dwell_ms: Annotated[int, Meta(ge=0, le=INT32_MAX)] | None = None
    attributes: dict[str, Any] = msgspec.field(default_factory=dict)


class SessionEvent(Event, frozen=True, kw_only=True):
    """An event that names its session (batch ingestion)."""

    session_id: SessionId


class EventsRequest(Struct, frozen=True, kw_only=True):
    """Events of one session, 1 to 1000."""

    events: Annotated[list[Event], Meta(min_length=1, max_length=MAX_EVENTS)]


class BatchRequest(Struct, frozen=True, kw_only=True):
    """Events of any sessions, 1 to 1000; each names its session."""

    events: Annotated[list[SessionEvent], Meta(min_length=1, max_length=MAX_EVENTS)]


class EventError(Struct, frozen=True, kw_only=True):
    """Why one event was refused: an HTTP status and the field at fault."""

    status: int
    field: str
    detail: str


class EventResult(Struct, frozen=True, kw_only=True):
    """`duplicate`: an event with this id was already stored (it counts once)."""

    event_id: str
    status: Literal["accepted", "duplicate", "rejected"]
    error: EventError | None = None


class IngestResult(Struct, frozen=True, kw_only=True):
    """One result per event, in request order."""

    results: list[EventResult]


class StoredEventOut(Struct, frozen=True, kw_only=True):
    """A recorded event; object_id and rank are both filled when either was given."""

    event_id: str
    type: str
    object_id: str | None
    rank: int | None
    timestamp: datetime
    dwell_ms: int | None
    attributes: dict[str, Any]
    received_at: datetime | None


class SessionDetail(Session, frozen=True, kw_only=True):
    """A session with its events, by timestamp."""

    events: list[StoredEventOut]


class SessionPage(Struct, frozen=True, kw_only=True):
    """Sessions oldest first; pass `next_cursor` back as `cursor` for the next page."""

    items: list[Session]
    next_cursor: str | None
