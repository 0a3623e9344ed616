"""The one table of jobs: name → handler, request type and queue. Both pools read it."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

QueueName = Literal["cpu", "gpu"]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job kind. Paths are imported lazily so the cpu pool never loads gpu-only modules."""

    name: str
    handler: str
    request: str
    queue: QueueName

    def resolve_handler(self) -> Any:
        """The async `run(req, ctx)` function."""
        return _load(self.handler)

    def resolve_request(self) -> type[Any]:
        """The msgspec Struct the stored request decodes into."""
        loaded: type[Any] = _load(self.request)
        return loaded


@cache
def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec(
            "upsertion.upsert",
            "functions.upsertion.handler:upsert",
            "functions.upsertion.messages:UpsertRequest",
            "gpu",
        ),
        JobSpec(
            "upsertion.delete",
            "functions.upsertion.handler:delete",
            "functions.upsertion.messages:DeleteRequest",
            "gpu",
        ),
        JobSpec(
            "improvement.apply",
            "functions.improvement.handler:apply",
            "functions.improvement.messages:ApplyRequest",
            "cpu",
        ),
        JobSpec(
            "improvement.replay",
            "functions.feedback.session_replay:replay_job",
            "functions.feedback.session_replay:ReplayRequest",
            "cpu",
        ),
        JobSpec(
            "fine_tuning.run",
            "functions.fine_tuning.handler:run",
            "functions.fine_tuning.messages:FineTuningRequest",
            "gpu",
        ),
        JobSpec(
            "reindex.run",
            "functions.reindex.handler:run",
            "functions.reindex.messages:ReindexRequest",
            "gpu",
        ),
        JobSpec(
            "reindex.batch",
            "functions.reindex.handler:run_batch",
            "functions.reindex.messages:BatchRequest",
            "gpu",
        ),
        JobSpec(
            "reindex.finish",
            "functions.reindex.handler:finish",
            "functions.reindex.messages:FinishRequest",
            "gpu",
        ),
        JobSpec(
            "reindex.switch",
            "functions.reindex.handler:switch_job",
            "functions.reindex.messages:SwitchRequest",
            "cpu",
        ),
        JobSpec(
            "reindex.cleanup",
            "functions.reindex.handler:cleanup_job",
            "functions.reindex.messages:CleanupRequest",
            "cpu",
        ),
        JobSpec(
            "experiments.start",
            "functions.experiments.handler:start_job",
            "functions.experiments.messages:StartExperiment",
            "cpu",
        ),
        JobSpec(
            "experiments.decide",
            "functions.experiments.decide:apply",
            "functions.experiments.messages:DecideRequest",
            "cpu",
        ),
        JobSpec(
            "deployment.deploy",
            "functions.deployment.handler:deploy",
            "functions.deployment.messages:DeployRequest",
            "cpu",
        ),
        JobSpec(
            "deployment.undeploy",
            "functions.deployment.handler:undeploy",
            "functions.deployment.messages:DeployRequest",
            "cpu",
        ),
        JobSpec(
            "autopilot.cycle",
            "functions.autopilot.cycle:run_cycle",
            "functions.autopilot.messages:CycleRequest",
            "cpu",
        ),
        JobSpec(
            "autopilot.step",
            "functions.autopilot.cycle:advance",
            "functions.autopilot.messages:CycleRequest",
            "cpu",
        ),
    )
}

# Not a task: delivering a task's webhook. Runs on the cpu pool with its own retry schedule.
WEBHOOK_JOB = "webhooks.deliver"
# Periodic: submit improvement.apply for sessions that went idle without being closed.
IMPROVEMENT_SWEEP_JOB = "improvement.sweep"
# Periodic: decide the experiments the test has settled (functions/experiments/decide.py).
EXPERIMENTS_SWEEP_JOB = "experiments.sweep"
# Periodic: start the autopilot cycles that are due and move running ones on (functions/autopilot/tick.py).
AUTOPILOT_TICK_JOB = "autopilot.tick"
# Periodic: roll up every index's finished traffic hours for the console (functions/console/handler.py).
CONSOLE_ROLLUP_JOB = "console.rollup"


def jobs_for(queue: QueueName, registry: dict[str, JobSpec] | None = None) -> list[JobSpec]:
    """The jobs a pool runs."""
    return [spec for spec in (registry or JOBS).values() if spec.queue == queue]
