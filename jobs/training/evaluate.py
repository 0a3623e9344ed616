"""IR metrics of a model on held-out queries, by exact cosine ranking over the given candidates."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from functions.training_records import EvalQuery, ModelScores, TrainingSet

K_NDCG = 10
K_MRR = 10
K_RECALL = 100


def encode(model: Any, texts: Sequence[str], batch_size: int) -> npt.NDArray[np.float32]:
    """Normalised embeddings of `texts` (no progress bar; the caller reports progress)."""
    out = model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(out, dtype=np.float32)


def rankings(
    queries: npt.NDArray[np.float32], corpus: npt.NDArray[np.float32], ids: Sequence[str], k: int
) -> list[list[str]]:
    """The `k` best candidate ids per query, best first (ties broken by candidate order)."""
    k = min(k, len(ids))
    if k == 0:
        return [[] for _ in range(len(queries))]
    scores = queries @ corpus.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return [[ids[j] for j in row] for row in order]


def ndcg(ranked: Sequence[str], gains: dict[str, float], k: int = K_NDCG) -> float:
    """nDCG@k with linear gains (as BEIR and ranx compute it)."""
    dcg = sum(gains.get(doc, 0.0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted((g for g in gains.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def reciprocal_rank(ranked: Sequence[str], gains: dict[str, float], k: int = K_MRR) -> float:
    """1 / rank of the first relevant candidate within the top k, else 0."""
    return next((1.0 / (i + 1) for i, doc in enumerate(ranked[:k]) if gains.get(doc, 0.0) > 0), 0.0)


def recall(ranked: Sequence[str], gains: dict[str, float], k: int = K_RECALL) -> float:
    """Share of the relevant candidates found in the top k."""
    relevant = {doc for doc, g in gains.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def scores_of(runs: Sequence[Sequence[str]], queries: Sequence[EvalQuery]) -> ModelScores:
    """Mean metrics over the queries that have a relevant candidate."""
    judged = [(run, q.relevant) for run, q in zip(runs, queries, strict=True) if any(q.relevant.values())]
    n = max(len(judged), 1)
    return ModelScores(
        ndcg_at_10=sum(ndcg(r, g) for r, g in judged) / n,
        mrr_at_10=sum(reciprocal_rank(r, g) for r, g in judged) / n,
        recall_at_100=sum(recall(r, g) for r, g in judged) / n,
    )


def evaluate_sets(
    model: Any, data: TrainingSet, sets: Sequence[Sequence[EvalQuery]], batch_size: int = 64
) -> list[ModelScores]:
    """nDCG@10, MRR@10 and Recall@100 of `model` on each query set, ranked over data.corpus (encoded
    once for all of them)."""
    ids = list(data.corpus)
    corpus = encode(model, [data.corpus[i] for i in ids], batch_size)
    out = []
    for queries in sets:
        vectors = encode(model, [q.query for q in queries], batch_size)
        out.append(scores_of(rankings(vectors, corpus, ids, K_RECALL), queries))
    return out


def evaluate(model: Any, data: TrainingSet, batch_size: int = 64) -> ModelScores:
    """The scores of `model` on data.eval_queries (the held-out clicks)."""
    return evaluate_sets(model, data, [data.eval_queries], batch_size)[0]
