"""Pure upsertion rules: request limits, rendering, hashing, item checks, change plans, vector maths."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from functions.config import UpsertionConfig
from functions.errors import InvalidInput
from functions.records import StoredObject
from functions.structs import unstorable
from functions.upsertion.messages import (
    Content,
    DeleteRequest,
    FieldValue,
    ItemFailure,
    UpsertItem,
    UpsertRequest,
)

# "{{" and "}}" are literal braces; "{name}" is a field. Nothing else is interpreted: unlike
# str.format, a template can never reach attributes or indexes of the values.
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


class MissingField(ValueError):
    """The template or field list names a field the content lacks."""


def check_upsert(req: UpsertRequest, cfg: UpsertionConfig) -> None:
    """Request-level rules, checked before a task is created (and again when it runs)."""
    if req.template is not None and req.fields is not None:
        raise InvalidInput("give a template or a list of fields, not both", field="template")
    if (req.items is None) == (req.source is None):
        raise InvalidInput("give `items` or a `source`: exactly one of them", field="source")
    items = req.inline()
    if items is not None:  # a file or query is bounded by upsertion.max_source_items instead
        _check_ids([item.object_id for item in items], cfg, "items" if req.items else "source.items")
    _check_characters(req, "items" if items is not None else "source")


def check_sizes(req: UpsertRequest, cfg: UpsertionConfig) -> None:
    """Refuse a request whose inline item is over upsertion.max_item_bytes, naming it: its size is
    known before any task exists. (A task still fails such an item alone, should the limit change.)"""
    field = "items" if req.items is not None else "source.items"
    for i, item in enumerate(req.inline() or []):
        try:
            size = item_bytes(item, req.template, req.fields)
        except (MissingField, TypeError, ValueError):
            continue  # not a size problem: the task reports it for this item alone
        if size > cfg.max_item_bytes:
            detail = f"item {item.object_id!r} is {size} bytes; the limit is {cfg.max_item_bytes}"
            raise InvalidInput(detail, field=f"{field}[{i}]")


def check_delete(req: DeleteRequest, cfg: UpsertionConfig) -> None:
    """Delete requests follow the same size and character rules as upserts."""
    _check_ids(req.object_ids, cfg, "object_ids")
    _check_characters(req, "object_ids")


def _check_ids(object_ids: Sequence[str], cfg: UpsertionConfig, field: str) -> None:
    if len(object_ids) > cfg.max_items_per_request:
        raise InvalidInput(
            f"{len(object_ids)} items; at most {cfg.max_items_per_request} per request", field=field
        )
    repeated = sorted(oid for oid, n in Counter(object_ids).items() if n > 1)
    if repeated:
        raise InvalidInput(f"object_id repeated in one request: {', '.join(repeated[:5])}", field=field)


def _check_characters(req: UpsertRequest | DeleteRequest, field: str) -> None:
    # Postgres text and jsonb cannot hold U+0000 (nor UTF-8 a lone surrogate): refuse it before it
    # reaches the tasks table, naming the innermost field (items[3].payload.title).
    bad = unstorable(msgspec.to_builtins(req), "")
    if bad is not None:
        path = bad.lstrip(".") or field
        raise InvalidInput(f"{path} contains a NUL character (U+0000) or a lone surrogate", field=path)


def field_text(value: FieldValue) -> str:
    """One field as text: lists joined by ", ", numbers as written."""
    return ", ".join(value) if isinstance(value, list) else str(value)


def render(content: Content, template: str | None, fields: Sequence[str] | None) -> str:
    """The text to embed: a string as is; a dict through `template`, or its `fields` (default: all,
    in order) one per line."""
    if isinstance(content, str):
        return content
    if template is not None:
        return PLACEHOLDER.sub(lambda m: _placeholder(content, m), template)
    names = list(content) if fields is None else fields
    return "\n".join(field_text(_field(content, name)) for name in names)


def _placeholder(content: Mapping[str, FieldValue], match: re.Match[str]) -> str:
    if match.group(1) is None:
        return match.group(0)[0]  # "{{" → "{", "}}" → "}"
    return field_text(_field(content, match.group(1)))


def _field(content: Mapping[str, FieldValue], name: str) -> FieldValue:
    if name not in content:
        raise MissingField(f"content has no field {name!r}")
    return content[name]


def item_bytes(
    item: UpsertItem, template: str | None, fields: Sequence[str] | None, text: str | None = None
) -> int:
    """An item's size against upsertion.max_item_bytes: its rendered text plus its payload as JSON
    (UTF-8 bytes). Raises MissingField, or ValueError for a value JSON cannot hold."""
    rendered = render(item.content, template, fields) if text is None else text
    json.dumps(item.content, allow_nan=False)
    return len(rendered.encode()) + len(json.dumps(item.payload, allow_nan=False).encode())


def content_hash(text: str) -> str:
    """sha256 of the rendered text: equal text means the stored vectors are still right."""
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Prepared:
    """An item that passed its checks, with its rendered text and that text's hash."""

    item: UpsertItem
    text: str
    hash: str


