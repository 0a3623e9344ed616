"""Autopilot routes (admin): an index's policy, its cycles, pause, resume, and run now."""

from __future__ import annotations

from litestar import Router, get, post, put
from litestar.params import FromPath, JSONBody

from app.auth import require
from app.deps import Ctx
from functions.autopilot import handler
from functions.autopilot.messages import AutopilotView, PutPolicy, RunRequest, RunResult


@put("/{name:str}/autopilot")
async def put_policy(name: FromPath[str], data: JSONBody[PutPolicy], ctx: Ctx) -> AutopilotView:
    """Set when the index runs a cycle by itself (fine-tuning → deployment → reindex → online experiment
    → switch or discard → cleanup) and how. Enabling needs the version blue serves to be deployed (409)."""
    return await handler.put_policy(name, data, ctx)


@get("/{name:str}/autopilot")
async def get_policy(name: FromPath[str], ctx: Ctx) -> AutopilotView:
    """The policy, why no cycle starts now, the running cycle (its step, that step's task, progress and
    ETA) and past cycles with their outcome."""
    return await handler.get(name, ctx)


@post("/{name:str}/autopilot/pause", status_code=200)
async def pause(name: FromPath[str], ctx: Ctx) -> AutopilotView:
    """No new cycle starts; a running cycle finishes the step it is in and waits there."""
    return await handler.pause(name, True, ctx)


@post("/{name:str}/autopilot/resume", status_code=200)
async def resume(name: FromPath[str], ctx: Ctx) -> AutopilotView:
    """Undo a pause: the waiting cycle moves on, and due cycles start again."""
    return await handler.pause(name, False, ctx)


@post("/{name:str}/autopilot/run", status_code=200)
async def run(name: FromPath[str], ctx: Ctx, data: JSONBody[RunRequest | None] = None) -> RunResult:
    """Check now whether a cycle is due and start it; `force` starts one without waiting for
    min_new_sessions and min_interval_s (409 when paused, disabled or switched off globally)."""
    return await handler.run(name, bool(data and data.force), ctx)


router = Router(
    path="/indexes",
    route_handlers=[put_policy, get_policy, pause, resume, run],
    guards=[require("admin")],
    tags=["autopilot"],
)
