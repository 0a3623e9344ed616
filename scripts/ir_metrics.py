"""Ranking metrics over (query -> ranked ids) and graded qrels."""

from __future__ import annotations

import math


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
