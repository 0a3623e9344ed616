"""Requests and results of the autopilot stage (routes, and the autopilot.cycle and autopilot.step jobs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from msgspec import Meta

from functions.records import CycleStep, ExperimentPolicy, Outcome, StepRecord
from functions.structs import Struct, Text
from functions.tasks.messages import CallbackUrl

Sessions = Annotated[int, Meta(ge=1, le=10_000_000)]
# min_new_sessions is checked by the handler (a 422 naming it, as for a preset that does not exist).
NewSessions = Annotated[int, Meta(le=10_000_000)]
Seconds = Annotated[float, Meta(ge=0, le=365 * 86400)]


class ExperimentSettings(Struct, frozen=True, kw_only=True):
    """The online experiment of each cycle; fields left out take conf/experiments."""

    share: Annotated[float, Meta(gt=0, le=1)] | None = None
    min_sessions: Sessions | None = None
    max_sessions: Sessions | None = None
    alpha: Annotated[float, Meta(gt=0, lt=1)] | None = None


class PutPolicy(Struct, frozen=True, kw_only=True):
    """`PUT /indexes/{name}/autopilot`: the index's policy. Fields left out take conf/autopilot."""

    enabled: bool = True
    min_new_sessions: NewSessions | None = None
    min_interval_s: Seconds | None = None
    preset: Annotated[Text, Meta(min_length=1, max_length=64)] | None = None
    overrides: dict[str, Any] | None = None
    experiment: ExperimentSettings | None = None
    cleanup_grace_s: Seconds | None = None
    # The webhook of every step's task and of the cycle's own task (its outcome).
    callback_url: CallbackUrl | None = None


class RunRequest(Struct, frozen=True, kw_only=True):
    """`POST /indexes/{name}/autopilot/run`: check now whether a cycle is due and start it; `force`
    starts one without waiting for min_new_sessions and min_interval_s."""

    force: bool = False


class CycleRequest(Struct, frozen=True, kw_only=True):
    """The `autopilot.cycle` job (the cycle's own task) and the `autopilot.step` job (move the cycle on
    from `step`, which has ended)."""

    cycle_id: Annotated[Text, Meta(min_length=1, max_length=64)]
    step: CycleStep = "start"


class StepNow(Struct, frozen=True, kw_only=True):
    """The step a running cycle is at: its work task with that task's progress and ETA."""

    step: CycleStep
    started_at: datetime
    task_id: str | None
    status: str | None = None
    progress: float | None = None
    message: str = ""
    eta_seconds: float | None = None


class CycleView(Struct, frozen=True, kw_only=True):
    """One cycle: its task, where it is (or how it ended), what its steps learned and how long each took."""

    id: str
    task_id: str | None
    state: str
    outcome: Outcome | None
    failed_step: str | None
    error: str | None
    started_at: datetime
    ended_at: datetime | None
    sessions_at_start: int
    facts: dict[str, Any]
    steps: list[StepRecord]
    now: StepNow | None = None
    step_seconds: float = 0.0  # the sum of its ended steps' own times
    progress: float = 0.0


class AutopilotView(Struct, frozen=True, kw_only=True):
    """`GET /indexes/{name}/autopilot`: the policy, whether a cycle could start now and why not, the
    running cycle, and past cycles (newest first)."""

    index: str
    enabled: bool
    paused: bool
    min_new_sessions: int
    min_interval_s: float
    preset: str
    overrides: dict[str, Any]
    experiment: ExperimentPolicy
    cleanup_grace_s: float
    callback_url: str | None
    globally_enabled: bool
    closed_sessions: int  # since the last cycle began
    waiting_for: str | None  # why no cycle starts now (None: one may)
    current: CycleView | None
    history: list[CycleView]


class RunResult(Struct, frozen=True, kw_only=True):
    """What `run` did: the cycle it started (or found running), or why none started."""

    started: bool
    cycle_id: str | None
    task_id: str | None
    reason: str = ""


class CycleResult(Struct, frozen=True, kw_only=True):
    """The cycle task's result (and the step job's): where the cycle is or how it ended."""

    cycle_id: str
    state: str
    step: str
    outcome: Outcome | None = None
    detail: str = ""
