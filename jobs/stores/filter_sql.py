"""Filters and sorts as parameterised SQL over a jsonb payload column: pure string building for the
stores that run it (the filter tree itself is functions/records/filters.py).

Every value, path included, travels as a `$n` parameter; the only text pasted into the SQL is fixed
here or is the column name a store passes (checked against COLUMN). Each leaf is true or false, never
NULL, so NOT means "does not match" and a missing key never makes a whole condition unknown.
"""

from __future__ import annotations

import re
from typing import Any

from functions.records.filters import AllOf, AnyOf, Eq, Exists, Filter, In, Match, Not, Range, Sort, check

COLUMN = re.compile(r"^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$")
COMPARISONS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
# "C" orders strings by code point, whatever the database's own collation; pg_c_utf8 (PostgreSQL
# 17+) folds case by Unicode's simple mapping, where a "C" database would fold only ASCII.
ORDER_COLLATION = '"C"'
CASE_COLLATION = "pg_c_utf8"


class _Params:
    """Collects parameter values and names their placeholders from `start` on."""

    def __init__(self, start: int) -> None:
        self.start = start
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${self.start + len(self.values) - 1}"


def compile_filter(f: Filter | None, start: int = 1, column: str = "payload") -> tuple[str, list[Any]]:
    """`f` as a boolean SQL expression over the jsonb `column`, with its parameters ($start on);
    no filter is "true" (every row)."""
    col = _column(column)
    if f is None:
        return "true", []
    check(f)
    params = _Params(start)
    return _expr(f, params, col), params.values


def compile_sort(sort: Sort | None, start: int = 1, column: str = "payload") -> tuple[str, list[Any]]:
    """An ORDER BY list: the sort key (missing values last in both directions), then object_id,
    so every row has one place and offset pages never overlap or skip."""
    col = _column(column)
    table, _, _ = col.rpartition(".")
    tiebreak = f"{table}.object_id" if table else "object_id"
    if sort is None:
        return tiebreak, []
    params = _Params(start)
    direction = "DESC" if sort.order == "desc" else "ASC"
    return (
        f"{col} #> {params.add(_keys(sort.path))}::text[] {direction} NULLS LAST, {tiebreak}",
        params.values,
    )


def _column(column: str) -> str:
    if not COLUMN.fullmatch(column):
        raise ValueError(f"{column!r} is not a plain column name")
    return column


def _expr(f: Filter, p: _Params, col: str) -> str:
    if isinstance(f, AllOf):
        return "(" + " AND ".join(_expr(child, p, col) for child in f.filters) + ")"
    if isinstance(f, AnyOf):
        return "(" + " OR ".join(_expr(child, p, col) for child in f.filters) + ")"
    if isinstance(f, Not):
        return f"NOT ({_expr(f.filter, p, col)})"
    if isinstance(f, Eq):
        # Containment, not #> =: the payload's GIN index (jsonb_ops) answers @> directly.
        return f"{col} @> {p.add(_nested(f.path, f.value))}::jsonb"
    if isinstance(f, In):
        return f"{col} @> ANY({p.add([_nested(f.path, v) for v in f.values])}::jsonb[])"
    if isinstance(f, Exists):
        return f"{col} #> {p.add(_keys(f.path))}::text[] IS NOT NULL"
    if isinstance(f, Range):
        return _range(f, p, col)
    return _match(f, p, col)


def _range(f: Range, p: _Params, col: str) -> str:
    path = p.add(_keys(f.path))
    numeric = not isinstance(f.bounds()[0][1], str)
    if numeric:
        # jsonb compares numbers numerically: no ::numeric cast, so nothing can raise whatever order
        # the planner evaluates the AND in.
        kind, value, cast = "number", f"{col} #> {path}::text[]", "::jsonb"
    else:
        kind, value, cast = "string", f"({col} #>> {path}::text[]) COLLATE {ORDER_COLLATION}", "::text"
    tests = [f"{value} {COMPARISONS[name]} {p.add(bound)}{cast}" for name, bound in f.bounds()]
    return f"COALESCE(jsonb_typeof({col} #> {path}::text[]) = '{kind}' AND {' AND '.join(tests)}, false)"


def _match(f: Match, p: _Params, col: str) -> str:
    path = p.add(_keys(f.path))
    pattern = p.add("%" + _escape_like(f.text) + "%")
    text = f"({col} #>> {path}::text[]) COLLATE {CASE_COLLATION}"
    return f"COALESCE(jsonb_typeof({col} #> {path}::text[]) = 'string' AND {text} ILIKE {pattern}, false)"


def _escape_like(text: str) -> str:
    """`text` as a LIKE pattern that matches only itself (backslash is LIKE's default escape)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _keys(path: str) -> list[str]:
    return path.split(".")


def _nested(path: str, value: Any) -> dict[str, Any]:
    """{"a": {"b": value}} for path "a.b": what a payload with that value contains."""
    nested: Any = value
    for key in reversed(_keys(path)):
        nested = {key: nested}
    result: dict[str, Any] = nested
    return result
