"""OpenSearch User Behavior Insights (UBI) query and event shapes, for import and export.

UBI objects are written by other systems that add fields of their own (UBI allows it), so these
messages ignore unknown fields instead of refusing them, unlike every other message of the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from functions.clickstream.messages import EventError
from functions.records import IndexName
from functions.structs import Struct, Text

UbiId = Annotated[Text, Meta(min_length=1, max_length=200)]
# RFC 3339, or epoch milliseconds as OpenSearch stores them; without a zone: UTC.
UbiTime = datetime | int
MAX_UBI_ITEMS = 1000  # queries, and events, per import (config.clickstream.max_batch_events may lower it)


class UbiStruct(Struct, frozen=True, kw_only=True, forbid_unknown_fields=False, omit_defaults=True):
    """Base of the UBI shapes: unknown fields are ignored and absent ones are left out on export."""


class UbiQuery(UbiStruct, frozen=True, kw_only=True):
    """A UBI query: one of our sessions. `application` names the index unless the import names one.
    `query_attributes.user_id`, when present, is the user (else `client_id`); `shown_offset` and
    `irrelevant` there restore those session fields."""

    query_id: UbiId
    user_query: Text = ""  # bounded by the body limit; a long one is embedded from its start
    client_id: Text | None = None
    timestamp: UbiTime | None = None
    application: Text | None = None
    query_response_id: Text | None = None
    query_response_object_ids: list[Text] | None = None
    # The OpenSearch UBI plugin's name for the same list.
    query_response_hit_ids: list[Text] | None = None
    query_attributes: dict[str, Any] = msgspec.field(default_factory=dict)


class UbiEvent(UbiStruct, frozen=True, kw_only=True):
    """A UBI event: `event_attributes.object.object_id` is the object, `position.ordinal` its rank
    (1 = top; used when no object_id is given); `event_attributes.event_id` and `dwell_ms` are ours."""

    action_name: Annotated[Text, Meta(min_length=1, max_length=100)]
    query_id: Text | None = None
    client_id: Text | None = None
    session_id: Text | None = None
    user_id: Text | None = None
    timestamp: UbiTime | None = None
    application: Text | None = None
    message_type: Text | None = None
    message: Text | None = None
    event_attributes: dict[str, Any] = msgspec.field(default_factory=dict)


class UbiImport(Struct, frozen=True, kw_only=True):
    """Queries become sessions (those whose query_id exists are left alone), events become their
    events. `next_cursor` is ignored: an export page can be posted back as it is."""

    index: IndexName | None = None
    queries: Annotated[list[UbiQuery], Meta(max_length=MAX_UBI_ITEMS)] = msgspec.field(default_factory=list)
    events: Annotated[list[UbiEvent], Meta(max_length=MAX_UBI_ITEMS)] = msgspec.field(default_factory=list)
    next_cursor: Text | None = None


class UbiQueryResult(Struct, frozen=True, kw_only=True):
    """`existing`: a session with this id was already there (it is left as it is)."""

    query_id: str
    status: Literal["created", "existing", "rejected"]
    error: EventError | None = None


class UbiEventResult(Struct, frozen=True, kw_only=True):
    """`ignored`: an impression (it only says what was shown). `event_id` is the one stored (given in
    event_attributes.event_id, or derived from the event's content, so a re-import is a duplicate)."""

    event_id: str | None
    status: Literal["accepted", "duplicate", "rejected", "ignored"]
    error: EventError | None = None


class UbiImportResult(Struct, frozen=True, kw_only=True):
    """One result per query and per event, in request order."""

    queries: list[UbiQueryResult]
    events: list[UbiEventResult]


class UbiExport(Struct, frozen=True, kw_only=True):
    """Sessions as UBI queries, oldest first, with all their events; `next_cursor` pages on."""

    queries: list[UbiQuery]
    events: list[UbiEvent]
    next_cursor: str | None
