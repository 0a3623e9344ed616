"""Upsertion messages: index and collection admin, item upserts and deletes, what their tasks return."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from functions.records import (
    Collection,
    ExternalSource,
    Index,
    IndexName,
    JsonlSource,
    ObjectId,
    PostgresSource,
)
from functions.structs import Struct, Text
from functions.tasks.messages import CallbackUrl, IdempotencyKey

# A ceiling for the schema; the live limit is config.upsertion.max_items_per_request.
MAX_ITEMS = 10_000
FieldValue = str | int | float | list[str]
Content = str | dict[str, FieldValue]


class CreateIndexRequest(Struct, frozen=True, kw_only=True):
    name: IndexName
    model: (
        Annotated[Text, Meta(min_length=1, description="model preset; default: the configured one")] | None
    ) = None


class IndexDetail(Struct, frozen=True, kw_only=True):
    """An index with its live collection and how much that collection holds."""

    index: Index
    blue: Collection | None
    objects: int
    parts: int


class IndexList(Struct, frozen=True, kw_only=True):
    items: list[Index]


class CollectionDetail(Collection, frozen=True, kw_only=True):
    """A collection, whether it is its index's live (blue) one, and how much it holds."""

    is_blue: bool
    objects: int
    parts: int


class CollectionList(Struct, frozen=True, kw_only=True):
    items: list[CollectionDetail]


class SetBlueRequest(Struct, frozen=True, kw_only=True):
    collection_id: Annotated[Text, Meta(min_length=1, max_length=40)]


class UpsertItem(Struct, frozen=True, kw_only=True):
    """One object: text (or fields rendered to text) to embed, and a payload stored beside it."""

    object_id: ObjectId
    content: Content
    payload: dict[str, Any] = msgspec.field(default_factory=dict)


Items = Annotated[list[UpsertItem], Meta(min_length=1, max_length=MAX_ITEMS)]


class InlineSource(Struct, frozen=True, kw_only=True, tag="inline", tag_field="type"):
    """Items in the request itself, as `items` would carry them."""

    items: Items


Source = InlineSource | JsonlSource | PostgresSource


class UpsertRequest(Struct, frozen=True, kw_only=True):
    """Items to write, given inline (`items`) or read from a `source`: exactly one of the two.

    Dict contents are rendered with `template` ("{title}\\n{body}") or `fields`.
    """

    index: IndexName
    items: Items | None = None
    source: Source | None = None
    template: Annotated[str, Meta(min_length=1, max_length=10_000)] | None = None
    fields: Annotated[list[str], Meta(min_length=1)] | None = None

    def inline(self) -> list[UpsertItem] | None:
        """The items the request itself carries (as `items` or an inline source), if any."""
        return self.source.items if isinstance(self.source, InlineSource) else self.items

    def external(self) -> ExternalSource | None:
        """The source a loader reads, when the items are not in the request."""
        return None if self.source is None or isinstance(self.source, InlineSource) else self.source


class UpsertSubmission(UpsertRequest, frozen=True, kw_only=True):
    """The HTTP body: the request plus how its task is delivered."""

    idempotency_key: IdempotencyKey | None = None
    callback_url: CallbackUrl | None = None

    def request(self) -> UpsertRequest:
        """The task's request, without the delivery options."""
        # An inline source is stored as `items`: one shape per request, so one idempotency fingerprint.
        return UpsertRequest(
            index=self.index,
            items=self.inline(),
            source=self.external(),
            template=self.template,
            fields=self.fields,
        )


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
    """Counts for the blue collection; `chunks` counts every part embedded, in every collection.

    `read` counts the items read (for a source, every record, good or bad); `failed` lists at most
    `upsertion.max_reported_failures` of the `failed_count` failures.
    """

    upserted: int
    unchanged: int
    payload_only: int
    failed: list[ItemFailure]
    chunks: int
    collection_ids: list[str]
    read: int
    failed_count: int


class DeleteResult(Struct, frozen=True, kw_only=True):
    """How many of the ids existed in the blue collection (unknown ids are not an error)."""

    deleted: int
    collection_ids: list[str]
