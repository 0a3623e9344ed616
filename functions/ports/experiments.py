"""Port of the experiments stage: experiments and their state, and the clickstream read that tallies
one (jobs/stores/experiments.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from functions.records import Action, Experiment, ExperimentState, InterleavedSession, NewExperiment, Verdict


class ExperimentStore(Protocol):
    """The experiments table, and the sessions of the searches an experiment interleaved."""

    async def create(self, new: NewExperiment) -> Experiment | None: ...  # None: the index has a live one
    async def get(self, experiment_id: str) -> Experiment | None: ...
    async def of_index(self, index: str | None, limit: int) -> list[Experiment]: ...
    async def live(self) -> list[Experiment]: ...
    async def running(self, index: str, *, max_age_s: float) -> Experiment | None: ...
    async def searches(self, experiment_id: str) -> int: ...
    async def sessions(self, experiment_id: str, positive: Sequence[str]) -> list[InterleavedSession]: ...
    async def decide(
        self,
        experiment_id: str,
        verdict: Verdict,
        action: Action,
        reason: str,
        tally: dict[str, Any],
    ) -> Experiment | None: ...
    async def set_task(self, experiment_id: str, task_id: str) -> None: ...
    async def end(
        self, experiment_id: str, state: ExperimentState, reason: str, *, only_from: Sequence[str]
    ) -> Experiment | None: ...
