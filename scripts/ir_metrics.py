"""Ranking metrics over (query -> ranked ids) and graded qrels, and the exact rankings ANN is judged by."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt


def ndcg_at_k(ranked: list[str], grades: dict[str, int], k: int = 10) -> float:
    """nDCG@k with linear gains (as BEIR and ranx compute it)."""
    dcg = sum(grades.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def mean_ndcg(runs: dict[str, list[str]], qrels: dict[str, dict[str, int]], k: int = 10) -> float:
    """Mean nDCG@k over the queries that have judgements."""
    scores = [ndcg_at_k(runs.get(q, []), grades, k) for q, grades in qrels.items() if grades]
    return sum(scores) / len(scores) if scores else 0.0


def quality(runs: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean nDCG@10, MRR@10 (first relevant result) and Recall@100 over the judged queries."""
    judged = [q for q, grades in qrels.items() if any(g > 0 for g in grades.values())]
    if not judged:
        return {"ndcg10": 0.0, "mrr10": 0.0, "recall100": 0.0}

    def mrr(ranked: list[str], grades: dict[str, int]) -> float:
        return next((1 / (i + 1) for i, doc in enumerate(ranked[:10]) if grades.get(doc, 0) > 0), 0.0)

    def recall(ranked: list[str], grades: dict[str, int]) -> float:
        relevant = {doc for doc, g in grades.items() if g > 0}
        return len(relevant & set(ranked[:100])) / len(relevant)

    n = len(judged)
    return {
        "ndcg10": sum(ndcg_at_k(runs.get(q, []), qrels[q], 10) for q in judged) / n,
        "mrr10": sum(mrr(runs.get(q, []), qrels[q]) for q in judged) / n,
        "recall100": sum(recall(runs.get(q, []), qrels[q]) for q in judged) / n,
    }


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
    """Brute-force best_part ranking: each object scored by its best part's cosine (normalised
    vectors: the dot product), top `k` objects per query, best first."""
    order = np.argsort(np.asarray(owners), kind="stable")
    ids = [owners[i] for i in order]
    starts = [i for i in range(len(ids)) if i == 0 or ids[i] != ids[i - 1]]
    objects = [ids[i] for i in starts]
    scores = np.asarray(queries, dtype=np.float32) @ np.asarray(parts, dtype=np.float32)[order].T
    best = np.maximum.reduceat(scores, starts, axis=1)  # (queries, objects): max over each object's parts
    k = min(k, len(objects))
    if k == 0:
        return [[] for _ in range(len(best))]
    head = np.argpartition(-best, k - 1, axis=1)[:, :k]  # the k best, unordered: no full sort of a big corpus
    ranked = np.take_along_axis(head, np.argsort(-np.take_along_axis(best, head, axis=1), axis=1), axis=1)
    return [[objects[j] for j in row] for row in ranked]
