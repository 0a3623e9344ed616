"""Records of the experiments port: an experiment as stored, what starting one needs, and what the
clickstream says about each session on an interleaved list."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from functions.structs import Struct

ExperimentState = Literal["running", "deciding", "decided", "stopped", "aborted", "failed"]
# States in which searches are interleaved and the decision sweep looks at the experiment.
LIVE_STATES: tuple[ExperimentState, ...] = ("running", "deciding")
Action = Literal["switch", "discard", "keep"]
Verdict = Literal["candidate", "control", "tie"]


class NewExperiment(Struct, frozen=True, kw_only=True):
    """What starting an experiment stores."""

    id: str
    index_name: str
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
    callback_url: str | None = None


class Experiment(NewExperiment, frozen=True, kw_only=True):
    """A stored experiment; `verdict`, `action` and `tally` are fixed together when it is decided."""

    state: ExperimentState
    verdict: Verdict | None = None
    action: Action | None = None
    reason: str | None = None
    tally: dict[str, Any] | None = None
    task_id: str | None = None
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None = None


class InterleavedSession(Struct, frozen=True, kw_only=True):
    """One session about an interleaved search: who picked each shown position, and the 0-based
    positions its positive events (clicks, add-to-cart, ...) landed on."""

    session_id: str
    sides: list[str]
    clicked: list[int]
