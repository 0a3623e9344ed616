"""The autopilot on real services: policies and their refusals, cycles started by the tick and by
`run`, one cycle per index however many start at once, pause between steps, a refusal that ends a
cycle, and the cycle's task, webhook and MLflow run."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from mlflow import MlflowClient

from functions.autopilot import tick
from functions.autopilot.cycle import begin
from functions.context import Context
from tests.conftest import SEARCH_KEY, auth
from tests.support.data_plane import Client, new_index, search
from tests.support.improvement import session_for
from tests.support.receiver import Receiver, receiver
from tests.support.reindex import fetch, register_perturbed, seed
from tests.support.tasks import given_fine_tuning
from tests.support.workers import drain

pytestmark = [pytest.mark.integration, pytest.mark.model]
OFF = {"enabled": False, "preset": "tiny", "min_new_sessions": 1, "min_interval_s": 0, "cleanup_grace_s": 0}


async def _put(client: Client, index: str, **body: Any) -> Any:
    return await client.put(f"/indexes/{index}/autopilot", json=body, headers=auth())


async def _view(client: Client, index: str) -> dict[str, Any]:
    response = await client.get(f"/indexes/{index}/autopilot", headers=auth())
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def _policy(client: Client, ctx: Context, **changes: Any) -> str:
    """A fresh index of a few items with a policy (disabled, so only the test starts cycles)."""
    index = await new_index(client)
    await seed(ctx, index, range(12))
    response = await _put(client, index, **(OFF | changes))
    assert response.status_code == 200, response.text
    return index


async def test_bad_policies_are_refused_naming_the_field(client: Client, ctx: Context) -> None:
    missing = await _put(client, "no_such_index", **OFF)
    assert (missing.status_code, missing.json()["field"]) == (404, "name")
    assert (await client.get("/indexes/no_such_index/autopilot", headers=auth())).status_code == 404
    index = await new_index(client)
    cases = [
        ({"min_new_sessions": 0}, 422, "min_new_sessions"),
        ({"preset": "enormous"}, 422, "preset"),
        ({"overrides": {"n_trials": "many"}}, 422, "overrides.n_trials"),
        ({"experiment": {"min_sessions": 50, "max_sessions": 10}}, 422, "experiment.max_sessions"),
        ({"min_interval_s": -1}, 400, "min_interval_s"),
    ]
    for change, status, field in cases:
        response = await _put(client, index, **(OFF | change))
        assert (response.status_code, response.json().get("field")) == (status, field), (
            change,
            response.text,
        )
    unknown = await _put(client, index, **(OFF | {"cleanup_grace": 5}))
    assert unknown.status_code == 400
    assert "unknown field `cleanup_grace`" in unknown.json()["detail"]
    # Enabling needs the version blue serves to be in Triton: a new index's base version is not yet.
    refused = await _put(client, index, **(OFF | {"enabled": True}))
    assert (refused.status_code, refused.json()["field"]) == (409, "enabled"), refused.text
    assert "not deployed" in refused.json()["detail"]
    assert (
        await client.get(f"/indexes/{index}/autopilot", headers=auth())
    ).status_code == 404  # nothing stored
    stored = await _put(client, index, **OFF)
    assert stored.status_code == 200, stored.text
    assert stored.json()["waiting_for"] == "the policy is disabled"
    # A disabled policy starts nothing by itself; `force` says why with a 409.
    run = await client.post(f"/indexes/{index}/autopilot/run", headers=auth())
    assert run.json() == {
        "started": False,
        "cycle_id": None,
        "task_id": None,
        "reason": "the policy is disabled",
    }
    forced = await client.post(f"/indexes/{index}/autopilot/run", json={"force": True}, headers=auth())
    assert forced.status_code == 409, forced.text


async def test_one_cycle_per_index_however_many_start_at_once(client: Client, ctx: Context) -> None:
    index = await _policy(client, ctx)
    policy = await ctx.autopilot.policy(index)  # type: ignore[union-attr]
    assert policy is not None
    started = await asyncio.gather(*(begin(policy, 0, ctx) for _ in range(6)))
    assert len([c for c in started if c is not None]) == 1
    rows = await fetch(ctx, "SELECT count(*) AS n FROM autopilot_cycles WHERE index_name = $1", index)
    assert rows[0]["n"] == 1
    tasks = await fetch(ctx, "SELECT count(*) AS n FROM tasks WHERE kind = 'autopilot.cycle'")
    assert tasks[0]["n"] == 1
    again = await client.post(f"/indexes/{index}/autopilot/run", json={"force": True}, headers=auth())
    assert again.json()["reason"] == "a cycle is running"


async def test_pause_holds_the_cycle_after_its_step_and_resume_moves_it_on(
    client: Client, ctx: Context
) -> None:
    with receiver() as hook:
        await _pause_and_resume(client, ctx, hook)


async def _pause_and_resume(client: Client, ctx: Context, hook: Receiver) -> None:
    index = await _policy(client, ctx, callback_url=hook.url)
    paused = await client.post(f"/indexes/{index}/autopilot/pause", headers=auth())
    assert paused.json()["paused"] is True
    policy = await ctx.autopilot.policy(index)  # type: ignore[union-attr]
    assert policy is not None
    cycle = await begin(policy, 0, ctx)
    assert cycle is not None
    await drain("cpu")  # the cycle's task makes its first move: the fine-tuning task is submitted
    view = await _view(client, index)
    assert view["current"]["now"]["step"] == "fine_tuning"
    fine_tuning = view["current"]["now"]["task_id"]
    await drain("gpu")  # 12 items, no session: fine-tuning ends "not enough feedback"
    assert "paused after step fine_tuning" in await tick.tick(ctx)
    await drain("cpu")
    assert (await _view(client, index))["current"]["now"]["step"] == "fine_tuning"  # held
    assert (await client.post(f"/indexes/{index}/autopilot/resume", headers=auth())).json()["paused"] is False
    assert "moving on from fine_tuning" in await tick.tick(ctx)
    await drain("cpu")
    view = await _view(client, index)
    assert view["current"] is None
    ended = view["history"][0]
    assert (ended["outcome"], ended["failed_step"]) == ("refused", None)
    assert [s["step"] for s in ended["steps"]] == ["start", "fine_tuning"]
    assert ended["steps"][1]["task_id"] == fine_tuning
    assert "not enough feedback" in ended["steps"][1]["detail"]
    # The cycle's task ended with the outcome; every step's task is its child.
    task = (await client.get(f"/tasks/{ended['task_id']}", headers=auth())).json()
    assert (task["status"], task["result"]["outcome"]) == ("done", "refused")
    children = (await client.get(f"/tasks?parent_id={ended['task_id']}", headers=auth())).json()["items"]
    assert {c["kind"] for c in children} == {"fine_tuning.run", "autopilot.step"}
    # Lineage: the cycle's MLflow run says how it ended.
    run_id = ended["facts"]["mlflow_run_id"]
    uri = ctx.config.mlflow.tracking_uri
    run = MlflowClient(tracking_uri=uri).get_run(run_id)
    assert run.data.tags["outcome"] == "refused"
    assert run.info.status == "FINISHED"
    # Webhooks: the fine-tuning step's task at its end, and the cycle's task with the outcome.
    await drain("cpu")
    bodies = [json.loads(d.body) for d in hook.deliveries]
    sent = {(b["kind"], b["status"]) for b in bodies}
    assert sent == {("fine_tuning.run", "done"), ("autopilot.cycle", "done")}, bodies
    outcome = next(b for b in bodies if b["kind"] == "autopilot.cycle")
    assert outcome["result"]["outcome"] == "refused"


async def test_the_tick_starts_a_due_cycle_once_and_waits_out_the_interval(
    client: Client, ctx: Context
) -> None:
    index = await _policy(client, ctx, min_interval_s=3600)
    await fetch(ctx, "UPDATE autopilot_policies SET enabled = true WHERE index_name = $1", index)
    assert "0 closed sessions since the last cycle began, 1 needed" in await tick.tick(ctx)
    session_id = await session_for(client, await search(client, index=index, query="tea", limit=3))
    closed = await client.post(f"/clickstream/sessions/{session_id}/close", headers=auth(SEARCH_KEY))
    assert closed.status_code == 200, closed.text
    assert f"{index}: started cycle" in await tick.tick(ctx)
    assert f"{index}: starting" in await tick.tick(ctx)  # the cycle's own task makes the first move
    await drain("cpu")
    await drain("gpu")
    await tick.tick(ctx)
    await drain("cpu")
    assert (await _view(client, index))["history"][0]["outcome"] == "refused"
    session_id = await session_for(client, await search(client, index=index, query="tea", limit=3))
    await client.post(f"/clickstream/sessions/{session_id}/close", headers=auth(SEARCH_KEY))
    view = await _view(client, index)
    assert "min_interval_s" in view["waiting_for"]  # a new session, but not an hour since the last cycle
    assert "waiting" in await tick.tick(ctx)
    assert len(view["history"]) == 1


async def test_a_challenger_the_guard_refuses_ends_the_cycle_refused_having_built_nothing(
    client: Client, ctx: Context
) -> None:
    index = await _policy(client, ctx)
    model = ctx.embedders.registered_name(index)
    version, _ = await asyncio.to_thread(register_perturbed, ctx.config, model)
    policy = await ctx.autopilot.policy(index)  # type: ignore[union-attr]
    assert policy is not None
    cycle = await begin(policy, 0, ctx)
    assert cycle is not None
    # The fine-tuning task the cycle submits, already ended: trained, and refused by the offline guard.
    await given_fine_tuning(
        ctx,
        cycle.id,
        cycle.task_id,
        index,
        version,
        promoted=False,
        rule="worse on held-out clicks (p 0.03 <= 0.1)",
    )
    await drain("cpu")
    await tick.tick(ctx)
    await drain("cpu")
    ended = (await _view(client, index))["history"][0]
    assert ended["outcome"] == "refused", ended
    assert f"the guard refused version {version}" in ended["steps"][-1]["detail"]
    built = await fetch(
        ctx,
        "SELECT kind FROM tasks WHERE idempotency_key LIKE $1 AND kind <> 'autopilot.step'",
        f"autopilot:{cycle.id}%",
    )
    assert sorted(r["kind"] for r in built) == ["autopilot.cycle", "fine_tuning.run"]  # nothing deployed
    assert len(await ctx.collections.collections_of(index)) == 1
    tags = MlflowClient(registry_uri=ctx.config.mlflow.tracking_uri).get_model_version(model, version).tags
    assert (tags["autopilot.outcome"], tags["autopilot.blue"]) == ("refused", "false")
    assert tags["autopilot.cycle_id"] == cycle.id