def prepare_item(
    item: UpsertItem, template: str | None, fields: Sequence[str] | None, max_bytes: int
) -> Prepared | ItemFailure:
    """Render and check one item; a bad item fails alone, never the whole request."""
    try:
        text = render(item.content, template, fields)
        size = item_bytes(item, template, fields, text)
    except MissingField as exc:
        return ItemFailure(object_id=item.object_id, reason=str(exc))
    except (TypeError, ValueError) as exc:
        return ItemFailure(object_id=item.object_id, reason=f"not JSON-serialisable: {exc}")
    if not text.strip():
        return ItemFailure(object_id=item.object_id, reason="content is empty")
    if size > max_bytes:
        return ItemFailure(object_id=item.object_id, reason=f"item is {size} bytes; the limit is {max_bytes}")
    return Prepared(item=item, text=text, hash=content_hash(text))


@dataclass(frozen=True, slots=True)
class Plan:
    """What one collection needs: items to embed, payloads to replace, items to leave alone."""

    embed: list[Prepared] = field(default_factory=list)
    payload_only: list[Prepared] = field(default_factory=list)
    unchanged: list[Prepared] = field(default_factory=list)


def plan(items: Sequence[Prepared], stored: Mapping[str, StoredObject]) -> Plan:
    """New or changed text → embed; same text, other payload → payload only; else nothing."""
    result = Plan()
    for p in items:
        old = stored.get(p.item.object_id)
        if old is None or old.content_hash != p.hash:
            result.embed.append(p)
        elif payload_changed(old.payload, p.item.payload):
            result.payload_only.append(p)
        else:
            result.unchanged.append(p)
    return result


def payload_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Compare as canonical JSON: in Python `True == 1 == 1.0`, but they are different payloads."""
    return msgspec.json.encode(old, order="sorted") != msgspec.json.encode(new, order="sorted")


def prepare(req: UpsertRequest, max_bytes: int) -> tuple[list[Prepared], list[ItemFailure]]:
    """Every item rendered and checked: those ready to write, and those that failed."""
    ready: list[Prepared] = []
    failed: list[ItemFailure] = []
    for item in req.inline() or []:
        outcome = prepare_item(item, req.template, req.fields, max_bytes)
        if isinstance(outcome, Prepared):
            ready.append(outcome)
        else:
            failed.append(outcome)
    return ready, failed


def new_collection_id(index: str, token: str) -> str:
    """`<index>_<token>` as a safe identifier: '-' becomes '_', and the whole fits in 40 characters."""
    stem = re.sub(r"[^a-z0-9_]", "_", index.lower())[:27]
    suffix = re.sub(r"[^a-z0-9]", "", token.lower())[:12]
    if not suffix:
        raise ValueError("the collection id token has no usable characters")
    return f"{stem}_{suffix}"
