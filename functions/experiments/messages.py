"""Requests and results of the experiments stage (routes and the experiments.decide job)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from msgspec import Meta

from functions.records import Action, ExperimentState, IndexName, Verdict
from functions.structs import Struct, Text

CollectionId = Annotated[Text, Meta(min_length=1, max_length=200)]
Share = Annotated[
    float, Meta(gt=0, le=1, description="share of the index's text searches interleaved, (0, 1]")
]
Sessions = Annotated[int, Meta(ge=1, le=10_000_000)]


class StartExperiment(Struct, frozen=True, kw_only=True):
    """`POST /experiments`: the index's blue collection (control) against `candidate_collection_id`.
    Fields left out take conf/experiments."""

    index: IndexName
    candidate_collection_id: CollectionId
    share: Share | None = None
    min_sessions: Sessions | None = None
    max_sessions: Sessions | None = None
    alpha: Annotated[float, Meta(gt=0, lt=1)] | None = None
    tau: Annotated[float, Meta(gt=0, le=1)] | None = None
    on_win: Action | None = None
    on_lose: Action | None = None
    on_tie: Action | None = None
    # The webhook of the task that applies the decision (signed like every task webhook).
    callback_url: Annotated[Text, Meta(max_length=2048)] | None = None


class Tallied(Struct, frozen=True, kw_only=True):
    """What the clickstream says so far: interleaved searches, sessions with a credited click, each
    side's wins, ties, the test's statistic (log of the mixture likelihood ratio) and p-value, and the
    candidate's cumulative win share among decisive sessions (at most 100 points: [sessions, share])."""

    searches: int
    sessions: int
    candidate_wins: int
    control_wins: int
    ties: int
    statistic: float
    p_value: float
    win_share_curve: list[tuple[int, float]]


class ExperimentView(Struct, frozen=True, kw_only=True):
    """An experiment as the API shows it: its settings, state, live tally and decision once made."""

    id: str
    index: str
    control_collection_id: str
    candidate_collection_id: str
    candidate_model_version: str
    share: float
    alpha: float
    tau: float
    min_sessions: int
    max_sessions: int
    on_win: Action
    on_lose: Action
    on_tie: Action
    state: ExperimentState
    tally: Tallied
    verdict: Verdict | None
    action: Action | None
    reason: str | None
    decided_tally: dict[str, Any] | None  # the tally the decision was taken on
    task_id: str | None
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None


class ExperimentList(Struct, frozen=True, kw_only=True):
    """Experiments, newest first."""

    experiments: list[ExperimentView]


class DecideRequest(Struct, frozen=True, kw_only=True):
    """The `experiments.decide` job: apply the decision fixed on this experiment."""

    experiment_id: CollectionId


class DecideResult(Struct, frozen=True, kw_only=True):
    """What applying a decision did: the action, and the tasks it ran (switch, undeploy)."""

    experiment_id: str
    verdict: Verdict | None
    action: Action | None
    state: ExperimentState
    detail: str
    subtasks: dict[str, Any]
