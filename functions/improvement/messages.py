"""Improvement messages: apply sessions (a cpu task), and reset adjustments to the originals."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, field

from functions.records import IndexName, ObjectId
from functions.structs import Struct, Text
from functions.tasks.messages import CallbackUrl, IdempotencyKey

SessionId = Annotated[Text, Meta(min_length=1, max_length=200)]
UserId = Annotated[Text, Meta(min_length=1, max_length=256)]
MAX_SESSIONS = 1000


class ApplyRequest(Struct, frozen=True, kw_only=True):
    """The `improvement.apply` job: these sessions, or every not yet applied session of `index`
    (give exactly one). Each session is applied at most once, whoever asks how often."""

    session_ids: Annotated[list[SessionId], Meta(max_length=MAX_SESSIONS)] = field(default_factory=list)
    index: IndexName | None = None


class ApplySubmission(Struct, frozen=True, kw_only=True):
    """`POST /improvement/apply`: an ApplyRequest plus task delivery options."""

    session_ids: Annotated[list[SessionId], Meta(max_length=MAX_SESSIONS)] = field(default_factory=list)
    index: IndexName | None = None
    idempotency_key: IdempotencyKey | None = None
    callback_url: CallbackUrl | None = None

    def request(self) -> ApplyRequest:
        """The job's request."""
        return ApplyRequest(session_ids=self.session_ids, index=self.index)


class ApplyResult(Struct, frozen=True, kw_only=True):
    """How each session went: `applied` changed vectors; `skipped` counts the others by reason
    (irrelevant, no_query_vector, no_user, no_feedback, no_collection; not_pending: missing or
    already applied)."""

    sessions: int
    applied: int
    changes: int
    skipped: dict[str, int]


class ResetRequest(Struct, frozen=True, kw_only=True):
    """Restore the original vectors of the index's live collection: shared adjustments without
    `user_id`, that user's personal ones with it; of `object_ids`, or of every object when absent."""

    index: IndexName
    object_ids: Annotated[list[ObjectId], Meta(min_length=1, max_length=10_000)] | None = None
    user_id: UserId | None = None


class ResetResult(Struct, frozen=True, kw_only=True):
    """How many objects had their shared vectors restored, or lost that user's personal copies."""

    index: str
    collection_id: str
    user_id: str | None
    objects: int
