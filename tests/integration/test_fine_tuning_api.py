"""The fine-tuning API: submit, validation of overrides, not enough feedback, list and cancel."""

from __future__ import annotations

import pytest

from functions.context import Context
from tests.conftest import auth
from tests.support.data_plane import Client, new_index, run_gpu_jobs

pytestmark = [pytest.mark.integration]
TASKS = "/fine-tuning/tasks"


async def test_too_little_feedback_ends_done_with_a_clear_status(client: Client, ctx: Context) -> None:
    index = await new_index(client)
    response = await client.post(TASKS, json={"index": index, "preset": "tiny"}, headers=auth())
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["kind"] == "fine_tuning.run"
    await run_gpu_jobs(ctx)
    task = (await client.get(f"{TASKS}/{accepted['task_id']}", headers=auth())).json()
    assert task["status"] == "done", task
    result = task["result"]
    assert (result["status"], result["sessions"], result["needed"]) == ("not_enough_feedback", 0, 10)
    assert result["mlflow_run_id"] is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"n_trials": "many"}, "overrides.n_trials"),
        ({"bogus": 1}, "overrides.bogus"),
        ({"search_space": {"epochs": [0.5]}}, "overrides.search_space.epochs"),
    ],
)
async def test_a_bad_override_is_a_422_naming_it(
    client: Client, ctx: Context, overrides: dict[str, object], field: str
) -> None:
    index = await new_index(client)
    body = {"index": index, "preset": "small", "overrides": overrides}
    response = await client.post(TASKS, json=body, headers=auth())
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


@pytest.mark.parametrize(
    ("benchmark", "field"),
    [
        ({"queries": {"q1": "wing flutter"}, "qrels": {"q1": {"12": 0}}}, "benchmark.qrels"),
        ({"queries": {"q1": "wing flutter"}, "qrels": {"q2": {"12": 1}}}, "benchmark.qrels"),
        # Shape errors come from the body's schema (400), with msgspec's path for mapping values.
        ({"queries": {"q1": "wing flutter"}, "qrels": {"q1": {"12": -1}}}, "benchmark.qrels[...][...]"),
        ({"qrels": {"q1": {"12": 1}}}, "benchmark.queries"),
    ],
)
async def test_a_bad_benchmark_is_a_422_naming_the_field(
    client: Client, ctx: Context, benchmark: dict[str, object], field: str
) -> None:
    index = await new_index(client)
    response = await client.post(TASKS, json={"index": index, "benchmark": benchmark}, headers=auth())
    assert response.status_code in (400, 422), response.text
    assert response.json()["field"] == field


async def test_refusals_unknown_index_preset_and_no_key(client: Client, ctx: Context) -> None:
    response = await client.post(TASKS, json={"index": "nowhere"}, headers=auth())
    assert response.status_code == 404, response.text
    index = await new_index(client)
    response = await client.post(TASKS, json={"index": index, "preset": "huge"}, headers=auth())
    assert response.status_code in (400, 422), response.text
    response = await client.post(TASKS, json={"index": index})
    assert response.status_code == 401, response.text


async def test_a_pending_task_is_cancelled_and_listed(client: Client, ctx: Context) -> None:
    index = await new_index(client)
    response = await client.post(TASKS, json={"index": index, "idempotency_key": "ft-1"}, headers=auth())
    assert response.status_code == 202, response.text
    task_id = response.json()["task_id"]
    response = await client.post(f"{TASKS}/{task_id}/cancel", headers=auth())
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    await run_gpu_jobs(ctx)  # the queued job finds it cancelled and does nothing
    listed = (await client.get(TASKS, headers=auth())).json()
    assert [t["id"] for t in listed["items"]] == [task_id]
    assert listed["items"][0]["status"] == "cancelled"
    assert listed["items"][0]["result"] is None
