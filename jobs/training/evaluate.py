"""IR metrics of a model on held-out queries, by exact cosine ranking over the given candidates."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

from functions.records import EvalQuery, ModelScores, TrainingSet
from jobs.training import ir_metrics

K_RANKED = 100  # deepest cut a metric reads (Recall@100)


class Evaluation:
    """One model's rankings of a query set and their scores; the guard compares two of them per query."""

    def __init__(
        self, queries: Sequence[EvalQuery], ranked: dict[str, list[str]], corpus: EncodedCorpus | None = None
    ) -> None:
        self.judged = {q.query_id: q.relevant for q in queries}
        self.ranked = ranked
        self.scores = scores_of(ranked, self.judged)
        self.corpus = corpus  # what it was ranked over, when known

    def p_value_against(self, champion: Evaluation, seed: int) -> float:
        """How likely a difference in nDCG@10 at least this large is between `champion` and this
        evaluation of the same queries if the two models were equally good (paired randomisation)."""
        return ir_metrics.p_value(champion.ranked, self.ranked, self.judged, seed=seed)

    def worse_p_against(self, champion: Evaluation, seed: int) -> float:
        """The one-sided p-value that this evaluation is worse than `champion` on nDCG@10: the same
        paired test with the roles swapped (what the guard refuses on)."""
        return ir_metrics.p_value(self.ranked, champion.ranked, self.judged, seed=seed)


def encode(
    model: Any, texts: Sequence[str], batch_size: int, normalize: bool = True
) -> npt.NDArray[np.float32]:
    """Embeddings of `texts`, normalised unless told not to (no progress bar: the caller reports it)."""
    out = model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=normalize,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(out, dtype=np.float32)


def best_part_rankings(
    queries: npt.NDArray[np.float32],
    parts: npt.NDArray[np.float32],
    owners: Sequence[str],
    k: int,
    block: int = 256,
) -> list[list[str]]:
    """The `k` best objects per query, best first, each object scored by its best part's cosine
    (normalised vectors: the dot product), as search ranks; `owners[i]` is the object of `parts[i]`.
    Queries go in blocks of `block`, so the score matrix stays small on a large corpus."""
    order = np.argsort(np.asarray(owners), kind="stable")
    ids = [owners[i] for i in order]
    starts = [i for i in range(len(ids)) if i == 0 or ids[i] != ids[i - 1]]
    objects = [ids[i] for i in starts]
    k = min(k, len(objects))
    if k == 0:
        return [[] for _ in range(len(queries))]
    grouped = np.asarray(parts, dtype=np.float32)[order]
    out: list[list[str]] = []
    for first in range(0, len(queries), block):
        scores = np.asarray(queries[first : first + block], dtype=np.float32) @ grouped.T
        best = np.maximum.reduceat(scores, starts, axis=1)  # (queries, objects): max over each one's parts
        head = np.argpartition(-best, k - 1, axis=1)[:, :k]  # the k best, unordered: no full sort
        # Best first; equal scores by object order (lexsort's last key is the primary one).
        for row, scored in zip(head, np.take_along_axis(best, head, axis=1), strict=True):
            out.append([objects[j] for j in row[np.lexsort((row, -scored))]])
    return out


def scores_of(ranked: dict[str, list[str]], judged: dict[str, dict[str, float]]) -> ModelScores:
    """Mean metrics (ranx) over the queries that have a relevant candidate."""
    found = ir_metrics.quality(ranked, judged)
    return ModelScores(
        ndcg_at_10=found["ndcg@10"], mrr_at_10=found["mrr@10"], recall_at_100=found["recall@100"]
    )


class EncodedCorpus:
    """Every part of a TrainingSet's corpus embedded by one model, at one length: what that model's
    rankings are computed over. Kept with an epoch's evaluation, so scoring the same weights on more
    queries later (the benchmark) embeds only those queries, not the corpus again."""

    def __init__(
        self, parts: npt.NDArray[np.float32], data: TrainingSet, batch_size: int, max_seq_length: int | None
    ) -> None:
        self.owners = [oid for oid, texts in data.corpus.items() for _ in texts]
        if len(parts) != len(self.owners):
            raise ValueError(f"{len(parts)} part vectors for {len(self.owners)} parts")
        self.parts = parts
        self.max_seq_length = max_seq_length
        self.batch_size = batch_size

    @classmethod
    def embedded(
        cls, model: Any, data: TrainingSet, batch_size: int = 64, max_seq_length: int | None = None
    ) -> EncodedCorpus:
        """data.corpus embedded by `model` at `max_seq_length` (when given)."""
        with at_length(model, max_seq_length):
            texts = [text for texts in data.corpus.values() for text in texts]
            return cls(encode(model, texts, batch_size), data, batch_size, max_seq_length)

    @classmethod
    def stored(
        cls, data: TrainingSet, batch_size: int = 64, max_seq_length: int | None = None
    ) -> EncodedCorpus | None:
        """data.corpus as the champion embedded it (data.champion_parts, normalised here as `encode`
        normalises), or None when the set holds no such vectors for every part."""
        stored = data.champion_parts
        if stored is None or any(len(stored.get(oid, ())) != len(t) for oid, t in data.corpus.items()):
            return None
        rows = [np.asarray(stored[oid], dtype=np.float32) for oid in data.corpus]
        parts = np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32)
        norms = np.linalg.norm(parts, axis=1, keepdims=True)
        return cls(parts / np.maximum(norms, 1e-12), data, batch_size, max_seq_length)

    def evaluate(self, model: Any, queries: Sequence[EvalQuery]) -> Evaluation:
        """`model`'s ranking of `queries` over these parts (the model must be the one that embedded
        them) and its scores."""
        with at_length(model, self.max_seq_length):
            vectors = encode(model, [q.query for q in queries], self.batch_size)
        ranked = best_part_rankings(vectors, self.parts, self.owners, K_RANKED)
        return Evaluation(queries, {q.query_id: r for q, r in zip(queries, ranked, strict=True)}, self)


@contextmanager
def at_length(model: Any, max_seq_length: int | None) -> Iterator[None]:
    """Embed (or save) at `max_seq_length` (the serving length; a preset may train shorter) when
    given; the model's own length is restored after."""
    trained_at = model.max_seq_length
    if max_seq_length is not None:
        model.max_seq_length = max_seq_length
    try:
        yield
    finally:
        model.max_seq_length = trained_at


def evaluations(
    model: Any,
    data: TrainingSet,
    sets: Sequence[Sequence[EvalQuery]],
    batch_size: int = 64,
    max_seq_length: int | None = None,
) -> list[Evaluation]:
    """`model`'s rankings and scores on each query set, ranked over data.corpus by each object's best
    part (every part encoded once for all sets), embedding at `max_seq_length` when given."""
    corpus = EncodedCorpus.embedded(model, data, batch_size, max_seq_length)
    return [corpus.evaluate(model, queries) for queries in sets]


def evaluate_sets(
    model: Any, data: TrainingSet, sets: Sequence[Sequence[EvalQuery]], batch_size: int = 64
) -> list[ModelScores]:
    """nDCG@10, MRR@10 and Recall@100 of `model` on each query set, ranked over data.corpus."""
    return [e.scores for e in evaluations(model, data, sets, batch_size)]


def evaluate(model: Any, data: TrainingSet, batch_size: int = 64) -> ModelScores:
    """The scores of `model` on data.eval_queries (the held-out clicks)."""
    return evaluate_sets(model, data, [data.eval_queries], batch_size)[0]
