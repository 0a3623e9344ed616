"""Task messages: request field types, a page of tasks and the answer to an accepted request (a task
itself is a record, functions/records/tasks.py, which the API returns as it is)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from functions.records import Task, TaskStatus
from functions.structs import Struct, Text

IdempotencyKey = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
CallbackUrl = Annotated[Text, Meta(min_length=8, max_length=2000)]


class TaskPage(Struct, frozen=True, kw_only=True):
    items: list[Task]
    next_cursor: str | None


class Accepted(Struct, frozen=True, kw_only=True):
    """Answer to a request that started (or found) a task."""

    task_id: str
    kind: str
    status: TaskStatus
    created: bool
    href: str
