"""Upsertion messages: index admin, item upserts and deletes, and what their tasks return."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from functions.records import Collection, Index, IndexName, ObjectId
from functions.structs import Struct
from functions.tasks.messages import CallbackUrl, IdempotencyKey

# A ceiling for the schema; the live limit is config.upsertion.max_items_per_request.
MAX_ITEMS = 10_000
FieldValue = str | int | float | list[str]
Content = str | dict[str, FieldValue]


class CreateIndexRequest(Struct, frozen=True, kw_only=True):
    name: IndexName


class IndexDetail(Struct, frozen=True, kw_only=True):
    """An index with its live collection and how much that collection holds."""

    index: Index
    blue: Collection | None
    objects: int
    parts: int


class IndexList(Struct, frozen=True, kw_only=True):
    items: list[Index]


class UpsertItem(Struct, frozen=True, kw_only=True):
    """One object: text (or fields rendered to text) to embed, and a payload stored beside it."""

    object_id: ObjectId
    content: Content
    payload: dict[str, Any] = msgspec.field(default_factory=dict)


class UpsertRequest(Struct, frozen=True, kw_only=True):
    """Items to write; dict contents are rendered with `template` ("{title}\\n{body}") or `fields`."""

    index: IndexName
    items: Annotated[list[UpsertItem], Meta(min_length=1, max_length=MAX_ITEMS)]
    template: Annotated[str, Meta(min_length=1, max_length=10_000)] | None = None
    fields: Annotated[list[str], Meta(min_length=1)] | None = None


class UpsertSubmission(UpsertRequest, frozen=True, kw_only=True):
    """The HTTP body: the request plus how its task is delivered."""

    idempotency_key: IdempotencyKey | None = None
    callback_url: CallbackUrl | None = None

    def request(self) -> UpsertRequest:
        """The task's request, without the delivery options."""
        return UpsertRequest(index=self.index, items=self.items, template=self.template, fields=self.fields)


class DeleteRequest(Struct, frozen=True, kw_only=True):
    index: IndexName
    object_ids: Annotated[list[ObjectId], Meta(min_length=1, max_length=MAX_ITEMS)]


class DeleteSubmission(DeleteRequest, frozen=True, kw_only=True):
    """The HTTP body: the request plus how its task is delivered."""

    idempotency_key: IdempotencyKey | None = None
    callback_url: CallbackUrl | None = None

    def request(self) -> DeleteRequest:
        """The task's request, without the delivery options."""
        return DeleteRequest(index=self.index, object_ids=self.object_ids)


class ItemFailure(Struct, frozen=True, kw_only=True):
    object_id: str
    reason: str


class UpsertResult(Struct, frozen=True, kw_only=True):
    """Counts for the blue collection; `chunks` counts every part embedded, in every collection."""

    upserted: int
    unchanged: int
    payload_only: int
    failed: list[ItemFailure]
    chunks: int
    collection_ids: list[str]


class DeleteResult(Struct, frozen=True, kw_only=True):
    """How many of the ids existed in the blue collection (unknown ids are not an error)."""

    deleted: int
    collection_ids: list[str]
