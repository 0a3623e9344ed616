"""The fault bench's bad-input corpus, from a literal OpenAPI document."""

from __future__ import annotations

import json

from bench._faults_inputs import corpus, encode

DOC = {
    "paths": {
        "/things/{name}": {
            "post": {
                "parameters": [
                    {"name": "name", "in": "path", "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                ],
                "requestBody": {
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/T"}}}
                },
            }
        },
        "/health": {"get": {}},
    },
    "components": {
        "schemas": {
            "T": {
                "type": "object",
                "required": ["index", "items"],
                "properties": {
                    "index": {"type": "string"},
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                    "vector": {"oneOf": [{"type": "array", "items": {"type": "number"}}, {"type": "null"}]},
                    "filter": {"oneOf": [{"type": "object"}, {"type": "null"}]},
                    "limit": {"type": "integer", "minimum": 1},
                },
            },
            "Item": {
                "type": "object",
                "required": ["object_id", "content"],
                "properties": {"object_id": {"type": "string"}, "content": {"type": "string"}},
            },
        }
    },
}


def _requests() -> dict[str, tuple[str, bytes | None]]:
    return {r.what: (r.path, r.body) for r in corpus(DOC, {"index": "real", "name": "n"}, {})}


def test_each_bad_value_replaces_one_location_of_a_minimal_body() -> None:
    found = _requests()
    path, body = found["nul in items.0.object_id"]
    assert path == "/things/n"
    assert json.loads(body or b"") == {"index": "real", "items": [{"object_id": "a\x00b", "content": "x"}]}
    assert b'"a\\ud800b"' in (found["surrogate in index"][1] or b"")
    assert json.loads(found["unknown field at top level"][1] or b"")["zz_unknown_field"] == 1


def test_vectors_numbers_and_filters_get_their_own_bad_values() -> None:
    found = _requests()
    zero = json.loads(found["zero vector in vector"][1] or b"")["vector"]
    assert zero == [0.0] * 384
    assert b"NaN" in (found["nan in limit"][1] or b"")
    assert (found["filter 3000 deep in filter"][1] or b"").count(b'"op": "not"') == 3000
    assert len(found["oversized item"][1] or b"") > 5_000_000


def test_parameters_get_nul_bad_utf8_and_numbers_that_do_not_fit() -> None:
    found = _requests()
    assert found["nul in path name"][0] == "/things/a%00b"
    assert found["10^23 in query limit"][0] == "/things/n?limit=99999999999999999999999"
    assert "nan in query name" not in found  # numeric values only where the schema says integer


def test_the_corpus_is_the_same_every_time_and_encodes_surrogates_as_escapes() -> None:
    assert [r.body for r in corpus(DOC, {}, {})] == [r.body for r in corpus(DOC, {}, {})]
    assert encode({"q": "\ud800", "n": float("inf")}) == b'{"q": "\\ud800", "n": Infinity}'
