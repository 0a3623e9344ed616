"""Ranking metrics over (query -> ranked ids) and graded qrels, and the exact rankings ANN is judged by."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from jobs.training import ir_metrics
from jobs.training.evaluate import best_part_rankings


def mean_ndcg(runs: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> float:
    """Mean nDCG@10 (ranx, linear gains) over the queries that have a relevant judgement."""
    return quality(runs, qrels)["ndcg10"]


def quality(runs: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean nDCG@10, MRR@10 and Recall@100 (ranx) over the queries that have a relevant judgement; a
    judged query missing from `runs` scores 0."""
    judged = {q: {doc: float(g) for doc, g in grades.items()} for q, grades in qrels.items()}
    found = ir_metrics.quality(runs, judged)
    return {"ndcg10": found["ndcg@10"], "mrr10": found["mrr@10"], "recall100": found["recall@100"]}


def recall_at_k(found: list[str], truth: list[str], k: int = 10) -> float:
    """Share of the true top `k` that `found`'s top `k` holds (how ANN search is judged against exact)."""
    wanted = set(truth[:k])
    return len(wanted & set(found[:k])) / len(wanted) if wanted else 1.0


def exact_best_part(
    queries: npt.NDArray[np.float32],
    parts: npt.NDArray[np.float32],
    owners: list[str],
    k: int = 10,
) -> list[list[str]]:
    """Brute-force best_part ranking (the fine-tuning evaluation's own): each object scored by its best
    part's cosine, top `k` objects per query, best first."""
    return best_part_rankings(queries, parts, owners, k)
