"""Upsertion rules with literal values: rendering, hashing, checks, change plans, vector maths."""

from __future__ import annotations

import re

import msgspec
import numpy as np
import pytest

from functions.errors import InvalidInput
from functions.records import ObjectWrite, StoredObject
from functions.upsertion import logic, parts
from functions.upsertion.logic import MissingField, Prepared
from functions.upsertion.messages import DeleteRequest, ItemFailure, UpsertItem, UpsertRequest
from tests.support.config import app_config

CFG = msgspec.structs.replace(app_config().upsertion, max_items_per_request=3, max_item_bytes=64)
HELLO_SHA256 = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"


def item(object_id: str = "a", content: str | dict[str, object] = "hello", **payload: object) -> UpsertItem:
    return UpsertItem(object_id=object_id, content=content, payload=dict(payload))  # type: ignore[arg-type]


def request(
    *items: UpsertItem, template: str | None = None, fields: list[str] | None = None
) -> UpsertRequest:
    return UpsertRequest(index="books", items=list(items), template=template, fields=fields)


def test_render_string_is_taken_as_is() -> None:
    assert logic.render("  Dune  ", "{title}", None) == "  Dune  "


def test_render_template_fills_fields_and_keeps_escaped_braces() -> None:
    content = {"title": "Dune", "year": 1965, "rating": 4.5, "tags": ["sf", "desert"]}
    text = logic.render(content, "{title} ({year}) {{{rating}}}\n{tags}", None)  # type: ignore[arg-type]
    assert text == "Dune (1965) {4.5}\nsf, desert"


def test_render_template_never_reaches_attributes() -> None:
    assert logic.render({"title": "Dune"}, "{title.__class__}", None) == "{title.__class__}"


def test_render_fields_in_given_order_or_all_in_content_order() -> None:
    content = {"title": "Dune", "body": "Spice.", "year": 1965}
    assert logic.render(content, None, ["body", "title"]) == "Spice.\nDune"
    assert logic.render(content, None, None) == "Dune\nSpice.\n1965"


def test_render_missing_field_is_named() -> None:
    with pytest.raises(MissingField, match="'body'"):
        logic.render({"title": "Dune"}, "{title}: {body}", None)


def test_content_hash_is_sha256_of_the_text() -> None:
    assert logic.content_hash("hello") == HELLO_SHA256


def test_prepare_item_accepts_and_hashes() -> None:
    prepared = logic.prepare_item(item(content={"t": "hello"}), "{t}", None, 64)
    assert prepared == Prepared(item=item(content={"t": "hello"}), text="hello", hash=HELLO_SHA256)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (item(content="   \n"), "content is empty"),
        (item(content="x" * 60, note="abcdef"), "item is 78 bytes; the limit is 64"),
        (item(content="ok", score=float("nan")), "not JSON-serialisable: Out of range float values"),
        (item(content={"title": "x"}), "content has no field 'body'"),
    ],
)
def test_prepare_item_failures_name_the_reason(bad: UpsertItem, reason: str) -> None:
    template = "{body}" if isinstance(bad.content, dict) else None
    failure = logic.prepare_item(bad, template, None, 64)
    assert isinstance(failure, ItemFailure)
    assert failure.object_id == "a"
    assert failure.reason.startswith(reason)


def test_prepare_splits_ready_from_failed() -> None:
    ready, failed = logic.prepare(request(item("a"), item("b", ""), item("c", "world")), 64)
    assert [p.item.object_id for p in ready] == ["a", "c"]
    assert failed == [ItemFailure(object_id="b", reason="content is empty")]


@pytest.mark.parametrize(
    ("req", "field", "message"),
    [
        (request(item("a"), item("b"), item("c"), item("d")), "items", "4 items; at most 3"),
        (request(item("a"), item("b"), item("a")), "items", "repeated in one request: a"),
        (request(item("a"), template="{t}", fields=["t"]), "template", "not both"),
        (request(item("a", "nul\x00byte")), "items[0].content", "NUL"),
        (request(item("a", "ok"), item("b", "ok", **{"k\x00": 1})), "items[1].payload.k\\x00", "NUL"),
    ],
)
def test_check_upsert_refuses_with_the_field(req: UpsertRequest, field: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)) as caught:
        logic.check_upsert(req, CFG)
    assert caught.value.field == field


