"""Pure rules that turn a source's records into items: field mapping, value coercion, limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from functions.config import UpsertionConfig
from functions.errors import InvalidInput
from functions.records import FieldMapping, SourceRecord
from functions.structs import unstorable
from functions.upsertion.messages import FieldValue, ItemFailure, UpsertItem

MAX_ID_CHARS = 256  # as ObjectId allows


class BadRecord(ValueError):
    """A record that cannot become an item; it fails alone."""


def check_size(total: int, read: int, cfg: UpsertionConfig) -> None:
    """Refuse a source larger than `upsertion.max_source_items` (checked before its first write)."""
    if max(total, read) > cfg.max_source_items:
        raise InvalidInput(
            f"the source holds more than {cfg.max_source_items} items (upsertion.max_source_items)",
            field="source",
        )


def to_items(
    records: Sequence[SourceRecord], mapping: FieldMapping
) -> tuple[list[UpsertItem], list[ItemFailure]]:
    """Items of one batch, the last of each object_id winning, and the records that failed."""
    items: dict[str, UpsertItem] = {}
    failed: list[ItemFailure] = []
    for record in records:
        try:
            if record.fields is None:
                raise BadRecord(record.error or "unreadable")
            item = to_item(record.fields, mapping)
        except BadRecord as exc:
            oid = _id_or_none(record.fields, mapping)
            # A too-long id names its failure by position: the result stays small whatever the source.
            oid = oid if oid is not None and len(oid) <= MAX_ID_CHARS else record.where
            failed.append(ItemFailure(object_id=oid, reason=f"{record.where}: {exc}"))
            continue
        # Later records replace earlier ones, as a later upsert would: a batch writes each id once.
        items.pop(item.object_id, None)
        items[item.object_id] = item
    return list(items.values()), failed


def to_item(fields: Mapping[str, Any], mapping: FieldMapping) -> UpsertItem:
    """One record as an item, or BadRecord naming what is wrong (never echoing the values)."""
    oid = _id_or_none(fields, mapping)
    if oid is None:
        raise BadRecord(f"field {mapping.id_field!r} must be a non-empty string or an integer")
    if mapping.content_fields is None:
        if "content" not in fields:
            raise BadRecord("no field 'content'")
        content = fields["content"]
    else:
        # A NULL column is left out, so a template naming it fails with "content has no field".
        content = {n: field_value(n, fields[n]) for n in mapping.content_fields if fields.get(n) is not None}
    if mapping.payload_fields is None:
        payload = fields.get("payload") or {}
    else:
        payload = {n: fields[n] for n in mapping.payload_fields if n in fields}
    try:
        raw = {"object_id": oid, "content": content, "payload": msgspec.to_builtins(payload)}
        bad = unstorable(raw, "")
        if bad is not None:
            raise BadRecord(f"{bad.lstrip('.')} contains a NUL character (U+0000) or a lone surrogate")
        return msgspec.convert(raw, UpsertItem)
    except (msgspec.ValidationError, TypeError) as exc:
        raise BadRecord(str(exc)) from None


def field_value(name: str, value: Any) -> FieldValue:
    """A record's value as a content field: text and numbers as they are, lists as text, other
    scalars (dates, decimals, UUIDs) as their text form; objects are refused."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, list | tuple):
        return [v if isinstance(v, str) else str(msgspec.to_builtins(v)) for v in value]
    if isinstance(value, dict):
        raise BadRecord(f"content field {name!r} is an object; use text, numbers or lists")
    try:
        return str(msgspec.to_builtins(value))
    except TypeError:
        raise BadRecord(f"content field {name!r} has an unsupported type") from None


def _id_or_none(fields: Mapping[str, Any] | None, mapping: FieldMapping) -> str | None:
    value = None if fields is None else fields.get(mapping.id_field)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None
