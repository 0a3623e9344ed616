"""Records fine-tuning speaks across the Trainer port: the training data, the plan, the outcome.

The fine-tuning stage builds a TrainingSet and a TrainingPlan; the Trainer adapter (jobs/training)
runs the study and answers a TrainingOutcome. Both sides import this module, never each other.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from functions.structs import Struct

# Where a training example comes from: a query users clicked on, or a pair the corpus itself gives
# (functions/fine_tuning/corpus_pairs.py): a title and its body, a span and the rest of its object
# (inverse cloze), two crops of one object.
ExampleKind = Literal["clicks", "title", "inverse_cloze", "crop"]


class Example(Struct, frozen=True, kw_only=True):
    """One training query (for a corpus pair: the anchor text) and its positives."""

    query: str
    positives: list[str]  # texts (stored chunks) of clicked items, best first
    positive_weights: list[float]  # same length as positives
    negatives: list[str]  # texts of session negatives + mined hard negatives (false negatives removed)
    kind: ExampleKind = "clicks"


class CorpusObject(Struct, frozen=True, kw_only=True):
    """One stored object as corpus adaptation reads it: its text fields (a dict content; empty for a
    plain-text one) and the text that was rendered and embedded."""

    object_id: str
    fields: dict[str, str]
    text: str


class EvalQuery(Struct, frozen=True, kw_only=True):
    """One held-out query and the gains of its relevant objects."""

    query_id: str
    query: str
    relevant: dict[str, float]  # object_id -> gain (clicked items, weighted)


class TrainingSet(Struct, frozen=True, kw_only=True):
    """What a run trains and evaluates on."""

    train: list[Example]
    eval_queries: list[EvalQuery]
    # object_id -> its stored parts (chunks) in order: the candidates both models rank, each object
    # scored by its best part, as search scores it.
    corpus: dict[str, list[str]]
    dataset_hash: str  # sha256 over the canonical JSON of the above
    session_count: int
    # Judged queries of a benchmark (a BEIR split's qrels), ranked over the same corpus: scored for the
    # champion and the final challenger only, never during the study (no tuning on the test set).
    benchmark: list[EvalQuery] = msgspec.field(default_factory=list)
    # object_id -> the champion's vectors of its parts (a float32 array, a row per part), when the
    # collection was embedded by the champion: its pre-feedback stored vectors, so the champion's
    # evaluation reads the corpus instead of embedding it again (a minute of a CPU task on Cranfield).
    champion_parts: dict[str, Any] | None = None


class SearchSpace(Struct, frozen=True, kw_only=True):
    """Ranges the study samples hyper-parameters from."""

    learning_rate: tuple[float, float]  # log-uniform
    epochs: list[int]
    batch_size: list[int]
    warmup_ratio: tuple[float, float]
    scale: tuple[float, float]  # MNRL scale (temperature inverse)


class TrainingPlan(Struct, frozen=True, kw_only=True):
    """Everything a Trainer needs besides the data."""

    task_id: str
    index: str
    # A sentence-transformers directory (or "pkg:<module>", see
    # jobs/stores/local_embedder.resolve_model_path).
    base_model_path: str
    base_model_name: str
    base_version: str | None  # registered MLflow version of the champion, if any
    registered_model_name: str  # e.g. f"embedloop-{index}"
    loss: Literal["mnrl", "cached_mnrl"]
    n_trials: int
    timeout_s: float
    search_space: SearchSpace
    max_seq_length: int  # while training
    seed: int
    # No longer decides anything: the guard (jobs/training/guard.py) asks for no gain, only for no
    # significant loss. Kept so presets and overrides that set it still validate.
    promotion_margin: float
    # The guard's significance level: a challenger with a lower held-out nDCG@10 whose one-sided paired
    # randomisation test of "worse" gives p <= this is refused (1.0: any lower mean is refused).
    promotion_max_p: float
    output_dir: str  # scratch dir for checkpoints (under config.data_dir)
    # With a benchmark, the same test on its judged queries may refuse the challenger too.
    benchmark_veto: bool = True
    # Both models are evaluated at the length search embeds with (conf/model), whatever they train at.
    eval_max_seq_length: int = 256


class ModelScores(Struct, frozen=True, kw_only=True):
    """IR metrics of one model on the eval queries."""

    ndcg_at_10: float
    mrr_at_10: float
    recall_at_100: float


class TrainingOutcome(Struct, frozen=True, kw_only=True):
    """What a finished study produced."""

    best_params: dict[str, float | int]
    trials_completed: int
    trials_pruned: int
    champion: ModelScores
    challenger: ModelScores
    # Passed the guard (not broken, not significantly worse): an online experiment decides the rest.
    promoted: bool
    p_value: float  # one-sided paired test that the challenger beats the champion on held-out nDCG@10
    model_dir: str | None  # the best model saved locally
    registered_version: str | None  # set only when registered (challenger alias)
    mlflow_run_id: str | None
    benchmark_champion: ModelScores | None = None  # on TrainingSet.benchmark, when it has queries
    benchmark_challenger: ModelScores | None = None
    rule: str = ""  # the guard's rule that decided, e.g. "worse on held-out clicks (…)"
    worse_p_value: float | None = None  # the same test the other way: the challenger is worse
