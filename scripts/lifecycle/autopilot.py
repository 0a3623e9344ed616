"""The lifecycle's cycle, run by the autopilot: the script turns it on for the index and starts a cycle
(`PUT /indexes/{name}/autopilot`, `POST .../run`), then only watches and plays the users. Background
searchers never stop; a live writer upserts and deletes while the reindex step builds the candidate;
while the experiment step runs, simulated users search train and test queries in rounds on the
interleaved lists (their clicks come from the click model and the catalogue's judgements, which drive
simulated behaviour only and never reach the product)."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from typing import Any

from scripts.lifecycle.api_client import Api
from scripts.lifecycle.load import WriteLoad
from scripts.simulate_clicks import Settings, simulate
from sim import sample_catalog

POLL_S = 1.0


def policy_body(cfg: Any, preset: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The demo's policy: a cycle as soon as asked (no wait for sessions or time), its experiment sized
    for a demo, the rollback window short."""
    body: dict[str, Any] = {
        "enabled": True,
        "min_new_sessions": cfg.autopilot.min_new_sessions,
        "min_interval_s": cfg.autopilot.min_interval_s,
        "preset": preset,
        "experiment": {
            "share": cfg.experiment.share,
            "min_sessions": cfg.experiment.min_sessions,
            "max_sessions": cfg.experiment.max_sessions,
        },
        "cleanup_grace_s": cfg.cleanup_grace_s,
    }
    if overrides:
        body["overrides"] = overrides
    return body


@dataclasses.dataclass
class CycleWatch:
    """One cycle as the script saw it: its final view, the steps as they ended, users it simulated."""

    view: dict[str, Any]
    lines: list[str]
    sessions_simulated: int = 0
    rounds: int = 0
    writer: WriteLoad | None = None


def run_cycle(
    api: Api,
    index: str,
    cfg: Any,
    catalog: sample_catalog.Catalog,
    clicks: Settings,
    writer: WriteLoad,
    report_step: Any,
) -> CycleWatch:
    """Start a cycle and follow it to its end; `report_step(name, line)` is called as each step ends."""
    started = api.call("POST", f"/indexes/{index}/autopilot/run", json={"force": True})
    if not started["cycle_id"]:
        raise RuntimeError(f"the autopilot started no cycle: {started['reason']}")
    cycle_id = started["cycle_id"]
    watch = CycleWatch(view={}, lines=[])
    seen_steps = 0
    writing = False
    deadline = time.monotonic() + cfg.timeout_s
    try:
        while True:
            view = _cycle(api, index, cycle_id)
            for record in view["steps"][seen_steps:]:
                line = f"{record['status']} in {record['seconds']:.0f} s: {record['detail']}"
                report_step(f"autopilot {record['step']}", line)
                seen_steps += 1
            if view["state"] == "ended":
                watch.view = view
                return watch
            step = (view.get("now") or {}).get("step")
            if step == "reindex" and not writing:  # writes during the reindex are dual-written
                writer.__enter__()
                writing = True
            elif step != "reindex" and writing:
                writer.__exit__(None, None, None)
                writing = False
            if step == "experiment":
                experiment = _experiment_of(api, view)
                if experiment is not None and experiment["state"] == "running":
                    _users_round(api, index, catalog, clicks, cfg, watch, experiment["id"])
                    continue
            if time.monotonic() > deadline:
                raise TimeoutError(f"cycle {cycle_id} still at {step} after {cfg.timeout_s} s")
            time.sleep(POLL_S)
    finally:
        if writing:
            writer.__exit__(None, None, None)


def _cycle(api: Api, index: str, cycle_id: str) -> dict[str, Any]:
    """The cycle's view, running or ended."""
    view = api.call("GET", f"/indexes/{index}/autopilot")
    current = view.get("current")
    if current and current["id"] == cycle_id:
        return dict(current)
    for cycle in view["history"]:
        if cycle["id"] == cycle_id:
            return dict(cycle)
    raise RuntimeError(f"cycle {cycle_id} is neither running nor in the history")


def _experiment_of(api: Api, view: dict[str, Any]) -> dict[str, Any] | None:
    """The experiment the step's task started (once that task is done)."""
    task_id = (view.get("now") or {}).get("task_id")
    if not task_id:
        return None
    task = api.call("GET", f"/tasks/{task_id}")
    if task["status"] != "done":
        return None
    experiment: dict[str, Any] = api.call("GET", f"/experiments/{task['result']['id']}")
    return experiment


def _users_round(
    api: Api,
    index: str,
    catalog: sample_catalog.Catalog,
    clicks: Settings,
    cfg: Any,
    watch: CycleWatch,
    experiment_id: str,
) -> None:
    """One round of new simulated users over every query, then ask the experiment to check now."""
    watch.rounds += 1
    if watch.rounds > cfg.experiment.max_rounds:  # a safety net: the experiment is stopped, no action
        api.call("POST", f"/experiments/{experiment_id}/stop")
        return
    users = dataclasses.replace(
        clicks,
        users_per_query=cfg.experiment.users_per_round,
        user_prefix=f"exp-{experiment_id[:8]}-r{watch.rounds}-",
        seed=clicks.seed + 1000 * watch.rounds,
    )
    watch.sessions_simulated += simulate(api, catalog, users, index=index).sessions
    api.call("POST", f"/experiments/{experiment_id}/check")


def summary(watch: CycleWatch) -> str:
    """One line for the report: the outcome, the step times, and the experiment's decided tally."""
    view = watch.view
    own = sum(s["seconds"] for s in view["steps"])
    wall = wall_s(view)
    outcome = view["outcome"] + (f" at {view['failed_step']}: {view['error']}" if view["failed_step"] else "")
    return (
        f"cycle {view['id'][:8]}: {outcome}; steps {own / 60:.2f} min of their own, {wall / 60:.2f} min "
        f"wall; {watch.sessions_simulated} simulated sessions in {watch.rounds} rounds"
    )


def wall_s(view: dict[str, Any]) -> float:
    """A cycle's wall time: from its start to its end."""
    began = datetime.fromisoformat(view["started_at"])
    ended = datetime.fromisoformat(view["ended_at"]) if view.get("ended_at") else began
    return (ended - began).total_seconds()
