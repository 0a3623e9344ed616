"""Experiment routes (admin): start an interleaving experiment, follow its tally, list, stop, check now."""

from __future__ import annotations

from typing import Annotated

from litestar import Router, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from app.auth import require
from app.deps import Ctx
from functions.experiments import decide, handler
from functions.experiments.messages import ExperimentList, ExperimentView, StartExperiment


@post("/", status_code=201)
async def start(data: JSONBody[StartExperiment], ctx: Ctx) -> ExperimentView:
    """Pit the index's blue collection against a candidate collection of the same index: `share` of its
    text searches show one list interleaved from both (Team Draft), and clicks decide (a sequential
    test); the verdict switches or discards the candidate. One live experiment per index (409)."""
    return await handler.start(data, ctx)


@get("/{experiment_id:str}")
async def get_one(experiment_id: FromPath[str], ctx: Ctx) -> ExperimentView:
    """One experiment: settings, state, live tally (searches, sessions, wins, ties, p-value), decision."""
    return await handler.get(experiment_id, ctx)


@get("/")
async def list_all(
    ctx: Ctx,
    index: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
) -> ExperimentList:
    """Experiments newest first, of one index (`index=`) or all."""
    return await handler.list_experiments(index, limit, ctx)


@post("/{experiment_id:str}/stop", status_code=200)
async def stop(experiment_id: FromPath[str], ctx: Ctx) -> ExperimentView:
    """End a running experiment without acting on it (409 once it is deciding or ended)."""
    return await handler.stop(experiment_id, ctx)


@post("/{experiment_id:str}/check", status_code=200)
async def check(experiment_id: FromPath[str], ctx: Ctx) -> ExperimentView:
    """Run the decision sweep's check of this experiment now instead of at the next sweep."""
    return await decide.check_now(experiment_id, ctx)


router = Router(
    path="/experiments",
    route_handlers=[start, get_one, list_all, stop, check],
    guards=[require("admin")],
    tags=["experiments"],
)
