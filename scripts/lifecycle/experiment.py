"""The lifecycle's online experiment: the index's blue collection against the reindexed candidate,
decided by simulated users clicking on interleaved lists (functions/experiments), then acted on.

Simulated users search in rounds (every query of the catalogue, `users_per_round` new users each), and
after each round the experiment is checked; the loop ends when it is decided, stopped or out of
rounds. The users' clicks come from the click model and the catalogue's judgements: the judgements
drive simulated behaviour only and never reach the product.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from scripts.lifecycle.api_client import Api
from scripts.simulate_clicks import Settings, simulate
from sim import sample_catalog

ENDED = ("decided", "stopped", "aborted", "failed")


def run_experiment(
    api: Api,
    index: str,
    candidate: str,
    catalog: sample_catalog.Catalog,
    clicks: Settings,
    cfg: Any,
) -> dict[str, Any]:
    """Start the experiment, simulate users until it ends, wait for its action; its final view plus
    `sessions_simulated`, `rounds` and, after a switch, `replayed` (sessions caught up)."""
    body = {
        "index": index,
        "candidate_collection_id": candidate,
        "share": cfg.share,
        "min_sessions": cfg.min_sessions,
        "max_sessions": cfg.max_sessions,
    }
    started = api.call("POST", "/experiments", json=body)
    experiment_id, simulated, rounds = started["id"], 0, 0
    view = started
    for rounds in range(1, cfg.max_rounds + 1):
        users = dataclasses.replace(
            clicks,
            users_per_query=cfg.users_per_round,
            user_prefix=f"exp-{experiment_id[:8]}-r{rounds}-",
            seed=clicks.seed + 1000 * rounds,
        )
        simulated += simulate(api, catalog, users, index=index).sessions
        view = api.call("POST", f"/experiments/{experiment_id}/check")
        if view["state"] != "running":
            break
    else:
        view = api.call("POST", f"/experiments/{experiment_id}/stop")
    view = _until_ended(api, experiment_id, view, cfg.timeout_s)
    replayed = _replayed(api, view)
    return {**view, "sessions_simulated": simulated, "rounds": rounds, "replayed": replayed}


def _until_ended(api: Api, experiment_id: str, view: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Wait for a deciding experiment's action (its decide task) to finish."""
    deadline = time.monotonic() + timeout_s
    while view["state"] not in ENDED:
        if view.get("task_id"):
            api.wait_task(view["task_id"], f"experiment {view['verdict']} → {view['action']}", timeout_s)
        elif time.monotonic() > deadline:
            raise TimeoutError(f"experiment {experiment_id} still {view['state']} after {timeout_s} s")
        else:
            time.sleep(0.5)
        view = api.call("GET", f"/experiments/{experiment_id}")
    return view


def _replayed(api: Api, view: dict[str, Any]) -> int:
    """After a switch, wait for the catch-up replay of the sessions applied to the old collection."""
    if view.get("action") != "switch" or not view.get("task_id"):
        return 0
    decided = api.call("GET", f"/tasks/{view['task_id']}")
    switch_id = ((decided.get("result") or {}).get("subtasks") or {}).get("switch")
    if not switch_id:
        return 0
    switch = api.call("GET", f"/tasks/{switch_id}")
    replay = (switch.get("result") or {}).get("replay_task_id")
    if not replay:
        return 0
    return int(api.wait_task(replay, "improvement catch-up")["result"]["replayed"])


def summary(view: dict[str, Any]) -> str:
    """One line for the report: the tally the decision was taken on (the live one when undecided)."""
    t = view.get("decided_tally") or view["tally"]
    return (
        f"{t['sessions']} sessions with a credited click: candidate {t['candidate_wins']}, champion "
        f"{t['control_wins']}, ties {t['ties']}, p {t['p_value']:.4f}; {view['state']}: "
        f"{view.get('verdict')} → {view.get('action')} ({view.get('reason')}); "
        f"{view['tally']['searches']} interleaved searches in all"
    )
