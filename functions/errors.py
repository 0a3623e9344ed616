"""Domain errors: handlers raise these; app/errors.py maps each to one HTTP status."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a caller can act on; `status` is the HTTP status it maps to."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidInput(DomainError):
    """The request is well-formed but violates a rule (names the field at fault)."""

    status = 422
    title = "Invalid input"


class NotFound(DomainError):
    """The named resource does not exist."""

    status = 404
    title = "Not found"


class Conflict(DomainError):
    """The request conflicts with the current state (e.g. a reused idempotency key)."""

    status = 409
    title = "Conflict"


class Unavailable(DomainError):
    """A backing service is down; retrying later may succeed."""

    status = 503
    title = "Service unavailable"


class ServiceUnavailable(Exception):
    """A backing service (the database, the queue) does not answer; the API answers 503 naming it.
    Not a DomainError: inside a job it is transient, so the runner retries it."""

    def __init__(self, service: str, detail: str) -> None:
        super().__init__(detail)
        self.service = service
        self.detail = detail


class TaskCancelled(Exception):
    """Raised inside a running job when its task was cancelled; the runner records it."""


class TaskWaiting(Exception):
    """Raised by a job whose task goes on in other jobs (its subtasks end it): the runner leaves the
    task running instead of ending it."""


class PermanentFailure(Exception):
    """A job failure that retrying cannot fix (bad stored request, missing resource)."""
