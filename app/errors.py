"""One place that turns every error into an RFC 9457 problem-details response."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from functions.errors import DomainError, ServiceUnavailable
from functions.structs import STORABLE_PATTERN
from jobs.outages import unavailable_service

log = logging.getLogger("embedloop.api")
PROBLEM = "application/problem+json"


def problem(
    request: Request[Any, Any, Any], status: int, title: str, detail: str, **extra: Any
) -> Response[dict[str, Any]]:
    """A problem-details response; `type` is a stable URN per status."""
    body = {
        "type": f"urn:embedloop:problem:{status}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **{k: v for k, v in extra.items() if v is not None},
    }
    return Response(body, status_code=status, media_type=PROBLEM)


MISSING_FIELD = re.compile(r"Object missing required field `([^`]+)`")
# msgspec's words for a string that breaks functions.structs.Text, and what they mean to a client.
UNSTORABLE = f"Expected `str` matching regex {STORABLE_PATTERN!r}"
UNSTORABLE_SAYS = "contains U+0000 or a lone surrogate, which cannot be stored"


def field_named(path: str, message: str) -> str:
    """The field a msgspec error is about: its path ("" or "body" for the whole body), except that for a
    missing required field msgspec names the object that lacks it, not the field: name the field."""
    missing = MISSING_FIELD.match(message)
    if missing is None:
        return path
    return missing.group(1) if path in ("", "body", "$") else f"{path}.{missing.group(1)}"


def field_of(message: str) -> str | None:
    """The field a whole msgspec error message is about (its " - at `$.path`" suffix, or the missing
    required field), or None when it names none: for errors raised outside Litestar's validation."""
    _, at, path = message.partition(" - at `$.")
    return field_named(path.rstrip("`") if at else "", message) or None


def _field_errors(exc: ValidationException) -> list[dict[str, str]]:
    """Litestar's `extra` as [{field, message, source}] (msgspec names the path at fault)."""
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            message, source = str(item.get("message", "")), str(item.get("source", ""))
            message = message.replace(UNSTORABLE, UNSTORABLE_SAYS)
            key = field_named(str(item.get("key") or "body").removeprefix("$."), message)
            errors.append({"field": key, "message": message, "source": source})
    return errors


def on_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    """400 naming each field at fault."""
    errors = _field_errors(exc)
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or str(exc.detail)
    first = errors[0]["field"] if errors else None
    return problem(request, 400, "Invalid request", detail, field=first, errors=errors or None)


def on_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    """Litestar's own 4xx/5xx (404 route, 405, 413 body too large, 401/403 from guards)."""
    response = problem(request, exc.status_code, _title(exc.status_code), str(exc.detail))
    if exc.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="embedloop"'
    return response


def on_domain(request: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    """A handler's domain error, with the field it names (a 503 says when to retry)."""
    response = problem(request, exc.status, exc.title, exc.detail, field=exc.field)
    if exc.status == 503:
        response.headers["Retry-After"] = _retry_after(request)
    return response


def on_unavailable(request: Request[Any, Any, Any], service: str) -> Response[dict[str, Any]]:
    """503 naming the service that is down (database, Redis), with Retry-After: never a bare 500."""
    retry = _retry_after(request)
    name = service.capitalize()  # "Database", "Redis"
    response = problem(request, 503, f"{name} unavailable", f"{name} does not answer; retry in {retry} s")
    response.headers["Retry-After"] = retry
    return response


def _retry_after(request: Request[Any, Any, Any]) -> str:
    return str(request.app.state.ctx.config.api.retry_after_s)


def on_undecodable(request: Request[Any, Any, Any], exc: UnicodeDecodeError) -> Response[dict[str, Any]]:
    """A body that is not UTF-8 (Litestar's JSON decoder lets this one escape as a 500)."""
    return problem(request, 400, "Invalid request", "the request body is not valid UTF-8", field="body")


def on_recursion(request: Request[Any, Any, Any], exc: RecursionError) -> Response[dict[str, Any]]:
    """A body nested past msgspec's depth limit (a filter of 1,000 nested "not"s): 400, not 500."""
    if "deserializing" not in str(exc):
        return on_unexpected(request, exc)  # a real bug: keep it a logged 500
    return problem(request, 400, "Invalid request", "the request body is nested too deeply", field="body")


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """500 without internals: the traceback goes to the log, not to the client. A lost service
    (asyncpg/redis connection errors, raised from any store) is a 503 instead."""
    service = unavailable_service(exc)
    if service is not None:
        log.warning("%s unavailable on %s %s: %r", service, request.method, request.url.path, exc)
        return on_unavailable(request, service)
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(request, 500, "Internal server error", "an unexpected error occurred; it was logged")


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ValidationException: on_validation,
    HTTPException: on_http,
    DomainError: on_domain,
    UnicodeDecodeError: on_undecodable,
    RecursionError: on_recursion,
    ServiceUnavailable: on_unexpected,
    Exception: on_unexpected,
}
