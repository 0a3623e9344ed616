"""Fine-tuning messages: the task request (a preset plus validated overrides) and its result."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from functions.config import Sources
from functions.records import Filter, IndexName, ModelScores
from functions.structs import Struct, Text
from functions.tasks.messages import CallbackUrl, IdempotencyKey

PresetName = Literal["tiny", "small", "default", "adapt"]
Seed = Annotated[int, Meta(ge=0, le=2**31 - 1)]
QueryId = Annotated[Text, Meta(min_length=1, max_length=200)]
Grade = Annotated[int, Meta(ge=0, le=100)]


class Benchmark(Struct, frozen=True, kw_only=True):
    """Judged queries (a BEIR split: its queries and qrels) the champion and the challenger are also
    scored on, over the same candidates. Documents are object ids of the index; a judged object that
    is not stored counts as not found. Never picks a model: with the preset's benchmark_veto, a
    challenger significantly worse on it is refused."""

    name: Annotated[Text, Meta(min_length=1, max_length=100)] = "qrels"
    # Query texts as long as the body allows: the model reads the start of a long one.
    queries: Annotated[dict[QueryId, Annotated[Text, Meta(min_length=1)]], Meta(max_length=10_000)]
    qrels: Annotated[dict[QueryId, dict[Text, Grade]], Meta(max_length=10_000)]


class BenchmarkScores(Struct, frozen=True, kw_only=True):
    """Both models on the benchmark's judged queries (`queries`: those with a text and a relevant
    object)."""

    name: str
    queries: int
    champion: ModelScores
    challenger: ModelScores


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
    benchmark: Benchmark | None = None
    # What to train on and how much of each (default: the preset's); {"corpus": 1, "clicks": 0}
    # adapts the model to the index's own content before any user clicked.
    sources: Sources | None = None
    # Objects whose payload matches this filter (noise, boilerplate) never give a corpus pair.
    corpus_exclude: Filter | None = None


class FineTuningSubmission(Struct, frozen=True, kw_only=True):
    """`POST /fine-tuning/tasks`: a FineTuningRequest plus task delivery options."""

    index: IndexName
    since: datetime | None = None
    until: datetime | None = None
    preset: PresetName = "small"
    overrides: dict[str, Any] | None = None
    seed: Seed | None = None
    benchmark: Benchmark | None = None
    # What to train on and how much of each (default: the preset's); {"corpus": 1, "clicks": 0}
    # adapts the model to the index's own content before any user clicked.
    sources: Sources | None = None
    # Objects whose payload matches this filter (noise, boilerplate) never give a corpus pair.
    corpus_exclude: Filter | None = None
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
            benchmark=self.benchmark,
            sources=self.sources,
            corpus_exclude=self.corpus_exclude,
        )


class FineTuningResult(Struct, frozen=True, kw_only=True):
    """How a task ended. status "not_enough_feedback": `sessions` usable sessions (relevant, with a
    positive event) of `needed`, or no query left on one side of the split (`detail` says which); no
    MLflow run was made. status "trained": both models' scores on the held-out queries over the same
    corpus, and the guard's verdict: `promoted` when the challenger passed it, so an online experiment
    decides whether it replaces the champion. It is refused only when broken (non-finite, zero or
    collapsed embeddings) or worse with significance: a lower nDCG@10 with `worse_p_value` (the
    one-sided paired randomisation test of per-query nDCG@10) at most the preset's promotion_max_p, on
    the held-out clicks or on the task's `benchmark` (preset key benchmark_veto). `rule` says which rule
    decided; `p_value` is the same test the other way (the challenger is better), for the record. The
    best challenger is registered (`registered_version`, alias challenger) either way."""

    status: Literal["trained", "not_enough_feedback"]
    index: str
    preset: str
    sessions: int
    needed: int
    detail: str = ""
    # Engaged results an online experiment's candidate placed on interleaved lists (exploration).
    explored_clicks: int = 0
    # Click queries trained on (corpus pairs are counted in `pairs`).
    train_queries: int = 0
    eval_queries: int = 0
    corpus_size: int = 0
    dataset_hash: str | None = None
    base_model: str | None = None
    base_version: str | None = None
    champion: ModelScores | None = None
    challenger: ModelScores | None = None
    promoted: bool = False  # passed the guard: an online experiment decides
    p_value: float | None = None
    worse_p_value: float | None = None
    rule: str = ""  # which rule of the guard decided (empty in results stored before the guard)
    registered_version: str | None = None
    best_params: dict[str, float | int] | None = None
    trials_completed: int = 0
    trials_pruned: int = 0
    mlflow_run_id: str | None = None
    benchmark: BenchmarkScores | None = None
    # The sources' weights the task used, the pairs it trained on by kind (clicks: one per positive;
    # title, inverse_cloze, crop: corpus pairs), and what judged the challenger: held-out "clicks", or
    # held-out objects' spans ("corpus") when no click was held out.
    sources: Sources | None = None
    pairs: dict[str, int] = msgspec.field(default_factory=dict)
    evaluated_on: Literal["clicks", "corpus"] | None = None
