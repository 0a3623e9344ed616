"""The autopilot's rules: when a cycle is due, when its step has ended, where each ending leads, and what
the next step's work asks for. Pure: the handler observes, these decide."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from msgspec import field

from functions.records import CycleStep, Outcome, Policy
from functions.structs import Struct

# Each step with work of its own, and the task kind (of the stage that owns it) that does it.
WORK_KINDS: dict[str, str] = {
    "fine_tuning": "fine_tuning.run",
    "deployment": "deployment.deploy",
    "reindex": "reindex.run",
    "experiment": "experiments.start",
    "cleanup": "reindex.cleanup",
}
# The steps a cycle that goes all the way passes through (progress counts them).
PLAN: tuple[CycleStep, ...] = ("fine_tuning", "deployment", "reindex", "experiment", "grace", "cleanup")
ENDED_EXPERIMENT = ("decided", "stopped", "aborted", "failed")


class Observed(Struct, frozen=True, kw_only=True):
    """What the handler saw of the current step: its work task and, in the experiment step, the
    experiment that task started."""

    status: str | None = None  # the work task's status (None: the step has no work)
    result: dict[str, Any] | None = None
    error: str | None = None
    progress: float = 0.0  # the work task's, while it runs
    message: str = ""
    experiment_state: str | None = None
    experiment_action: str | None = None
    experiment_reason: str | None = None


class Move(Struct, frozen=True, kw_only=True):
    """Where the cycle goes from its step: to the next step, or to its end with an outcome."""

    to: CycleStep | None = None
    outcome: Outcome | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    detail: str = ""
    error: str | None = None


def not_due(
    policy: Policy,
    *,
    globally_enabled: bool,
    closed_sessions: int,
    since_last_s: float | None,
    force: bool = False,
) -> str | None:
    """Why the index may not start a cycle now (None: it may). `since_last_s` is how long ago the last
    cycle began (None: never); `closed_sessions` how many sessions closed since then. `force` waits
    for neither, but never starts what the switches (global, the policy's, pause) hold back."""
    if not globally_enabled:
        return "the autopilot is switched off for every index (autopilot.enabled)"
    if not policy.enabled:
        return "the policy is disabled"
    if policy.paused:
        return "paused"
    if force:
        return None
    if closed_sessions < policy.min_new_sessions:
        return (
            f"{closed_sessions} closed sessions since the last cycle began, {policy.min_new_sessions} needed"
        )
    if since_last_s is not None and since_last_s < policy.min_interval_s:
        return f"the last cycle began {since_last_s:.0f} s ago, min_interval_s is {policy.min_interval_s:.0f}"
    return None


def ready(step: CycleStep, seen: Observed, *, waited_s: float, grace_s: float) -> bool:
    """Whether the step has ended, so the cycle may move on (`waited_s`: time spent in the step)."""
    if step == "start":
        return True
    if step == "grace":
        return waited_s >= grace_s
    if seen.status not in ("done", "failed", "cancelled"):
        return False
    if step == "experiment" and seen.status == "done":
        return seen.experiment_state in ENDED_EXPERIMENT
    return True


def after(step: CycleStep, seen: Observed, *, deploys: bool) -> Move:
    """Where an ended step leads. `deploys`: versions are served by Triton (a deployment step)."""
    if step == "start":
        return Move(to="fine_tuning")
    if step == "grace":
        return Move(to="cleanup", detail="the rollback window is over")
    if seen.status != "done":
        return Move(outcome="failed", error=seen.error or f"the {step} task ended {seen.status}")
    result = seen.result or {}
    if step == "fine_tuning":
        return _after_training(result, deploys)
    if step == "deployment":
        served = f"{result.get('id')} {result.get('state')} in Triton"
        return Move(to="reindex", detail=f"{served} (parity {result.get('served_parity')})")
    if step == "reindex":
        dest = result.get("destination_collection_id")
        return Move(
            to="experiment",
            facts={"candidate_collection_id": dest},
            detail=f"{result.get('items')} objects into {dest} at {result.get('items_per_s') or 0:.0f}/s; "
            f"{result.get('replayed_sessions') or 0} sessions' improvement replayed into it",
        )
    if step == "experiment":
        return _after_experiment(result, seen)
    return Move(outcome="switched", detail=f"dropped {', '.join(result.get('dropped') or []) or 'nothing'}")


def _after_training(result: dict[str, Any], deploys: bool) -> Move:
    version = result.get("registered_version")
    facts = {
        "challenger_version": version,
        "fine_tuning_run_id": result.get("mlflow_run_id"),
        "champion_ndcg10": (result.get("champion") or {}).get("ndcg_at_10"),
        "challenger_ndcg10": (result.get("challenger") or {}).get("ndcg_at_10"),
    }
    if result.get("status") != "trained":
        detail = f"not enough feedback: {result.get('sessions')} usable sessions of {result.get('needed')}"
        return Move(outcome="refused", facts=facts, detail=detail)
    if not result.get("promoted") or version is None:
        return Move(
            outcome="refused",
            facts=facts,
            detail=f"the guard refused version {version}: {result.get('rule')}",
        )
    judged = "held-out objects' spans" if result.get("evaluated_on") == "corpus" else "held-out clicks"
    pairs = result.get("pairs") or {}
    trained = ", ".join(f"{n} {kind}" for kind, n in pairs.items() if n)
    scores = f"nDCG@10 {_num(facts['champion_ndcg10'])} → {_num(facts['challenger_ndcg10'])} on {judged}"
    scores += f"; trained on {trained} pairs" if trained else ""
    return Move(to="deployment" if deploys else "reindex", facts=facts, detail=f"version {version}: {scores}")


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else str(value)


def _after_experiment(result: dict[str, Any], seen: Observed) -> Move:
    facts = {"experiment_id": result.get("id")}
    reason = seen.experiment_reason or ""
    if seen.experiment_state != "decided":
        return Move(
            outcome="failed", facts=facts, error=f"the experiment was {seen.experiment_state}: {reason}"
        )
    if seen.experiment_action == "switch":
        return Move(to="grace", facts=facts | {"switched": True}, detail=f"switched: {reason}")
    return Move(outcome="discarded", facts=facts, detail=f"{seen.experiment_action}: {reason}")


def work_request(
    step: CycleStep, index: str, model: str, policy: Policy, facts: dict[str, Any]
) -> dict[str, Any]:
    """The request of the step's work task (its stage's own job)."""
    if step == "fine_tuning":
        return {"index": index, "preset": policy.preset} | (
            {"overrides": policy.overrides} if policy.overrides else {}
        )
    if step == "deployment":
        return {"model": model, "version": facts["challenger_version"]}
    if step == "reindex":
        return {"index": index, "model_version": facts["challenger_version"], "auto_switch": False}
    if step == "experiment":
        chosen = {k: v for k, v in msgspec.structs.asdict(policy.experiment).items() if v is not None}
        return {
            "index": index,
            "candidate_collection_id": facts["candidate_collection_id"],
            "on_win": "switch",
            "on_lose": "discard",
            "on_tie": "discard",
        } | chosen
    if step == "cleanup":
        return {"index": index, "grace_s": policy.cleanup_grace_s}
    raise ValueError(f"step {step} has no work")


def progress(step: CycleStep, work_pct: float) -> float:
    """The cycle's percentage: steps behind it, plus the share of the current one done."""
    if step not in PLAN:
        return 0.0 if step == "start" else 100.0
    return round(100.0 * (PLAN.index(step) + min(max(work_pct, 0.0), 100.0) / 100.0) / len(PLAN), 1)


def elapsed_s(since: datetime, now: datetime) -> float:
    """Seconds from `since` to `now` (never negative)."""
    return max(0.0, (now - since).total_seconds())
