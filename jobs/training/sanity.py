"""The challenger's sanity check: its embeddings of a fixed sample of distinct texts are finite, non-zero
and not collapsed onto one direction. On a dozen held-out queries a broken model's loss need not be
significant (and NaN scores rank in no defined order), so the guard checks the vectors themselves.

Parity of the TorchScript export against sentence-transformers is checked at deployment
(functions/deployment, `export_parity` / `served_parity`), not here.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from functions.records import TrainingSet

SAMPLE = 64
# Mean pairwise cosine over distinct texts: base all-MiniLM-L6-v2 gives about 0.1-0.3 (a contrastive loss
# spreads texts apart); a collapsed model (every text on nearly one vector, as too high a learning rate
# or MNRL scale can leave it) approaches 1. 0.98 leaves a wide margin above a healthy model, so only a
# collapse is refused, not a catalogue whose sampled texts are alike.
MAX_MEAN_COSINE = 0.98
MIN_NORM = 1e-6  # below it a vector carries no direction (a zero output)


def sample_texts(data: TrainingSet, n: int = SAMPLE) -> list[str]:
    """Up to `n` distinct texts of the set's corpus and held-out queries, spread evenly over them in
    sorted order (the same sample for the same set, whichever model is checked)."""
    pool = sorted({t for texts in data.corpus.values() for t in texts} | {q.query for q in data.eval_queries})
    if len(pool) <= n:
        return pool
    return [pool[i * len(pool) // n] for i in range(n)]


def embedding_problem(vectors: npt.NDArray[np.floating]) -> str | None:
    """What is wrong with a model's (unnormalised) embeddings of distinct texts, one row each, or None."""
    rows = np.asarray(vectors, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[0] == 0:
        return f"no embeddings (shape {rows.shape})"
    bad = int((~np.isfinite(rows)).any(axis=1).sum())
    if bad:
        return f"NaN or infinite values in {bad} of {len(rows)} embeddings"
    norms = np.linalg.norm(rows, axis=1)
    zero = int((norms < MIN_NORM).sum())
    if zero:
        return f"zero embeddings for {zero} of {len(rows)} texts"
    n = len(rows)
    if n < 2:
        return None  # one text: nothing to compare it with
    unit = rows / norms[:, None]
    # Mean of the off-diagonal cosines: the squared norm of the sum counts every pair twice plus n ones.
    mean_cosine = (float(np.square(unit.sum(axis=0)).sum()) - n) / (n * (n - 1))
    if mean_cosine < MAX_MEAN_COSINE:
        return None
    return f"collapsed embeddings (mean pairwise cosine {mean_cosine:.3f} ≥ {MAX_MEAN_COSINE} over {n} texts)"
