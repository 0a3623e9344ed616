"""A cycle's lineage in MLflow: one parent run per cycle holding the fine-tuning run, the experiment's
tally and the decision, and tags on the version it registered. MLflow being away never stops a cycle:
what could not be logged is logged as a warning instead."""

from __future__ import annotations

import logging
from typing import Any

from functions.context import Context
from functions.records import Cycle, Policy

log = logging.getLogger("embedloop.autopilot")


async def start(cycle: Cycle, policy: Policy, ctx: Context) -> str | None:
    """The cycle's parent run (found again when a retried move asks twice)."""
    if ctx.lineage is None:
        return None
    params = {
        "preset": policy.preset,
        "min_new_sessions": policy.min_new_sessions,
        "sessions_at_start": cycle.sessions_at_start,
        "overrides": policy.overrides or "none",
    }
    try:
        model = ctx.embedders.registered_name(cycle.index_name)
        return await ctx.lineage.start(cycle.index_name, model, cycle.id, params)
    except Exception as exc:  # noqa: BLE001 - lineage is a record of the cycle, not a step of it
        log.warning("cycle %s: no MLflow run: %r", cycle.id, exc)
        return None


async def stepped(cycle: Cycle, left: str, ctx: Context) -> None:
    """After fine-tuning: nest its run under the cycle's, log both models' scores, tag the version."""
    run_id, facts = cycle.facts.get("mlflow_run_id"), cycle.facts
    if ctx.lineage is None or not run_id or left != "fine_tuning":
        return
    try:
        if facts.get("fine_tuning_run_id"):
            await ctx.lineage.adopt(run_id, facts["fine_tuning_run_id"])
        metrics = {
            k: float(facts[k]) for k in ("champion_ndcg10", "challenger_ndcg10") if facts.get(k) is not None
        }
        await ctx.lineage.log(run_id, metrics, {"challenger_version": str(facts.get("challenger_version"))})
        await _tag_version(cycle, {"autopilot.cycle_id": cycle.id, "autopilot.blue": "pending"}, ctx)
    except Exception as exc:  # noqa: BLE001
        log.warning("cycle %s: lineage after fine-tuning not logged: %r", cycle.id, exc)


async def ended(cycle: Cycle, ctx: Context) -> None:
    """The outcome, the experiment's decided tally, and whether the version went blue; end the run."""
    run_id = cycle.facts.get("mlflow_run_id")
    if ctx.lineage is None:
        return
    went_blue = "true" if cycle.facts.get("switched") else "false"
    tags = {"outcome": str(cycle.outcome), "failed_step": cycle.failed_step or "", "went_blue": went_blue}
    try:
        await _tag_version(
            cycle,
            {
                "autopilot.cycle_id": cycle.id,
                "autopilot.blue": went_blue,
                "autopilot.outcome": str(cycle.outcome),
            },
            ctx,
        )
        if not run_id:
            return
        tally = await _decided_tally(cycle, ctx)
        metrics = {f"experiment_{k}": float(v) for k, v in tally.items() if isinstance(v, int | float)}
        metrics["step_seconds"] = sum(s.seconds for s in cycle.steps)
        await ctx.lineage.log(run_id, metrics, tags | _decision(tally, cycle))
        await ctx.lineage.end(run_id, "FAILED" if cycle.outcome == "failed" else "FINISHED")
    except Exception as exc:  # noqa: BLE001
        log.warning("cycle %s: lineage of the outcome not logged: %r", cycle.id, exc)


async def _tag_version(cycle: Cycle, tags: dict[str, str], ctx: Context) -> None:
    version = cycle.facts.get("challenger_version")
    if ctx.lineage is not None and isinstance(version, str):
        model = ctx.embedders.registered_name(cycle.index_name)
        await ctx.lineage.tag_version(model, version, tags)


async def _decided_tally(cycle: Cycle, ctx: Context) -> dict[str, Any]:
    experiment_id = cycle.facts.get("experiment_id")
    if ctx.experiments is None or not isinstance(experiment_id, str):
        return {}
    experiment = await ctx.experiments.get(experiment_id)
    return dict(experiment.tally or {}) if experiment is not None else {}


def _decision(tally: dict[str, Any], cycle: Cycle) -> dict[str, str]:
    if not tally:
        return {}
    return {
        "experiment_id": str(cycle.facts.get("experiment_id")),
        "experiment_p_value": str(tally.get("p_value")),
    }
