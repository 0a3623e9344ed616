"""The payload filter language: leaf conditions and combinators as tagged Structs ({"op": ...}), the
rules a filter must meet beyond its shape (nesting, size, finite numbers, storable text), and sorts.

Search requests carry these trees and the CollectionReader port takes them as they are; the store
that runs a read turns them into its own query (jobs/stores/filter_sql.py). Semantics, mirrored
exactly by that SQL:
- a path names nested object keys (`specs.color`); it never indexes into arrays;
- eq: the value at the path equals `value`, type for type (1 equals 1.0; true never equals 1; null
  matches a key present with null); an array value never equals a scalar;
- in: eq for any of `values`; exists: the key is present (even when its value is null);
- range: numbers compare numerically with numeric bounds; ISO 8601 bounds compare strings in
  code-point order (chronological when values share one form); a value of the other type never matches;
- match: the value is a string containing `text`, ignoring case (Unicode simple case mapping).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from msgspec import Meta

from functions.errors import InvalidInput
from functions.structs import Struct

MAX_DEPTH = 8  # nested all/any/not
MAX_LEAVES = 64
SEGMENT = r"[A-Za-z_][A-Za-z0-9_-]{0,63}"
PayloadPath = Annotated[
    str,
    Meta(
        pattern=rf"^{SEGMENT}(\.{SEGMENT}){{0,7}}$",
        description="dotted payload keys, e.g. specs.color (1-8 keys of a letter or _, then a-z, 0-9, _, -)",
    ),
]
Text = Annotated[str, Meta(max_length=4096)]
Scalar = Text | int | float | bool | None
IsoTime = Annotated[
    str,
    Meta(
        pattern=r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$",
        description="an ISO 8601 date or date-time, e.g. 2024-05-01 or 2024-05-01T12:00:00Z",
    ),
]
Bound = int | float | IsoTime | None


class Eq(Struct, frozen=True, kw_only=True, tag_field="op", tag="eq"):
    path: PayloadPath
    value: Scalar


class In(Struct, frozen=True, kw_only=True, tag_field="op", tag="in"):
    path: PayloadPath
    values: Annotated[list[Scalar], Meta(min_length=1, max_length=1000)]


class Range(Struct, frozen=True, kw_only=True, tag_field="op", tag="range"):
    """At least one bound; all bounds numbers, or all ISO 8601 strings."""

    path: PayloadPath
    gt: Bound = None
    gte: Bound = None
    lt: Bound = None
    lte: Bound = None

    def bounds(self) -> list[tuple[str, int | float | str]]:
        """The bounds given, as (operator name, value)."""
        named = (("gt", self.gt), ("gte", self.gte), ("lt", self.lt), ("lte", self.lte))
        return [(name, value) for name, value in named if value is not None]


class Exists(Struct, frozen=True, kw_only=True, tag_field="op", tag="exists"):
    path: PayloadPath


class Match(Struct, frozen=True, kw_only=True, tag_field="op", tag="match"):
    """Case-insensitive substring of a string value (not full-text: no stemming, no tokens)."""

    path: PayloadPath
    text: Annotated[str, Meta(min_length=1, max_length=256)]


class AllOf(Struct, frozen=True, kw_only=True, tag_field="op", tag="all"):
    filters: Annotated[list[Filter], Meta(min_length=1, max_length=MAX_LEAVES)]


class AnyOf(Struct, frozen=True, kw_only=True, tag_field="op", tag="any"):
    filters: Annotated[list[Filter], Meta(min_length=1, max_length=MAX_LEAVES)]


class Not(Struct, frozen=True, kw_only=True, tag_field="op", tag="not"):
    filter: Filter


Leaf = Eq | In | Range | Exists | Match
Filter = Eq | In | Range | Exists | Match | AllOf | AnyOf | Not


def check(f: Filter) -> None:
    """Refuse what the shape allows but the rules do not (InvalidInput naming field "filter")."""
    leaves = _walk(f, 0)
    if leaves > MAX_LEAVES:
        raise InvalidInput(f"the filter has {leaves} conditions; at most {MAX_LEAVES}", field="filter")


def _walk(f: Filter, depth: int) -> int:
    """Check `f` at combinator depth `depth`; return its number of leaves."""
    if isinstance(f, AllOf | AnyOf | Not):
        if depth >= MAX_DEPTH:
            raise InvalidInput(f"the filter nests all/any/not deeper than {MAX_DEPTH}", field="filter")
        children = [f.filter] if isinstance(f, Not) else f.filters
        return sum(_walk(child, depth + 1) for child in children)
    _check_leaf(f)
    return 1


def _check_leaf(f: Leaf) -> None:
    if isinstance(f, Eq):
        _check_value(f.value)
    elif isinstance(f, In):
        for value in f.values:
            _check_value(value)
    elif isinstance(f, Range):
        _check_range(f)
    elif isinstance(f, Match):
        _check_value(f.text)


def _check_value(value: object) -> None:
    # msgspec's JSON decoder already refuses NaN, infinities and lone surrogates; Structs built in
    # Python are not decoded, so the same rules are checked here before anything reaches SQL.
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput("filter numbers must be finite (no NaN or Infinity)", field="filter")
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidInput("filter text contains a NUL character (U+0000)", field="filter")
        try:
            value.encode()
        except UnicodeEncodeError:
            raise InvalidInput("filter text is not valid Unicode", field="filter") from None


def _check_range(f: Range) -> None:
    bounds = f.bounds()
    if not bounds:
        raise InvalidInput(f"range on {f.path!r} needs at least one of gt, gte, lt, lte", field="filter")
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for _, v in bounds)
    if not (numbers or all(isinstance(v, str) for _, v in bounds)):
        raise InvalidInput(
            f"range on {f.path!r} mixes bound types: give all numbers or all ISO 8601 strings",
            field="filter",
        )
    for _, value in bounds:
        _check_value(value)


class Sort(Struct, frozen=True, kw_only=True):
    """Order by the payload value at `path` (jsonb order: numbers numerically; objects without the
    key come last in both directions); ties, and every page boundary, break by object_id."""

    path: PayloadPath
    order: Literal["asc", "desc"] = "asc"
