"""A payload catalogue with awkward values, and the filter language's meaning in plain Python."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx

from tests.conftest import SEARCH_KEY, auth
from tests.support.data_plane import Client

HOSTILE = "'; DROP TABLE indexes; --"
PAYLOADS: dict[str, dict[str, Any]] = {
    "p01": {"brand": "Acme", "price": 10, "specs": {"color": "red", "size": 3}, "tags": ["a", "b"]},
    "p02": {"brand": "acme", "price": 10.0, "specs": {"color": "Red"}, "at": "2024-01-15"},
    "p03": {"brand": "O'Reilly", "price": 25.5, "title": 'It\'s "quoted"', "at": "2024-03-01T10:00:00Z"},
    "p04": {"brand": "Ünïcødé Straße", "price": -5, "note": "café ☕ 東京", "at": "2023-12-31"},
    "p05": {"brand": HOSTILE, "price": 0, "specs": {"color": "blue", "dims": {"w": 10}}},
    "p06": {"brand": "Acme", "price": "12", "at": "2024-02-29"},
    "p07": {"brand": "Zeta", "price": None, "in_stock": True},
    "p08": {"brand": "Zeta", "in_stock": False},
    "p09": {"brand": "Huge", "price": 1e308, "in_stock": 1},
    "p10": {"brand": "Huge", "price": 10**30, "code": "50%_off"},
    "p11": {"brand": "Café", "price": 7, "code": "50x off", "specs": "n/a"},
    "p12": {"brand": "ΣΟΦΊΑ", "price": 3, "specs": [{"color": "red"}], "path": "a\\b"},
    "p13": {"brand": None, "price": 15, "release-date": "2022-06-01"},
    "p14": {"price": 20, "specs": {"color": "red", "size": 10}, "tags": ["b"]},
    "p15": {"brand": "acme corp", "price": 1, "specs": {"color": None}},
    "p16": {"brand": "Beta", "price": 5, "at": "2024-01-15T00:00:00Z"},
    "p17": {"brand": "Beta", "price": 5.5, "title": "50% OFF"},
    "p18": {},
    "p19": {"brand": "Gamma", "price": 99, "specs": {"color": "green", "size": 3.0}},
    "p20": {"brand": "Gamma", "price": 100, "note": "ÉCOLE"},
}
ITEMS = [
    {"object_id": oid, "content": {"title": f"Item {oid}", "body": f"A catalogue entry by {p.get('brand')}."}}
    | {"payload": p}
    for oid, p in PAYLOADS.items()
]

MISSING = object()


def resolve(payload: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(payload, dict) or key not in payload:
            return MISSING
        payload = payload[key]
    return payload


def number(value: Any) -> Decimal | None:
    """A JSON number as jsonb reads it (exact, from its JSON text); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return Decimal(json.dumps(value))


def same(a: Any, b: Any) -> bool:
    if number(a) is not None and number(b) is not None:
        return number(a) == number(b)
    return type(a) is type(b) and not isinstance(a, list | dict) and a == b


def evaluate(f: dict[str, Any], payload: dict[str, Any]) -> bool:
    """The filter's documented meaning, independent of the SQL."""
    op = f["op"]
    if op in ("all", "any"):
        results = [evaluate(child, payload) for child in f["filters"]]
        return all(results) if op == "all" else any(results)
    if op == "not":
        return not evaluate(f["filter"], payload)
    value = resolve(payload, f["path"])
    if op == "exists":
        return value is not MISSING
    if op == "eq":
        return value is not MISSING and same(value, f["value"])
    if op == "in":
        return value is not MISSING and any(same(value, v) for v in f["values"])
    if op == "match":
        return isinstance(value, str) and f["text"].lower() in value.lower()
    bounds = {k: f[k] for k in ("gt", "gte", "lt", "lte") if k in f}
    numeric = not isinstance(next(iter(bounds.values())), str)
    key = number(value) if numeric else (value if isinstance(value, str) else None)
    if key is None:
        return False
    tests = {
        "gt": lambda b: key > b,
        "gte": lambda b: key >= b,
        "lt": lambda b: key < b,
        "lte": lambda b: key <= b,
    }
    return all(tests[k](number(b) if numeric else b) for k, b in bounds.items())


def expected(f: dict[str, Any]) -> list[str]:
    return sorted(oid for oid, payload in PAYLOADS.items() if evaluate(f, payload))


async def post(client: Client, path: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"/search/{path}", json=body, headers=auth(SEARCH_KEY))


async def ok(client: Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await post(client, path, body)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found
