"""Start, read, list and stop experiments (admin routes); the live tally is read from the clickstream."""

from __future__ import annotations

import uuid

import msgspec

from functions.context import Context
from functions.errors import Conflict, InvalidInput, NotFound, Unavailable
from functions.experiments import logic
from functions.experiments.messages import ExperimentList, ExperimentView, StartExperiment, Tallied
from functions.experiments.sequential import log_mixture_ratio, p_value
from functions.ports import ExperimentStore
from functions.records import Collection, Experiment, NewExperiment

# A reindex destination may be a candidate once verified (its writes are dual-written from then on).
READY_RUN_STATES = ("verified", "switched")


def store(ctx: Context) -> ExperimentStore:
    """The experiments store, or Unavailable where this process did not wire it."""
    if ctx.experiments is None or not ctx.config.experiments.enabled:
        raise Unavailable("experiments are not enabled here (experiments.enabled)")
    return ctx.experiments


async def start(req: StartExperiment, ctx: Context) -> ExperimentView:
    """Start an experiment: the index's blue collection against a ready candidate of the same index."""
    experiments, cfg = store(ctx), ctx.config.experiments
    blue = await ctx.collections.blue(req.index)
    if blue is None:
        raise NotFound(f"index {req.index!r} does not exist", field="index")
    candidate = await _candidate(req, blue, ctx)
    min_sessions = req.min_sessions or cfg.min_sessions
    max_sessions = req.max_sessions or max(cfg.max_sessions, min_sessions)
    if max_sessions < min_sessions:
        raise InvalidInput(
            f"max_sessions {max_sessions} is below min_sessions {min_sessions}", field="max_sessions"
        )
    new = NewExperiment(
        id=str(uuid.uuid4()),
        index_name=req.index,
        control_collection_id=blue.id,
        candidate_collection_id=candidate.id,
        candidate_model_version=candidate.model_version,
        share=req.share or cfg.share,
        alpha=req.alpha or cfg.alpha,
        tau=req.tau or cfg.tau,
        min_sessions=min_sessions,
        max_sessions=max_sessions,
        on_win=req.on_win or cfg.on_win,
        on_lose=req.on_lose or cfg.on_lose,
        on_tie=req.on_tie or cfg.on_tie,
        callback_url=req.callback_url,
    )
    created = await experiments.create(new)
    if created is None:
        live = await experiments.running(req.index, max_age_s=0.0)
        which = f" ({live.id})" if live else ""
        raise Conflict(
            f"index {req.index!r} already has a live experiment{which}; stop it first", field="index"
        )
    return await view(created, ctx)


async def start_job(req: StartExperiment, ctx: Context) -> ExperimentView:
    """The experiments.start job (the autopilot's experiment step): start the experiment, or, on a
    retry of a job that already started it, the one this candidate is in."""
    for found in await store(ctx).of_index(req.index, 20):
        if found.candidate_collection_id == req.candidate_collection_id:
            return await view(found, ctx)
    return await start(req, ctx)


async def _candidate(req: StartExperiment, blue: Collection, ctx: Context) -> Collection:
    """The candidate collection, refused when it is blue, of another index, or still being built."""
    field = "candidate_collection_id"
    candidate = await ctx.collections.get_collection(req.candidate_collection_id)
    if candidate is None or candidate.status != "active":
        raise NotFound(f"collection {req.candidate_collection_id!r} does not exist", field=field)
    if candidate.index_name != req.index:
        raise InvalidInput(
            f"collection {candidate.id} belongs to index {candidate.index_name!r}", field=field
        )
    if candidate.id == blue.id:
        raise InvalidInput(
            f"collection {candidate.id} is the blue collection: nothing to compare", field=field
        )
    if ctx.reindex is not None:
        runs = await ctx.reindex.runs_of_dest(candidate.id)
        if runs and runs[0].state not in READY_RUN_STATES:
            raise Conflict(
                f"collection {candidate.id} is {runs[0].state} (reindex {runs[0].task_id})", field=field
            )
    await ctx.embedders.of(candidate)  # its model must embed queries here (Unavailable otherwise)
    return candidate


async def get(experiment_id: str, ctx: Context) -> ExperimentView:
    """One experiment with its live tally."""
    found = await store(ctx).get(experiment_id)
    if found is None:
        raise NotFound(f"experiment {experiment_id!r} does not exist", field="experiment_id")
    return await view(found, ctx)


async def list_experiments(index: str | None, limit: int, ctx: Context) -> ExperimentList:
    """Experiments, newest first, of one index or all."""
    found = await store(ctx).of_index(index, limit)
    return ExperimentList(experiments=[await view(e, ctx) for e in found])


async def summaries(index: str | None, limit: int, ctx: Context) -> ExperimentList:
    """Experiments newest first, for a page that lists many (the console): a decided one shows the
    tally its decision was taken on, frozen with it; only the others are tallied from the clickstream."""
    found = await store(ctx).of_index(index, limit)
    return ExperimentList(experiments=[await view(e, ctx, frozen=True) for e in found])


async def stop(experiment_id: str, ctx: Context) -> ExperimentView:
    """End a running experiment without acting on it; 409 once it is deciding or has ended."""
    experiments = store(ctx)
    ended = await experiments.end(experiment_id, "stopped", "stopped by request", only_from=("running",))
    if ended is None:
        found = await experiments.get(experiment_id)
        if found is None:
            raise NotFound(f"experiment {experiment_id!r} does not exist", field="experiment_id")
        raise Conflict(
            f"experiment {experiment_id} is {found.state}: only a running one stops", field="experiment_id"
        )
    return await view(ended, ctx)


async def tallied(experiment: Experiment, ctx: Context, cap: int | None = None) -> Tallied:
    """The experiment's tally from the clickstream now (of its first `cap` credited sessions)."""
    experiments = store(ctx)
    positive = [t for t, w in ctx.config.clickstream.event_weights.items() if w > 0]
    counts, curve = logic.tally(await experiments.sessions(experiment.id, positive), cap)
    statistic = log_mixture_ratio(counts, experiment.tau)
    return Tallied(
        searches=await experiments.searches(experiment.id),
        sessions=counts.sessions,
        candidate_wins=counts.candidate,
        control_wins=counts.control,
        ties=counts.ties,
        statistic=round(statistic, 6),
        p_value=round(p_value(counts, experiment.tau), 6),
        win_share_curve=curve,
    )


async def view(experiment: Experiment, ctx: Context, frozen: bool = False) -> ExperimentView:
    """The API view of a stored experiment: its fields under the API's names, and the live tally (with
    `frozen`, a decided experiment's tally as its decision froze it, where that kept the curve)."""
    fields = msgspec.structs.asdict(experiment)
    fields.pop("callback_url")  # the decide task's own webhook: shown with that task
    fields["index"] = fields.pop("index_name")
    fields["decided_tally"] = fields.pop("tally")
    kept = _frozen(experiment) if frozen else None
    return ExperimentView(**fields, tally=kept or await tallied(experiment, ctx))


def _frozen(experiment: Experiment) -> Tallied | None:
    """The tally a decision froze, when it holds the curve (decisions before it did have none)."""
    if experiment.state != "decided" or not experiment.tally or "win_share_curve" not in experiment.tally:
        return None
    try:
        return msgspec.convert(experiment.tally, Tallied)
    except msgspec.ValidationError:
        return None
