"""Fine-tuning messages: the task request (a preset plus validated overrides) and its result."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta

from functions.records import IndexName
from functions.structs import Struct
from functions.tasks.messages import CallbackUrl, IdempotencyKey
from functions.training_records import ModelScores

PresetName = Literal["tiny", "small", "default"]
Seed = Annotated[int, Meta(ge=0, le=2**31 - 1)]


class FineTuningRequest(Struct, frozen=True, kw_only=True):
    """The `fine_tuning.run` job: train on the index's relevant sessions created in [since, until).
    `overrides` replace keys of the preset (conf fine_tuning.presets) and are validated against it;
    `seed` (default: the preset's) fixes the split, the corpus sample and the study."""

    index: IndexName
    since: datetime | None = None
    until: datetime | None = None
    preset: PresetName = "small"
    overrides: dict[str, Any] | None = None
    seed: Seed | None = None


class FineTuningSubmission(Struct, frozen=True, kw_only=True):
    """`POST /fine-tuning/tasks`: a FineTuningRequest plus task delivery options."""

    index: IndexName
    since: datetime | None = None
    until: datetime | None = None
    preset: PresetName = "small"
    overrides: dict[str, Any] | None = None
    seed: Seed | None = None
    idempotency_key: IdempotencyKey | None = None
    callback_url: CallbackUrl | None = None

    def request(self) -> FineTuningRequest:
        """The job's request."""
        return FineTuningRequest(
            index=self.index,
            since=self.since,
            until=self.until,
            preset=self.preset,
            overrides=self.overrides,
            seed=self.seed,
        )


class FineTuningResult(Struct, frozen=True, kw_only=True):
    """How a task ended. status "not_enough_feedback": `sessions` usable sessions (relevant, with a
    positive event) of `needed`, or no query left on one side of the split (`detail` says which); no
    MLflow run was made. status "trained": both models' scores on the held-out queries over the same
    corpus; `promoted` when the challenger beat the champion by the preset's margin; the best
    challenger is registered (`registered_version`, alias challenger) either way."""

    status: Literal["trained", "not_enough_feedback"]
    index: str
    preset: str
    sessions: int
    needed: int
    detail: str = ""
    train_queries: int = 0
    eval_queries: int = 0
    corpus_size: int = 0
    dataset_hash: str | None = None
    base_model: str | None = None
    base_version: str | None = None
    champion: ModelScores | None = None
    challenger: ModelScores | None = None
    promoted: bool = False
    registered_version: str | None = None
    best_params: dict[str, float | int] | None = None
    trials_completed: int = 0
    trials_pruned: int = 0
    mlflow_run_id: str | None = None
