"""The rankings the experiment bench replays: each model's top 10 for every query of the catalogue, by
exact best-part search over the corpus chunked as the upsert task chunks it (sim/ir_metrics.py)."""

from __future__ import annotations

from typing import Any

from jobs.bootstrap import load_config
from jobs.embedding.model_paths import resolve_model_path
from sim.ir_metrics import exact_best_part


def load(path: str, threads: int) -> Any:
    """A sentence-transformers model from a folder, on the CPU."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    config = load_config()
    model = SentenceTransformer(str(resolve_model_path(path)), device="cpu")
    model.max_seq_length = min(config.model.max_seq_length, model.max_seq_length or 512)
    return model


def perturbed(path: str, scale: float, threads: int, seed: int = 7) -> Any:
    """The model at `path` with Gaussian noise of `scale` times each weight's spread added to the output
    layer of every transformer block: a model that is worse at ranking, by an amount the bench measures
    (noise on the last blocks only left it as good or better)."""
    import torch

    model = load(path, threads)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model[0].auto_model.encoder.layer:
            for p in layer.output.dense.parameters():
                p.add_(torch.randn(p.shape, generator=generator) * scale * float(p.std()))
    return model


def rankings(
    model: Any, chunks: list[str], owners: list[str], queries: dict[str, str]
) -> dict[str, list[str]]:
    """Each query's top 10 object ids under `model`."""
    kw = {
        "batch_size": load_config().model.batch_size,
        "normalize_embeddings": True,
        "show_progress_bar": False,
    }
    parts = model.encode(chunks, **kw)
    ids = list(queries)
    embedded = model.encode([queries[q] for q in ids], **kw)
    return dict(zip(ids, exact_best_part(embedded, parts, owners, k=10), strict=True))
