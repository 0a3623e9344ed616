"""Fine-tuning presets and the stage's own limits."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from functions.config.bounds import Fraction, NonNegFloat, PositiveInt
from functions.records import SearchSpace
from functions.structs import Struct

# How a clicked object's weight is read from its sessions, and where session negatives come from
# (functions/fine_tuning/pairs.py).
Weighting = Literal["sum", "ips"]
NegativesMode = Literal["skipped_above", "unclicked", "none"]


class Sources(Struct, frozen=True, kw_only=True):
    """What a fine-tuning task trains on, as relative weights (functions/fine_tuning/corpus_pairs.py
    `corpus_budget`). clicks: the index's feedback sessions. corpus: pairs made from the stored objects
    themselves (domain adaptation; needs no click). 0 leaves a source out; with both above 0, the corpus
    gives `corpus / clicks` pairs per click pair (at most corpus.max_pairs)."""

    corpus: NonNegFloat = 0.0
    clicks: NonNegFloat = 1.0


class CorpusPolicy(Struct, frozen=True, kw_only=True):
    """How corpus pairs are sampled from an index's stored objects."""

    # At most this many pairs per task: an index of any size is sampled, never paired whole.
    max_pairs: PositiveInt
    # At most this many pairs from one object (pairs are taken one per object per round, so a small
    # budget spreads over as many objects as it can).
    per_object: PositiveInt
    # Inverse cloze: the share of pairs whose context keeps the span in place (a little lexical
    # overlap teaches the model that a passage containing the words is relevant, as a search hit is).
    keep_span_share: Fraction
    # A span, title or crop shorter than this many words is not an anchor.
    min_words: PositiveInt
    # The context of a span (and a crop) is at most this many words around it: about the model's
    # token window, so a long object gives a passage the model reads whole.
    context_words: PositiveInt
    # Without held-out clicks to judge by, this many held-out objects' spans are the evaluation
    # queries (each relevant to its own object), from objects no training pair comes from.
    eval_queries: PositiveInt


class FineTuningPreset(Struct, frozen=True, kw_only=True):
    """One fine-tuning preset (conf/fine_tuning/default.yaml `presets`, which says why each preset's
    values are what they are); a task's `overrides` are laid over one and validated into this."""

    # Fewer usable (relevant, clicked) sessions than this: the task ends "not_enough_feedback".
    min_sessions: PositiveInt
    # Share of distinct queries held out for evaluation (split by query, from the seed).
    eval_fraction: Annotated[float, Meta(gt=0, lt=1)]
    hard_negatives_per_query: Annotated[int, Meta(ge=0, le=100)]
    max_negatives_per_example: Annotated[int, Meta(ge=0, le=200)]
    # A clicked object trains as a positive only when its weight (see `weighting`) reaches this; a
    # lighter one (a stray, short click) is left out of training but is never a negative either.
    # 0 keeps every positive.
    min_positive_weight: NonNegFloat
    # sum: clickstream event weights × dwell factor, added up over the query's sessions (grows with
    # traffic, noise included). ips: that sum ÷ expected examinations (Σ over the sessions that showed
    # the object of 1/rank, at least 1): a position-bias-corrected click rate, so min_positive_weight is
    # a rate (0.1 ≈ one click in ten looks).
    weighting: Weighting
    # Session negatives. skipped_above: shown above the last click of the session and not engaged.
    # unclicked: shown at rank <= negatives_depth in some session of the query and named by no event of
    # any session of it. none: only mined hard negatives (and in-batch ones). A positive never is one.
    negatives: NegativesMode
    negatives_depth: Annotated[int, Meta(ge=1, le=1000)]
    # Eval corpus: every object up to this many; beyond, relevant ∪ hard negatives ∪ a fixed sample.
    eval_corpus_limit: PositiveInt
    # Relative: the challenger's held-out nDCG@10 must reach the champion's × (1 + this), and beat it...
    promotion_margin: NonNegFloat
    # ...and the gain is unlikely to be chance: the one-sided Fisher randomisation test of the per-query
    # nDCG@10 differences on the held-out queries gives at most this p-value (1.0: no test).
    promotion_max_p: Annotated[float, Meta(gt=0, le=1)]
    # With a task `benchmark` (judged queries), a challenger below the champion's nDCG@10 on it is not
    # promoted, whatever the held-out clicks say (they only judge what the champion showed).
    benchmark_veto: bool
    loss: Literal["mnrl", "cached_mnrl"]
    n_trials: PositiveInt
    timeout_s: Annotated[float, Meta(gt=0)]
    max_seq_length: PositiveInt
    seed: int
    search_space: SearchSpace
    # Training sources and their weights (a task's `sources` replace them), and the corpus sampling.
    sources: Sources
    corpus: CorpusPolicy


class FineTuningConfig(Struct, frozen=True, kw_only=True):
    """conf/fine_tuning/default.yaml: presets, and limits on what one task reads."""

    presets: dict[str, FineTuningPreset]
    default_preset: str
    max_sessions: PositiveInt
    session_page: PositiveInt
    text_max_chars: PositiveInt
    registered_model_prefix: str
    # None: embedder.torch_threads.
    torch_threads: PositiveInt | None