def test_check_delete_applies_the_same_limits_naming_object_ids() -> None:
    logic.check_delete(DeleteRequest(index="books", object_ids=["a", "b"]), CFG)
    with pytest.raises(InvalidInput, match="4 items") as caught:
        logic.check_delete(DeleteRequest(index="books", object_ids=["a", "b", "c", "d"]), CFG)
    assert caught.value.field == "object_ids"
    with pytest.raises(InvalidInput, match="repeated") as caught:
        logic.check_delete(DeleteRequest(index="books", object_ids=["a", "a"]), CFG)
    assert caught.value.field == "object_ids"
    with pytest.raises(InvalidInput, match="NUL") as caught:
        logic.check_delete(DeleteRequest(index="books", object_ids=["a", "b\x00"]), CFG)
    assert caught.value.field == "object_ids[1]"


def test_check_sizes_names_the_item_over_the_limit() -> None:
    limit = CFG.max_item_bytes
    fits = item("a", "x" * (limit - 2))  # the text plus "{}", the empty payload as JSON
    logic.check_sizes(request(fits), CFG)
    with pytest.raises(InvalidInput, match=f"is {limit + 1} bytes; the limit is {limit}") as caught:
        logic.check_sizes(request(fits, item("b", "x" * (limit - 1))), CFG)
    assert caught.value.field == "items[1]"
    # A payload counts too; a template that names a missing field is left to the task (item alone).
    with pytest.raises(InvalidInput) as caught:
        logic.check_sizes(request(item("c", "x", big="y" * limit)), CFG)
    assert caught.value.field == "items[0]"
    logic.check_sizes(request(item("d", {"t": "x"}), template="{missing}"), CFG)


def test_plan_sorts_new_changed_payload_only_and_unchanged() -> None:
    ready, _ = logic.prepare(
        request(
            item("new", "n"),
            item("changed", "c2"),
            item("payload", "p", price=2),
            item("bool", "b", flag=True),
            item("same", "s", price=1),
        ),
        64,
    )
    stored = {
        "changed": StoredObject(object_id="changed", content_hash=logic.content_hash("c1"), payload={}),
        "payload": StoredObject(
            object_id="payload", content_hash=logic.content_hash("p"), payload={"price": 1}
        ),
        "bool": StoredObject(object_id="bool", content_hash=logic.content_hash("b"), payload={"flag": 1}),
        "same": StoredObject(object_id="same", content_hash=logic.content_hash("s"), payload={"price": 1}),
    }
    plan = logic.plan(ready, stored)
    assert [p.item.object_id for p in plan.embed] == ["new", "changed"]
    assert [p.item.object_id for p in plan.payload_only] == ["payload", "bool"]
    assert [p.item.object_id for p in plan.unchanged] == ["same"]


def test_payload_comparison_ignores_key_order_only() -> None:
    assert not logic.payload_changed({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1})
    assert logic.payload_changed({"a": 1}, {"a": 1.5})
    assert logic.payload_changed({"a": [1, 2]}, {"a": [2, 1]})


def test_new_collection_id_is_a_safe_identifier() -> None:
    assert logic.new_collection_id("my-books", "ABCDEF0123456789") == "my_books_abcdef012345"
    long_id = logic.new_collection_id("a" * 63, "0123456789abcdef")
    assert long_id == "a" * 27 + "_0123456789ab"
    assert re.fullmatch(r"[a-z0-9_]{1,40}", long_id)


def test_write_groups_fill_to_the_batch_size() -> None:
    assert parts.write_groups([3, 3, 3, 1], 4) == [[0, 1], [2, 3]]
    assert parts.write_groups([10, 1], 4) == [[0], [1]]
    assert parts.write_groups([], 4) == []


def test_mean_vector_is_normalised() -> None:
    mean = parts.mean_vector(np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32))
    assert mean.dtype == np.float32
    assert mean.tolist() == pytest.approx([0.70710678, 0.70710678])
    assert parts.mean_vector(np.array([[1.0, 0.0], [-1.0, 0.0]], dtype=np.float32)).tolist() == [0.0, 0.0]


def test_object_writes_pair_each_item_with_its_own_vectors() -> None:
    ready, _ = logic.prepare(request(item("a", "x"), item("b", "y")), 64)
    vectors = np.array([[1, 0], [0, 1], [1, 0]], dtype=np.float32)
    writes = parts.object_writes(ready, [["x1", "x2"], ["y1"]], vectors)
    assert [(w.object_id, w.chunks) for w in writes] == [("a", ("x1", "x2")), ("b", ("y1",))]
    assert isinstance(writes[0], ObjectWrite)
    assert writes[0].vectors.tolist() == [[1, 0], [0, 1]]
    assert writes[1].avg_vector.tolist() == [1, 0]
    with pytest.raises(ValueError, match="3 vectors for 2 chunks"):
        parts.object_writes(ready, [["x1"], ["y1"]], vectors)
