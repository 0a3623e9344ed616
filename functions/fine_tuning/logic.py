"""Pure fine-tuning rules: presets with overrides, the TrainingSet from per-query feedback, the plan."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from functions.config import AppConfig, FineTuningPreset
from functions.config.presets import resolve_preset as resolve_preset
from functions.feedback.event_weights import EventWeighing as Weighing
from functions.fine_tuning.messages import Benchmark
from functions.fine_tuning.pairs import Policy, QueryFeedback
from functions.fine_tuning.split import query_id
from functions.records import EvalQuery, Example, TrainingPlan, TrainingSet


def weighing(config: AppConfig) -> Weighing:
    """Event weights and dwell scaling, as the clickstream group configures them."""
    c = config.clickstream
    return Weighing(event_weights=c.event_weights, dwell_full_ms=c.dwell_full_ms, dwell_floor=c.dwell_floor)


def policy(preset: FineTuningPreset) -> Policy:
    """The preset's positive weighting and session negatives, for merge_sessions."""
    return Policy(
        weighting=preset.weighting, negatives=preset.negatives, negatives_depth=preset.negatives_depth
    )


def example(
    fb: QueryFeedback, negatives: Sequence[str], texts: Mapping[str, str], min_weight: float = 0.0
) -> Example | None:
    """One training example from the texts found (objects gone from the collection are left out) and
    the positives weighing at least `min_weight`; None without any such positive text."""
    ranked = [(oid, w) for oid, w in fb.ranked_positives() if w >= min_weight and texts.get(oid)]
    if not ranked:
        return None
    return Example(
        query=fb.query,
        positives=[texts[oid] for oid, _ in ranked],
        positive_weights=[w for _, w in ranked],
        negatives=[texts[oid] for oid in negatives if texts.get(oid)],
    )


def eval_query(fb: QueryFeedback, corpus: Mapping[str, object]) -> EvalQuery | None:
    """A held-out query whose gains are its positive weights, over relevant objects in the corpus."""
    relevant = {oid: w for oid, w in fb.ranked_positives() if oid in corpus}
    if not relevant:
        return None
    return EvalQuery(query_id=query_id(fb.key), query=fb.query, relevant=relevant)


def benchmark_queries(benchmark: Benchmark | None) -> list[EvalQuery]:
    """The benchmark's queries that have a text and a relevant object (grade > 0), by id; a query's
    gains are its grades."""
    if benchmark is None:
        return []
    out = []
    for qid in sorted(benchmark.qrels):
        relevant = {doc: float(grade) for doc, grade in benchmark.qrels[qid].items() if grade > 0}
        if relevant and qid in benchmark.queries:
            out.append(EvalQuery(query_id=qid, query=benchmark.queries[qid], relevant=relevant))
    return out


def dataset_hash(
    train: Sequence[Example], evals: Sequence[EvalQuery], corpus: Mapping[str, list[str]]
) -> str:
    """sha256 over the canonical JSON (sorted keys) of the data."""
    data = {"train": list(train), "eval_queries": list(evals), "corpus": dict(corpus)}
    return hashlib.sha256(msgspec.json.encode(data, order="sorted")).hexdigest()


def training_set(
    train: Sequence[Example],
    evals: Sequence[EvalQuery],
    corpus: Mapping[str, list[str]],
    sessions: int,
    benchmark: Sequence[EvalQuery] = (),
    champion_parts: Mapping[str, Any] | None = None,
) -> TrainingSet:
    """The TrainingSet with its hash (of what trains and gates, not of the benchmark or the stored
    vectors); the corpus sorted by id."""
    ordered = {oid: corpus[oid] for oid in sorted(corpus)}
    return TrainingSet(
        train=list(train),
        eval_queries=list(evals),
        corpus=ordered,
        dataset_hash=dataset_hash(train, evals, ordered),
        session_count=sessions,
        benchmark=list(benchmark),
        champion_parts=None if champion_parts is None else dict(champion_parts),
    )


def plan(
    *,
    task_id: str,
    index: str,
    preset: FineTuningPreset,
    config: AppConfig,
    champion: tuple[str, str] | None,
    seed: int,
) -> TrainingPlan:
    """The TrainingPlan: start from the registered champion when there is one, else the configured model."""
    version, path = champion if champion is not None else (None, config.model.path)
    return TrainingPlan(
        task_id=task_id,
        index=index,
        base_model_path=path,
        base_model_name=config.model.name,
        base_version=version,
        registered_model_name=f"{config.fine_tuning.registered_model_prefix}{index}",
        loss=preset.loss,
        n_trials=preset.n_trials,
        timeout_s=preset.timeout_s,
        search_space=preset.search_space,
        max_seq_length=preset.max_seq_length,
        seed=seed,
        promotion_margin=preset.promotion_margin,
        promotion_max_p=preset.promotion_max_p,
        benchmark_veto=preset.benchmark_veto,
        eval_max_seq_length=config.model.max_seq_length,
        output_dir=f"{config.data_dir}/fine_tuning/{task_id}",
    )
