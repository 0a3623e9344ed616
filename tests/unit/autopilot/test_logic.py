"""The autopilot's pure rules with literal values: when a cycle is due, when a step has ended, where
each ending leads, and what each step's work asks its stage for."""

from __future__ import annotations

import msgspec

from functions.autopilot.logic import Observed, after, not_due, progress, ready, work_request
from functions.records import ExperimentPolicy, Policy

POLICY = Policy(
    index_name="books",
    enabled=True,
    min_new_sessions=100,
    min_interval_s=3600,
    preset="small",
    cleanup_grace_s=60,
)
TRAINED = {
    "status": "trained",
    "promoted": True,
    "registered_version": "3",
    "mlflow_run_id": "run-1",
    "champion": {"ndcg_at_10": 0.5},
    "challenger": {"ndcg_at_10": 0.6},
    "rule": "not worse",
}


def test_a_cycle_is_due_only_with_enough_new_sessions_and_time() -> None:
    due = {"globally_enabled": True, "closed_sessions": 100, "since_last_s": 3600.0}
    assert not_due(POLICY, **due) is None
    assert not_due(POLICY, **(due | {"since_last_s": None})) is None  # the first cycle waits for no time
    assert "99 closed sessions" in str(not_due(POLICY, **(due | {"closed_sessions": 99})))
    assert "min_interval_s" in str(not_due(POLICY, **(due | {"since_last_s": 10.0})))
    assert "autopilot.enabled" in str(not_due(POLICY, **(due | {"globally_enabled": False})))
    paused = msgspec.structs.replace(POLICY, paused=True)
    assert not_due(paused, **due) == "paused"
    disabled = msgspec.structs.replace(POLICY, enabled=False)
    assert not_due(disabled, **due) == "the policy is disabled"


def test_a_step_has_ended_when_its_work_has_and_an_experiment_when_it_is_decided() -> None:
    assert ready("start", Observed(), waited_s=0, grace_s=60)
    assert not ready("fine_tuning", Observed(status="running"), waited_s=0, grace_s=60)
    assert ready("fine_tuning", Observed(status="failed"), waited_s=0, grace_s=60)
    started = Observed(status="done", result={"id": "e1"}, experiment_state="running")
    assert not ready("experiment", started, waited_s=0, grace_s=60)
    assert ready("experiment", Observed(status="done", experiment_state="decided"), waited_s=0, grace_s=60)
    assert not ready("grace", Observed(), waited_s=59.9, grace_s=60)
    assert ready("grace", Observed(), waited_s=60, grace_s=60)


def test_fine_tuning_leads_to_deployment_or_a_refusal() -> None:
    moved = after("fine_tuning", Observed(status="done", result=TRAINED), deploys=True)
    assert (moved.to, moved.outcome) == ("deployment", None)
    assert moved.facts["challenger_version"] == "3"
    assert moved.facts["fine_tuning_run_id"] == "run-1"
    assert after("fine_tuning", Observed(status="done", result=TRAINED), deploys=False).to == "reindex"
    adapted = TRAINED | {"evaluated_on": "corpus", "pairs": {"clicks": 0, "title": 5, "crop": 2}}
    detail = after("fine_tuning", Observed(status="done", result=adapted), deploys=True).detail
    assert detail.endswith("on held-out objects' spans; trained on 5 title, 2 crop pairs")
    refused = after(
        "fine_tuning", Observed(status="done", result=TRAINED | {"promoted": False}), deploys=True
    )
    assert (refused.to, refused.outcome) == (None, "refused")
    assert "guard refused version 3" in refused.detail
    thin = {"status": "not_enough_feedback", "sessions": 4, "needed": 50}
    starved = after("fine_tuning", Observed(status="done", result=thin), deploys=True)
    assert starved.outcome == "refused"
    assert "4 usable sessions of 50" in starved.detail
    failed = after("fine_tuning", Observed(status="failed", error="out of memory"), deploys=True)
    assert (failed.outcome, failed.error) == ("failed", "out of memory")


def test_the_experiment_decides_between_grace_and_discard() -> None:
    won = Observed(status="done", result={"id": "e1"}, experiment_state="decided", experiment_action="switch")
    assert after("experiment", won, deploys=True).to == "grace"
    assert after("experiment", won, deploys=True).facts == {"experiment_id": "e1", "switched": True}
    lost = Observed(
        status="done", result={"id": "e1"}, experiment_state="decided", experiment_action="discard"
    )
    assert after("experiment", lost, deploys=True).outcome == "discarded"
    stopped = Observed(
        status="done", result={"id": "e1"}, experiment_state="stopped", experiment_reason="by hand"
    )
    assert after("experiment", stopped, deploys=True).outcome == "failed"
    assert after("grace", Observed(), deploys=True).to == "cleanup"
    cleaned = after("cleanup", Observed(status="done", result={"dropped": ["c1"]}), deploys=True)
    assert (cleaned.outcome, cleaned.detail) == ("switched", "dropped c1")
    reindexed = after(
        "reindex", Observed(status="done", result={"destination_collection_id": "c2"}), deploys=True
    )
    assert (reindexed.to, reindexed.facts) == ("experiment", {"candidate_collection_id": "c2"})


def test_each_step_asks_its_stage_for_the_right_work() -> None:
    facts = {"challenger_version": "3", "candidate_collection_id": "c2"}
    assert work_request("fine_tuning", "books", "m", POLICY, facts) == {"index": "books", "preset": "small"}
    assert work_request("deployment", "books", "m", POLICY, facts) == {"model": "m", "version": "3"}
    assert work_request("reindex", "books", "m", POLICY, facts) == {
        "index": "books",
        "model_version": "3",
        "auto_switch": False,
    }
    chosen = msgspec.structs.replace(POLICY, experiment=ExperimentPolicy(share=0.5, min_sessions=20))
    assert work_request("experiment", "books", "m", chosen, facts) == {
        "index": "books",
        "candidate_collection_id": "c2",
        "on_win": "switch",
        "on_lose": "discard",
        "on_tie": "discard",
        "share": 0.5,
        "min_sessions": 20,
    }
    assert work_request("cleanup", "books", "m", POLICY, facts) == {"index": "books", "grace_s": 60}


def test_progress_counts_the_steps_behind_the_cycle() -> None:
    assert progress("start", 0) == 0.0
    assert progress("fine_tuning", 50) == round(100 * 0.5 / 6, 1)
    assert progress("cleanup", 100) == 100.0
