"""Property-based requests from the OpenAPI document (schemathesis): no 5xx, every answer as documented.

Each operation gets a bounded, derandomised set of generated requests against the live app (ASGI, in
this event loop), on a throw-away index that half of the requests name instead of a random one. No
worker runs here, so accepted tasks stay queued and nothing heavy starts.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import checks

from app.main import create_app
from jobs.bootstrap import load_config
from tests.conftest import auth

pytestmark = pytest.mark.integration

INDEX = "fuzz-index"
EXAMPLES = 20  # per operation: 44 operations stay within a few minutes on 2 cores
SCHEMA = schemathesis.openapi.from_dict(create_app(load_config(("env=test",))).openapi_schema.to_schema())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
CHECKS = [
    checks.not_a_server_error,
    checks.response_schema_conformance,
    checks.status_code_conformance,
    checks.content_type_conformance,
]


def _aim_at_index(case: Any) -> None:
    """Name the throw-away index where the request names one, so requests reach past the lookup."""
    if isinstance(case.body, dict) and "index" in case.body:
        case.body["index"] = INDEX
    if case.path_parameters and "name" in case.path_parameters:
        case.path_parameters["name"] = INDEX
    if case.query and "index" in case.query:
        case.query["index"] = INDEX


def _httpx_kwargs(case: Any) -> dict[str, Any]:
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=auth())
    if isinstance(kwargs.get("data"), bytes | str):
        kwargs["content"] = kwargs.pop("data")
    return {k: v for k, v in kwargs.items() if k in ("method", "url", "headers", "params", "json", "content")}


PROBLEM_STATUSES = ("400", "401", "403", "404", "409", "413", "422", "503")


async def test_every_keyed_operation_documents_its_problem_answers(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    keyed = [(p, m, op) for p, ops in schema["paths"].items() for m, op in ops.items() if op.get("security")]
    assert len(keyed) >= 40
    for path, method, op in keyed:
        for status in PROBLEM_STATUSES:
            content = op["responses"].get(status, {}).get("content", {})
            assert "application/problem+json" in content, f"{method} {path} does not document {status}"
    ready = schema["paths"]["/ready"]["get"]["responses"]
    assert set(ready) == {"200", "503"}


@pytest.mark.slow
@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
async def test_generated_requests_get_documented_answers(client: httpx.AsyncClient, operation: Any) -> None:
    created = await client.post("/indexes", json={"name": INDEX}, headers=auth())
    assert created.status_code in (200, 201), created.text
    loop = asyncio.get_running_loop()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.generate),  # no shrinking: the first failure is reported as found
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), aimed=st.booleans())
    def run(case: Any, aimed: bool) -> None:
        if aimed:
            _aim_at_index(case)
        request = client.request(**_httpx_kwargs(case))
        response = asyncio.run_coroutine_threadsafe(request, loop).result(timeout=60)
        case.validate_response(response, checks=CHECKS)

    # Hypothesis drives a synchronous function: it runs in a thread while this loop serves the app.
    await asyncio.to_thread(run)
