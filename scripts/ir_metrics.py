"""Ranking metrics over (query -> ranked ids) and graded qrels, and the exact rankings ANN is judged by."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from jobs.training import ir_metrics


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
