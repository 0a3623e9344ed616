"""A fixed corpus of bad inputs for every operation of an OpenAPI document.

Each request starts from a minimal valid body (required fields only) and replaces one location with a
bad value: NUL, a lone surrogate (sent as the JSON escape \\ud800), an overlong string, a non-finite or
huge number, a zero / huge vector, a deeply nested filter or object, an unknown field; path and query
parameters get NUL, invalid UTF-8, overlong and non-numeric values. The same document always yields
the same requests.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bench._faults_examples import DIM, Examples

OVERLONG = "x" * 100_000
STRINGS = {"nul": "a\x00b", "surrogate": "a\ud800b", "overlong": OVERLONG}
NUMBERS = {"1e308": 1e308, "-1e308": -1e308, "nan": float("nan"), "inf": float("inf"), "10^30": 10**30}
VECTORS = {"zero vector": [0.0] * DIM, "1e308 vector": [1e308] * DIM, "nan vector": [float("nan")] * DIM}
PARAMS = {"nul": "a%00b", "bad utf-8": "%FF%FE", "surrogate utf-8": "%ED%A0%80", "overlong": "x" * 5000}
NUMERIC_PARAMS = {"1e999": "1e999", "10^23": "99999999999999999999999", "-1": "-1", "nan": "NaN"}
ITEM_LIMIT_BYTES = 6_000_000  # over the 5 MB item limit, under the 8 MB body limit


@dataclass(frozen=True)
class BadRequest:
    """One request of the corpus: what it sends and which bad value it carries."""

    method: str
    path: str
    body: bytes | None
    what: str


# Nesting past Python's own recursion limit cannot go through json.dumps: a placeholder string stands
# in for it and `encode` splices the JSON text in.
RAW = {
    "@@filter 64 deep@@": '{"op": "not", "filter": ' * 64 + '{"op": "exists", "path": "a"}' + "}" * 64,
    "@@filter 3000 deep@@": '{"op": "not", "filter": ' * 3000 + '{"op": "exists", "path": "a"}' + "}" * 3000,
    "@@object 600 deep@@": '{"k": ' * 600 + "{}" + "}" * 600,
}


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every location worth replacing: scalars, whole number lists (vectors), and dicts (by key)."""
    if isinstance(value, dict):
        yield path, value
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list) and value and all(isinstance(v, float) for v in value):
        yield path, value
    elif isinstance(value, list) and value:
        yield from _leaves(value[0], (*path, 0))
    else:
        yield path, value


def _set(base: Any, full: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of `base` with `path` set to `new`, missing containers on the way taken from `full`."""
    out = copy.deepcopy(base)
    node, model = out, full
    for step in path[:-1]:
        model = model[step]
        if isinstance(node, dict) and step not in node:
            node[step] = copy.deepcopy(model)
        node = node[step]
    node[path[-1]] = new
    return out


def _bad_values(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    key = path[-1] if path else ""
    if key == "filter":
        return {"filter 64 deep": "@@filter 64 deep@@", "filter 3000 deep": "@@filter 3000 deep@@"}
    if isinstance(value, dict):
        if not path:
            return {"unknown field": None}
        return {
            "NUL key": {"a\x00": 1},
            "600 deep": "@@object 600 deep@@",
            "unknown field": {**value, "zz": 1},
        }
    if isinstance(value, list):
        return VECTORS
    if isinstance(value, bool):
        return {}
    if isinstance(value, int | float):
        return NUMBERS
    if isinstance(value, str):
        return STRINGS
    return {}


def body_variants(base: Any, full: Any) -> Iterator[tuple[str, Any]]:
    """(what, body) for each bad value at each location of `full`, applied to `base`."""
    for path, value in _leaves(full):
        where = ".".join(map(str, path)) or "body"
        for what, bad in _bad_values(path, value).items():
            if bad is None:
                yield f"{what} at top level", {**base, "zz_unknown_field": 1}
                continue
            variant = _set(base, full, path, bad)
            if path == ("vector",):  # a search takes a query or a vector, not both
                variant.pop("query", None)
            yield f"{what} in {where}", variant
    if isinstance(base, dict) and isinstance(base.get("items"), list) and base["items"]:
        item = {**base["items"][0], "content": "y" * ITEM_LIMIT_BYTES}
        yield "oversized item", {**base, "items": [item]}


def encode(body: Any) -> bytes:
    """JSON with \\u escapes (lone surrogates stay escapes) and NaN / Infinity tokens kept."""
    text = json.dumps(body, ensure_ascii=True, allow_nan=True)
    for marker, raw in RAW.items():
        text = text.replace(f'"{marker}"', raw)
    return text.encode()


def _request_schema(op: dict[str, Any]) -> dict[str, Any] | None:
    content = op.get("requestBody", {}).get("content", {})
    return content.get("application/json", {}).get("schema") if content else None


def _param_variants(template: str, filled: dict[str, str], p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    numeric = "integer" in json.dumps(p.get("schema", {}))
    for what, raw in {**PARAMS, **(NUMERIC_PARAMS if numeric else {})}.items():
        if p["in"] == "path":
            yield what, template.format(**{**filled, p["name"]: raw})
        elif p["in"] == "query":
            yield what, f"{template.format(**filled)}?{p['name']}={raw}"


def corpus(doc: dict[str, Any], names: dict[str, str], seeds: dict[str, dict[str, Any]]) -> list[BadRequest]:
    """Every bad request for every operation of `doc`; `names` fills path parameters and name-like
    fields with values that exist, `seeds` adds fields to an operation's minimal body ("POST /x")."""
    examples, out = Examples(doc, names), []
    for template, ops in doc.get("paths", {}).items():
        for method, op in ((m.upper(), o) for m, o in ops.items() if m in ("get", "post", "put", "delete")):
            params = op.get("parameters", [])
            filled = {p["name"]: names.get(p["name"], "faults-missing") for p in params if p["in"] == "path"}
            path, schema, seed = (
                template.format(**filled),
                _request_schema(op),
                seeds.get(f"{method} {template}"),
            )
            base = {**examples.value(schema, False), **(seed or {})} if schema else None
            for p in params:
                for what, url in _param_variants(template, filled, p):
                    body = encode(base) if schema else None
                    out.append(BadRequest(method, url, body, f"{what} in {p['in']} {p['name']}"))
            if schema is None:
                continue
            full = {**examples.value(schema, True), **(seed or {})}
            out += [BadRequest(method, path, encode(v), what) for what, v in body_variants(base, full)]
            if "items" in base or "events" in base:
                out.append(BadRequest(method, path, b"x" * 9_000_000, "9 MB body"))
    return out
