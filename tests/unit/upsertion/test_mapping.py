"""Source records to items with literal values; the JSONL reader on small files."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import msgspec
import pytest

from functions.errors import InvalidInput
from functions.records import FieldMapping, SourceRecord
from functions.upsertion import mapping
from functions.upsertion.mapping import BadRecord
from functions.upsertion.messages import ItemFailure, UpsertItem
from jobs.stores.jsonl_loader import LineReader, count_records
from tests.support.config import app_config

DEFAULT = FieldMapping()
BOOKS = FieldMapping(id_field="id", content_fields=["title", "tags", "price"], payload_fields=["sold", "at"])


def test_default_mapping_reads_an_item_object_and_ignores_other_fields() -> None:
    item = mapping.to_item({"object_id": "a", "content": "text", "payload": {"k": 1}, "extra": 1}, DEFAULT)
    assert item == UpsertItem(object_id="a", content="text", payload={"k": 1})
    assert mapping.to_item({"object_id": 7, "content": "t"}, DEFAULT).object_id == "7"


def test_field_mapping_coerces_sql_values_and_leaves_out_nulls() -> None:
    when = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    row = {
        "id": 3,
        "title": "Dune",
        "tags": ["sf", 2],
        "price": decimal.Decimal("9.50"),
        "sold": when,
        "at": None,
    }
    item = mapping.to_item(row, BOOKS)
    assert item.content == {"title": "Dune", "tags": ["sf", "2"], "price": "9.50"}
    assert item.payload == {"sold": "2024-05-01T12:00:00Z", "at": None}
    assert mapping.to_item({**row, "price": None}, BOOKS).content == {"title": "Dune", "tags": ["sf", "2"]}


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"content": "t"}, "field 'object_id' must be a non-empty string or an integer"),
        ({"object_id": True, "content": "t"}, "must be a non-empty string or an integer"),
        ({"object_id": "a"}, "no field 'content'"),
        ({"object_id": "a", "content": {"t": {"deep": 1}}}, r"got `object` - at `\$.content"),
        ({"object_id": "a", "content": "t", "payload": "p"}, "Expected `object`, got `str`"),
        ({"object_id": "a", "content": "t\x00"}, r"^content contains a NUL character"),
        ({"object_id": "a", "content": "t", "payload": {"k": ["\ud800"]}}, r"^payload.k\[0\] contains"),
    ],
)
def test_bad_records_say_why(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(BadRecord, match=reason):
        mapping.to_item(fields, DEFAULT)


def test_a_batch_keeps_the_last_of_each_id_and_names_failures_by_position() -> None:
    records = [
        SourceRecord(where="line 1", fields={"object_id": "a", "content": "one"}),
        SourceRecord(where="line 2", fields=None, error="invalid JSON: truncated"),
        SourceRecord(where="line 3", fields={"object_id": "b"}),
        SourceRecord(where="line 4", fields={"object_id": "a", "content": "two"}),
        SourceRecord(where="line 5", fields={"object_id": "x" * 257, "content": "t"}),
    ]
    items, failed = mapping.to_items(records, DEFAULT)
    assert [(i.object_id, i.content) for i in items] == [("a", "two")]
    assert failed == [
        ItemFailure(object_id="line 2", reason="line 2: invalid JSON: truncated"),
        ItemFailure(object_id="b", reason="line 3: no field 'content'"),
        ItemFailure(object_id="line 5", reason="line 5: Expected `str` of length <= 256 - at `$.object_id`"),
    ]


def test_sources_over_the_limit_are_refused() -> None:
    cfg = msgspec.structs.replace(app_config().upsertion, max_source_items=3)
    mapping.check_size(3, 3, cfg)
    with pytest.raises(InvalidInput, match="more than 3 items"):
        mapping.check_size(4, 0, cfg)


def test_jsonl_reader_numbers_lines_and_fails_long_ones_alone(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n   \n' + b'{"b": "' + b"x" * 100 + b'"}\n[1]\n{"c": 3}')
    assert count_records(path, 100) == 4
    assert 1 < count_records(path, 1) < 4  # stops past the cap (at the end of a block)
    with path.open("rb") as f:
        reader = LineReader(f, max_bytes=50)
        first, second, rest = reader.read(2), reader.read(2), reader.read(2)
    assert [(r.where, r.fields) for r in first] == [("line 1", {"a": 1}), ("line 4", None)]
    assert first[1].error == "line is longer than 50 bytes (upsertion.max_line_bytes)"
    assert [(r.where, r.fields, r.error) for r in second] == [
        ("line 5", None, "not a JSON object"),
        ("line 6", {"c": 3}, None),
    ]
    assert rest == []
