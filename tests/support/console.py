"""Signing in to the console as a browser does: the form's CSRF token, then the key."""

from __future__ import annotations

import re

import httpx

TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')


async def token(client: httpx.AsyncClient, path: str = "/console/sign-in") -> str:
    """The CSRF token a console page's forms carry."""
    page = await client.get(path)
    found = TOKEN.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, key: str) -> httpx.Response:
    csrf = await token(client)
    return await client.post("/console/sign-in", data={"key": key, "_csrf_token": csrf})
