"""Improvement routes (admin): apply sessions as a cpu task, reset adjustments inline."""

from __future__ import annotations

from litestar import Router, post
from litestar.params import JSONBody

from app.auth import require
from app.deps import Ctx
from functions.improvement import handler
from functions.improvement.messages import ApplySubmission, ResetRequest, ResetResult
from functions.tasks import handler as tasks
from functions.tasks.messages import Accepted


@post("/apply", status_code=202)
async def apply(data: JSONBody[ApplySubmission], ctx: Ctx) -> Accepted:
    """Queue improvement of `session_ids`, or of every not yet applied session of `index`; each
    session is applied at most once. Follow it at /tasks/{task_id}."""
    return await tasks.submit(handler.apply_task(data), ctx)


@post("/reset", status_code=200)
async def reset(data: JSONBody[ResetRequest], ctx: Ctx) -> ResetResult:
    """Restore original vectors in the index's live collection: shared adjustments, or with `user_id`
    that user's personal ones; of `object_ids`, or of every object."""
    return await handler.reset(data, ctx)


router = Router(
    path="/improvement", route_handlers=[apply, reset], guards=[require("admin")], tags=["improvement"]
)
