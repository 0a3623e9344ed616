"""Records of the autopilot port: an index's policy, a cycle as stored, and one ended step of it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from msgspec import field

from functions.structs import Struct

# The steps of a cycle in order; `start` has no work of its own, `grace` waits out the rollback window.
CycleStep = Literal["start", "fine_tuning", "deployment", "reindex", "experiment", "grace", "cleanup", "end"]
Outcome = Literal["switched", "discarded", "refused", "failed"]


class ExperimentPolicy(Struct, frozen=True, kw_only=True):
    """The online experiment of each cycle (None: the experiments stage's default)."""

    share: float | None = None
    min_sessions: int | None = None
    max_sessions: int | None = None
    alpha: float | None = None


class Policy(Struct, frozen=True, kw_only=True):
    """When an index runs a cycle, and how."""

    index_name: str
    enabled: bool
    paused: bool = False
    min_new_sessions: int
    min_interval_s: float
    preset: str
    overrides: dict[str, Any] = field(default_factory=dict)
    experiment: ExperimentPolicy = ExperimentPolicy()
    cleanup_grace_s: float
    callback_url: str | None = None
    updated_at: datetime | None = None


class StepRecord(Struct, frozen=True, kw_only=True):
    """One ended step: its work task (None for a step without one), how that ended, and how long."""

    step: str
    task_id: str | None
    status: str
    started_at: datetime
    ended_at: datetime
    seconds: float
    detail: str = ""


class Cycle(Struct, frozen=True, kw_only=True):
    """One turn of the loop on one index. `facts` holds what its steps learned (versions, the candidate
    collection, the experiment) under the names functions/autopilot/steps.py gives them."""

    id: str
    index_name: str
    task_id: str | None
    state: Literal["running", "ended"]
    step: CycleStep
    step_task_id: str | None
    step_started_at: datetime
    outcome: Outcome | None = None
    failed_step: str | None = None
    error: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)
    sessions_at_start: int = 0
    started_at: datetime
    ended_at: datetime | None = None
