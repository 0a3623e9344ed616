"""The challenger's sanity check on its embeddings of distinct texts, and the fixed text sample."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from functions.records import EvalQuery, TrainingSet
from jobs.training.sanity import embedding_problem, sample_texts


def random_unit(n: int, dim: int = 384, seed: int = 7) -> npt.NDArray[np.float32]:
    rows = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return np.asarray(rows / np.linalg.norm(rows, axis=1, keepdims=True), dtype=np.float32)


def test_distinct_directions_pass() -> None:
    assert embedding_problem(random_unit(64)) is None
    # Unnormalised and sharing a common component (mean cosine about 0.5), as real encoders do: it passes.
    shared = random_unit(64) + random_unit(1, seed=1)
    assert embedding_problem(3.0 * shared) is None
    assert embedding_problem(random_unit(1)) is None  # one text: nothing to compare


def test_collapsed_embeddings_are_a_problem() -> None:
    # Every text on nearly one direction: the mean pairwise cosine is about 0.9999.
    collapsed = random_unit(1, seed=1) + 0.01 * random_unit(64)
    problem = embedding_problem(collapsed)
    assert problem is not None
    assert problem.startswith("collapsed embeddings (mean pairwise cosine 1.000 ≥ 0.98 over 64 texts")
    assert embedding_problem(np.ones((4, 3), dtype=np.float32)) == (
        "collapsed embeddings (mean pairwise cosine 1.000 ≥ 0.98 over 4 texts)"
    )


def test_non_finite_and_zero_vectors_are_problems() -> None:
    rows = random_unit(8)
    rows[2, 5] = np.nan
    rows[6, 0] = np.inf
    assert embedding_problem(rows) == "NaN or infinite values in 2 of 8 embeddings"
    zero = random_unit(8)
    zero[3] = 0.0
    assert embedding_problem(zero) == "zero embeddings for 1 of 8 texts"
    assert embedding_problem(np.zeros((0, 384), dtype=np.float32)) == "no embeddings (shape (0, 384))"


def test_the_sample_is_distinct_spread_and_fixed() -> None:
    corpus = {f"o{i}": [f"text {i:03d}", "same part"] for i in range(100)}
    data = TrainingSet(
        train=[],
        eval_queries=[EvalQuery(query_id="q", query="a query", relevant={"o1": 1.0})],
        corpus=corpus,
        dataset_hash="h",
        session_count=0,
    )
    sample = sample_texts(data, n=10)
    assert len(sample) == len(set(sample)) == 10
    # 102 distinct texts sorted ("a query", "same part", "text 000"…"text 099"); indices 0, 10, 20, …
    assert sample[:3] == ["a query", "text 008", "text 018"]
    assert sample == sample_texts(data, n=10)
    assert sample_texts(data, n=500) == sorted(
        {"a query", "same part", *(f"text {i:03d}" for i in range(100))}
    )
