"""Fine-tuning entry points: submit a task (validated preset and overrides), and run it (the gpu job)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from functions.config import FineTuningPreset, Sources
from functions.context import Context
from functions.errors import InvalidInput, NotFound, PermanentFailure
from functions.fine_tuning import corpus_pairs, data, logic
from functions.fine_tuning.messages import (
    BenchmarkScores,
    FineTuningRequest,
    FineTuningResult,
    FineTuningSubmission,
)
from functions.fine_tuning.pairs import explored, merge_sessions, usable_sessions
from functions.fine_tuning.reporting import bridged
from functions.fine_tuning.split import split_by_query
from functions.records import NewTask, TrainingOutcome
from functions.tasks import handler as tasks
from functions.tasks.messages import Accepted

RUN_KIND = "fine_tuning.run"


def _check(req: FineTuningRequest | FineTuningSubmission) -> None:
    if req.since is not None and req.until is not None and req.since >= req.until:
        raise InvalidInput("since must be before until", field="since")
    if req.benchmark is not None and not logic.benchmark_queries(req.benchmark):
        raise InvalidInput(
            "the benchmark has no query with a text and a relevant object (grade > 0)",
            field="benchmark.qrels",
        )


def _sources(req: FineTuningRequest | FineTuningSubmission, preset: FineTuningPreset) -> Sources:
    """The request's sources, else the preset's; some source must weigh something."""
    sources = req.sources or preset.sources
    if sources.corpus <= 0 and sources.clicks <= 0:
        raise InvalidInput("sources: corpus or clicks must weigh more than 0", field="sources")
    return sources


async def submit(body: FineTuningSubmission, ctx: Context) -> Accepted:
    """Validate the preset, its overrides, the sources and the index, then queue `fine_tuning.run` on
    the gpu pool."""
    _check(body)
    _sources(body, logic.resolve_preset(ctx.config, body.preset, body.overrides))
    if await ctx.collections.get_index(body.index) is None:
        raise NotFound(f"index {body.index!r} does not exist", field="index")
    new = NewTask(
        kind=RUN_KIND,
        request=msgspec.to_builtins(body.request()),
        idempotency_key=body.idempotency_key,
        callback_url=body.callback_url,
    )
    return await tasks.submit(new, ctx)


async def run(req: FineTuningRequest, ctx: Context) -> FineTuningResult:
    """Sessions (and corpus pairs) → TrainingSet → the Trainer's study → the result; too little
    feedback for a task that trains on clicks ends early, without a training run."""
    _check(req)
    preset = logic.resolve_preset(ctx.config, req.preset, req.overrides)
    sources = _sources(req, preset)
    seed = preset.seed if req.seed is None else req.seed
    store = ctx.feedback
    if store is None:
        raise PermanentFailure("this process has no feedback-data store")
    collection = await ctx.collections.blue(req.index)
    if collection is None:
        raise PermanentFailure(f"index {req.index!r} has no live collection")
    sessions = await data.read_sessions(req, store, ctx.config, ctx.progress)
    feedback = merge_sessions(sessions, logic.weighing(ctx.config), logic.policy(preset))
    usable = usable_sessions(feedback)
    base = FineTuningResult(
        status="not_enough_feedback",
        index=req.index,
        preset=req.preset,
        sessions=usable,
        needed=preset.min_sessions,
        explored_clicks=explored(sessions, logic.weighing(ctx.config)),
        sources=sources,
    )
    enough = usable >= preset.min_sessions
    if sources.clicks > 0 and not enough:
        return msgspec.structs.replace(base, detail=f"{usable} usable sessions, {preset.min_sessions} needed")
    # Corpus only: clicks never train, but enough of them still judge (their held-out split).
    train_fb, eval_fb = split_by_query(feedback, preset.eval_fraction, seed) if enough else ([], [])
    if sources.clicks <= 0:
        train_fb = []
    champion = await ctx.registry.champion(ctx.embedders.registered_name(req.index))
    dataset = await data.build(
        train_fb,
        eval_fb,
        store=store,
        collection=collection,
        preset=preset,
        config=ctx.config,
        seed=seed,
        progress=ctx.progress,
        benchmark=logic.benchmark_queries(req.benchmark),
        # The live collection's stored vectors are the champion's embedding of the corpus when the
        # champion embedded it (a switch moves the alias with the blue pointer).
        stored_vectors=champion is not None and champion[0] == collection.model_version,
        sources=sources,
        exclude=req.corpus_exclude,
    )
    counts: dict[str, Any] = {
        "train_queries": sum(e.kind == "clicks" for e in dataset.train),
        "pairs": corpus_pairs.counts(dataset.train),
        "evaluated_on": ("clicks" if eval_fb else "corpus") if dataset.eval_queries else None,
        "eval_queries": len(dataset.eval_queries),
        "corpus_size": len(dataset.corpus),
        "dataset_hash": dataset.dataset_hash,
    }
    if not dataset.train or not dataset.eval_queries:
        detail = "no query with stored positives left for " + (
            "training" if not dataset.train else "evaluation"
        )
        return msgspec.structs.replace(base, detail=detail, **counts)
    if ctx.trainer is None:
        raise PermanentFailure("this process has no trainer (fine_tuning.run runs on the gpu pool)")
    task_id = ctx.task_id or f"local-{uuid.uuid4().hex[:12]}"
    plan = logic.plan(
        task_id=task_id, index=req.index, preset=preset, config=ctx.config, champion=champion, seed=seed
    )
    async with bridged(ctx.progress, ctx.config.tasks.progress_interval_s) as reporter:
        outcome = await ctx.trainer.run(plan, dataset, reporter)
    trained = _trained(base, outcome, plan.base_model_name, plan.base_version, counts)
    if req.benchmark is not None and outcome.benchmark_champion and outcome.benchmark_challenger:
        scores = BenchmarkScores(
            name=req.benchmark.name,
            queries=len(dataset.benchmark),
            champion=outcome.benchmark_champion,
            challenger=outcome.benchmark_challenger,
        )
        trained = msgspec.structs.replace(trained, benchmark=scores)
    return trained


def _trained(
    base: FineTuningResult,
    outcome: TrainingOutcome,
    base_model: str,
    base_version: str | None,
    counts: dict[str, Any],
) -> FineTuningResult:
    return msgspec.structs.replace(
        base,
        status="trained",
        base_model=base_model,
        base_version=base_version,
        champion=outcome.champion,
        challenger=outcome.challenger,
        promoted=outcome.promoted,
        p_value=outcome.p_value,
        worse_p_value=outcome.worse_p_value,
        rule=outcome.rule,
        registered_version=outcome.registered_version,
        best_params=outcome.best_params,
        trials_completed=outcome.trials_completed,
        trials_pruned=outcome.trials_pruned,
        mlflow_run_id=outcome.mlflow_run_id,
        **counts,
    )
