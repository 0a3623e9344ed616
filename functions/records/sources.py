"""Sources a loader reads outside the request (a JSONL file, a SQL query) and the records they yield.

The Loader port speaks this vocabulary, so it lives here beside the ports rather than in a stage: a
port that imported functions.upsertion would make every stage depend on it. S3 and other sources
are one more tagged Struct here and one more adapter in jobs/stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from msgspec import Meta

from functions.structs import Struct

FieldName = Annotated[str, Meta(min_length=1, max_length=200)]
FieldList = Annotated[list[FieldName], Meta(min_length=1, max_length=200)]


class FieldMapping(Struct, frozen=True, kw_only=True):
    """Which fields of a record make an item. Other fields are ignored.

    By default a record is an item object: `object_id`, `content` (text or a dict of fields) and an
    optional `payload`. `content_fields` builds a dict content from those fields instead (rendered
    with the request's `template` or `fields`); `payload_fields` picks the payload from the record.
    """

    id_field: FieldName = "object_id"
    content_fields: FieldList | None = None
    payload_fields: FieldList | None = None

    def required_fields(self) -> list[str]:
        """Fields every record must have (a query's columns are checked against these up front)."""
        content = self.content_fields if self.content_fields is not None else ["content"]
        return [self.id_field, *content, *(self.payload_fields or [])]


class JsonlSource(FieldMapping, frozen=True, kw_only=True, tag="jsonl", tag_field="type"):
    """A JSONL file on the server, one record per line, under one of `upsertion.jsonl_roots`."""

    path: Annotated[str, Meta(min_length=1, max_length=4096, description="absolute path on the server")]


class PostgresSource(FieldMapping, frozen=True, kw_only=True, tag="postgres", tag_field="type"):
    """The rows of one read-only SQL query; its column names are the record's fields."""

    query: Annotated[str, Meta(min_length=1, max_length=100_000)]
    dsn: (
        Annotated[str, Meta(min_length=1, max_length=2000, description="default: the app's database")] | None
    ) = None


ExternalSource = JsonlSource | PostgresSource


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One record as read; `where` names it in the source's own terms ("line 17", "row 3").

    A record the loader could not read (malformed JSON, a line too long) carries `error` instead of
    `fields`, so it fails alone and the rest of the source still lands.
    """

    where: str
    fields: dict[str, Any] | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SourceBatch:
    """Consecutive records of a source; `total` is how many it holds (counted before the first
    batch, at most `upsertion.max_source_items` + 1, so progress and the limit are known early)."""

    records: list[SourceRecord]
    total: int
