"""The web process's query embedder against the model it stands for, over the parity texts."""

from __future__ import annotations

import numpy as np

from functions.context import Context
from jobs.embedding.model_paths import resolve_model_path
from jobs.triton.parity_texts import parity_texts


async def query_parity(ctx: Context) -> float:
    """Min cosine between the configured query runtime's vectors (one query at a time, then one batch)
    and sentence-transformers' own for the base model: what every index starts from."""
    from sentence_transformers import SentenceTransformer

    texts = parity_texts()
    cfg = ctx.config.model
    model = SentenceTransformer(resolve_model_path(cfg.path), device="cpu")
    model.max_seq_length = min(cfg.max_seq_length, model.max_seq_length or 512)
    reference = np.asarray(
        model.encode([cfg.query_prefix + t for t in texts], normalize_embeddings=True), dtype=np.float32
    )
    embedder = ctx.embedders.default
    one_by_one = np.concatenate([await embedder.embed_queries([t]) for t in texts])
    batched = await embedder.embed_queries(texts)
    return float(min(np.sum(one_by_one * reference, axis=1).min(), np.sum(batched * reference, axis=1).min()))
