"""The error answers every keyed operation can give, in the OpenAPI document: RFC 9457 problem details
(application/problem+json, app/errors.py), so clients and schema fuzzers know each status is expected."""

from __future__ import annotations

from litestar import Litestar
from litestar.openapi.datastructures import ResponseSpec
from litestar.routes import HTTPRoute

from app.errors import PROBLEM
from functions.structs import Struct


class FieldError(Struct, frozen=True, kw_only=True):
    field: str
    message: str
    source: str


class Problem(Struct, frozen=True, kw_only=True):
    """A problem-details body; `field` names the input at fault where there is one."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    field: str | None = None
    errors: list[FieldError] | None = None


# status -> when it is answered; 5xx other than 503 are bugs and stay undocumented
STATUSES = {
    400: "the body or a parameter does not match the schema (each field at fault is named)",
    401: "no API key, or an unknown one",
    403: "the key lacks the scope this operation needs",
    404: "a named index, collection, task, session or model does not exist",
    409: "the request conflicts with the current state (e.g. an idempotency key reused, a blue collection)",
    413: "the request body is larger than api.max_body_bytes",
    422: "the values are well-formed but not acceptable (the field at fault is named)",
    503: "the database or Redis does not answer; retry after the Retry-After header's seconds",
}
RESPONSES = {
    status: ResponseSpec(
        data_container=Problem, description=text, media_type=PROBLEM, generate_examples=False
    )
    for status, text in STATUSES.items()
}


# unauthenticated probes: they answer 200 or (/ready) 503 with their own body, nothing else
UNKEYED = ("/health", "/ready")


def document_problems(app: Litestar) -> None:
    """Add the problem responses to the documented ones of every keyed operation (its own win)."""
    schema_path = (app.openapi_config.path if app.openapi_config else None) or "/schema"
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path in UNKEYED or route.path.startswith(schema_path):
            continue
        for handler in route.route_handlers:
            handler.responses = {**RESPONSES, **(handler.responses or {})}
