"""Helpers of the clickstream tests: open sessions and post events over HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import SEARCH_KEY, auth

Client = httpx.AsyncClient
KEY = auth(SEARCH_KEY)


async def open_session(client: Client, index: str, shown: list[str], **body: Any) -> dict[str, Any]:
    """A session on `index` that showed `shown` at ranks 1.. (or from `first_rank`)."""
    first = body.pop("first_rank", 1)
    items = [{"object_id": oid, "rank": first + i} for i, oid in enumerate(shown)]
    body = {"index": index, "query": "desert planet", "shown": items, **body}
    response = await client.post("/clickstream/sessions", json=body, headers=KEY)
    assert response.status_code == 201, response.text
    session: dict[str, Any] = response.json()
    return session


async def post_events(client: Client, session_id: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """POST events of one session; the per-event results."""
    response = await client.post(
        f"/clickstream/sessions/{session_id}/events", json={"events": events}, headers=KEY
    )
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


async def read_session(client: Client, session_id: str) -> dict[str, Any]:
    response = await client.get(f"/clickstream/sessions/{session_id}", headers=KEY)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def statuses(results: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(event_id, status) of each result."""
    return [(r["event_id"], r["status"]) for r in results]
