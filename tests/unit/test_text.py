"""The shared text type: what Postgres cannot store is refused at decoding, naming the field."""

from __future__ import annotations

import msgspec
import pytest

from functions.clickstream.messages import CreateSession, EventsRequest
from functions.clickstream.ubi_messages import UbiImport
from functions.search.messages import SearchRequest
from functions.structs import Text, unstorable
from functions.upsertion.messages import DeleteRequest


class Note(msgspec.Struct):
    text: Text


@pytest.mark.parametrize("value", ["", "plain", "é 😀 \n\t\x01", "\U0010ffff"])
def test_text_accepts_whatever_utf8_and_postgres_hold(value: str) -> None:
    assert msgspec.convert({"text": value}, Note).text == value


@pytest.mark.parametrize("value", ["\x00", "a\x00b", "end\x00", "\ud800", "x\udfff", "\x00\n"])
def test_text_refuses_nul_and_lone_surrogates(value: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=r"at `\$\.text`"):
        msgspec.convert({"text": value}, Note)


@pytest.mark.parametrize(
    ("body", "kind", "path"),
    [
        ({"index": "books", "query": "a\x00"}, SearchRequest, "$.query"),
        ({"index": "books", "query": "q", "user_id": "\x00"}, SearchRequest, "$.user_id"),
        ({"index": "books", "query": "q\x00", "shown": []}, CreateSession, "$.query"),
        ({"user_id": "u\x00"}, CreateSession, "$.user_id"),
        ({"search_id": "\x00"}, CreateSession, "$.search_id"),
        ({"events": [{"event_id": "e\x00", "type": "click"}]}, EventsRequest, "$.events[0].event_id"),
        ({"events": [{"event_id": "e", "type": "click", "object_id": "\x00"}]}, EventsRequest, "object_id"),
        ({"queries": [{"query_id": "q\x00"}]}, UbiImport, "$.queries[0].query_id"),
        ({"events": [{"action_name": "click", "query_id": "\x00"}]}, UbiImport, "$.events[0].query_id"),
        ({"index": "books", "object_ids": ["a", "\x00"]}, DeleteRequest, "$.object_ids[1]"),
    ],
)
def test_every_request_text_field_refuses_nul(body: dict[str, object], kind: type, path: str) -> None:
    with pytest.raises(msgspec.ValidationError, match="matching regex") as caught:
        msgspec.convert(body, kind)
    assert path in str(caught.value)


def test_a_search_query_has_no_length_limit_but_the_body_limit() -> None:
    long = "flutter " * 1000  # 8,000 characters: more than the model reads, accepted
    assert msgspec.convert({"index": "books", "query": long}, SearchRequest).query == long


def test_unstorable_names_the_innermost_path() -> None:
    assert unstorable({"a": [1, "ok", {"b": None}]}, "attributes") is None
    assert unstorable({"a": [1, {"b": "x\x00"}]}, "attributes") == "attributes.a[1].b"
    assert unstorable({"k\x00": 1}, "attributes") == "attributes.k\\x00"
    assert unstorable(["\ud800"], "tags") == "tags[0]"
    assert unstorable("\x00", "query") == "query"
    assert unstorable(3.5, "n") is None
