"""The filter language with literal values: decoding, the rules beyond shape, and the exact SQL."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from functions.errors import InvalidInput
from functions.records import Sort, filters
from functions.records.filters import AllOf, AnyOf, Eq, Exists, Filter, In, Match, Not, Range
from functions.search.messages import SearchRequest
from jobs.stores.filter_sql import compile_filter, compile_sort


def decode(raw: Any) -> Filter:
    f: Filter = msgspec.json.decode(msgspec.json.encode(raw), type=Filter)
    return f


def test_filters_decode_from_tagged_json() -> None:
    raw = {
        "op": "all",
        "filters": [
            {"op": "eq", "path": "specs.color", "value": "red"},
            {"op": "not", "filter": {"op": "in", "path": "brand", "values": ["Acme", 1, None, True]}},
            {
                "op": "any",
                "filters": [{"op": "exists", "path": "sale"}, {"op": "match", "path": "t", "text": "x"}],
            },
            {"op": "range", "path": "price", "gte": 10, "lt": 20.5},
        ],
    }
    assert decode(raw) == AllOf(
        filters=[
            Eq(path="specs.color", value="red"),
            Not(filter=In(path="brand", values=["Acme", 1, None, True])),
            AnyOf(filters=[Exists(path="sale"), Match(path="t", text="x")]),
            Range(path="price", gte=10, lt=20.5),
        ]
    )
    request = msgspec.convert({"index": "books", "query": "q", "filter": raw}, SearchRequest)
    assert isinstance(request.filter, AllOf)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"op": "eq", "path": "a"}, "missing required field `value`"),
        ({"op": "eq", "path": "a", "value": 1, "extra": 2}, "unknown field `extra`"),
        ({"op": "like", "path": "a"}, "Invalid value 'like'"),
        ({"op": "eq", "path": "a b", "value": 1}, "Expected `str` matching regex"),
        ({"op": "eq", "path": "1a", "value": 1}, "Expected `str` matching regex"),
        ({"op": "eq", "path": "a..b", "value": 1}, "Expected `str` matching regex"),
        ({"op": "eq", "path": "a.b.c.d.e.f.g.h.i", "value": 1}, "Expected `str` matching regex"),
        ({"op": "eq", "path": "a';--", "value": 1}, "Expected `str` matching regex"),
        ({"op": "eq", "path": "a", "value": [1]}, "Expected `str | int | float | bool | null`"),
        ({"op": "in", "path": "a", "values": []}, "length >= 1"),
        ({"op": "in", "path": "a", "values": list(range(1001))}, "length <= 1000"),
        ({"op": "all", "filters": []}, "length >= 1"),
        ({"op": "range", "path": "a", "gt": "01/02/2024"}, "Expected `str` matching regex"),
        ({"op": "range", "path": "a", "gt": True}, "Expected `int | float | str | null`, got `bool`"),
        ({"op": "match", "path": "a", "text": ""}, "length >= 1"),
    ],
)
def test_malformed_filters_are_refused_by_the_decoder(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=message):
        decode(raw)


def nested_not(depth: int) -> Filter:
    f: Filter = Exists(path="a")
    for _ in range(depth):
        f = Not(filter=f)
    return f


@pytest.mark.parametrize(
    ("f", "message"),
    [
        (nested_not(9), "deeper than 8"),
        (AllOf(filters=[AnyOf(filters=[Exists(path=f"k{i}") for i in range(40)])] * 2), "80 conditions"),
        (Range(path="a"), "at least one of gt, gte, lt, lte"),
        (Range(path="a", gt=1, lt="2024-01-01"), "mixes bound types"),
        (Eq(path="a", value="x\x00y"), "NUL"),
        (In(path="a", values=["ok", "\x00"]), "NUL"),
        (Match(path="a", text="\x00"), "NUL"),
        (Eq(path="a", value=float("nan")), "finite"),
        (Range(path="a", lt=float("inf")), "finite"),
        (Eq(path="a", value="\ud800"), "not valid Unicode"),
    ],
)
def test_rules_beyond_shape_raise_invalid_input_on_filter(f: Filter, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        filters.check(f)
    assert caught.value.field == "filter"
    with pytest.raises(InvalidInput):
        compile_filter(f)  # the compiler checks too: nothing unchecked ever becomes SQL


def test_limits_are_inclusive() -> None:
    filters.check(nested_not(8))
    filters.check(AllOf(filters=[Exists(path=f"k{i}") for i in range(64)]))


def test_leaves_compile_to_literal_sql_with_every_value_a_parameter() -> None:
    assert compile_filter(Eq(path="specs.color", value="red")) == (
        "payload @> $1::jsonb",
        [{"specs": {"color": "red"}}],
    )
    assert compile_filter(In(path="brand", values=["a", 2]), start=4) == (
        "payload @> ANY($4::jsonb[])",
        [[{"brand": "a"}, {"brand": 2}]],
    )
    assert compile_filter(Exists(path="a.b")) == ("payload #> $1::text[] IS NOT NULL", [["a", "b"]])
    assert compile_filter(Range(path="price", gte=10, lt=20.5), column="o.payload") == (
        "COALESCE(jsonb_typeof(o.payload #> $1::text[]) = 'number'"
        " AND o.payload #> $1::text[] >= $2::jsonb AND o.payload #> $1::text[] < $3::jsonb, false)",
        [["price"], 10, 20.5],
    )
    assert compile_filter(Range(path="at", gt="2024-01-01", lte="2024-12-31T23:59:59Z")) == (
        "COALESCE(jsonb_typeof(payload #> $1::text[]) = 'string'"
        ' AND (payload #>> $1::text[]) COLLATE "C" > $2::text'
        ' AND (payload #>> $1::text[]) COLLATE "C" <= $3::text, false)',
        [["at"], "2024-01-01", "2024-12-31T23:59:59Z"],
    )
    assert compile_filter(Match(path="title", text="50%_off\\")) == (
        "COALESCE(jsonb_typeof(payload #> $1::text[]) = 'string'"
        " AND (payload #>> $1::text[]) COLLATE pg_c_utf8 ILIKE $2, false)",
        [["title"], "%50\\%\\_off\\\\%"],
    )


def test_combinators_nest_with_running_placeholders() -> None:
    f = AllOf(
        filters=[
            Eq(path="a", value=None),
            Not(filter=AnyOf(filters=[Exists(path="b"), Eq(path="c", value=True)])),
        ]
    )
    assert compile_filter(f, start=3) == (
        "(payload @> $3::jsonb AND NOT ((payload #> $4::text[] IS NOT NULL OR payload @> $5::jsonb)))",
        [{"a": None}, ["b"], {"c": True}],
    )


def test_hostile_values_stay_parameters() -> None:
    hostile = "'; DROP TABLE indexes; --"
    sql, params = compile_filter(AnyOf(filters=[Eq(path="a", value=hostile), Match(path="a", text=hostile)]))
    assert hostile not in sql
    assert "DROP" not in sql
    assert params == [{"a": hostile}, ["a"], "%'; DROP TABLE indexes; --%"]
    big = compile_filter(In(path="n", values=[10**30, 1e308, -1e-300]))
    assert big == ("payload @> ANY($1::jsonb[])", [[{"n": 10**30}, {"n": 1e308}, {"n": -1e-300}]])


def test_sort_orders_by_key_then_object_id() -> None:
    assert compile_sort(None) == ("object_id", [])
    assert compile_sort(Sort(path="price"), start=3) == (
        "payload #> $3::text[] ASC NULLS LAST, object_id",
        [["price"]],
    )
    assert compile_sort(Sort(path="a.b", order="desc"), column="o.payload") == (
        "o.payload #> $1::text[] DESC NULLS LAST, o.object_id",
        [["a", "b"]],
    )


def test_no_filter_or_sort_compiles_for_stores_and_odd_columns_are_refused() -> None:
    assert compile_filter(None, 5, "payload") == ("true", [])
    exists = ("o.payload #> $2::text[] IS NOT NULL", [["a"]])
    assert compile_filter(Exists(path="a"), 2, "o.payload") == exists
    assert compile_sort(None, 1, "payload") == ("object_id", [])
    with pytest.raises(ValueError, match="not a plain column"):
        compile_filter(Exists(path="a"), 1, "payload; drop")
