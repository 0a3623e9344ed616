"""Export a sentence-transformers folder to a traced TorchScript encoder (the one place torch is used).

`export_model(source_dir, out_dir, ...)` writes model.pt (input_ids, attention_mask → pooled, L2-normalised
float32 embedding; dynamic batch and sequence length), the tokenizer, and parity.npz (the parity texts
and their sentence-transformers embeddings), and refuses an export whose min cosine over those texts is
below `min_parity`. It also writes the ONNX query model (jobs/embedding/query_export.py) from the same
loaded model, so queries can skip Triton; a query model that fails its own gate is left out, and the
version serves queries through Triton. torch warns that jit.trace is deprecated for torch.export:
keeping the exporter behind this one function is what lets it change.
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jobs.triton.parity_texts import parity_texts
from jobs.triton.repository import ExportResult
from jobs.triton.tokenizer import TOKENIZER_DIR, BatchTokenizer, TokenizerSettings

MODEL_FILE = "model.pt"
PARITY_FILE = "parity.npz"
log = logging.getLogger("embedloop")


class ExportError(RuntimeError):
    """The source cannot be exported, or its export does not match sentence-transformers."""


class Encoder(torch.nn.Module):
    """transformer → pooling (mean, cls or max, as the Pooling module says) → L2 normalisation."""

    def __init__(self, transformer: Any, pooling: str) -> None:
        super().__init__()
        self.transformer = transformer
        self.pooling = pooling

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # A ready 4-d mask (batch, 1, 1, seq; True attends): transformers' own mask building, traced,
        # bakes CPU tensors into the graph, which then fails on a GPU (seen with libtorch on an H200).
        keep = attention_mask[:, None, None, :].to(torch.bool)
        tokens = self.transformer(input_ids=input_ids, attention_mask=keep, return_dict=False)[0]
        mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
        if self.pooling == "cls":
            pooled = tokens[:, 0]
        elif self.pooling == "max":
            pooled = tokens.masked_fill(mask == 0, -1e9).max(dim=1).values
        else:
            pooled = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled.float(), p=2.0, dim=1)


def load_model(source_dir: Path) -> Any:
    """The sentence-transformers model of a folder, on CPU with sdpa attention (ExportError if not)."""
    from sentence_transformers import SentenceTransformer

    if not (source_dir / "modules.json").is_file():
        raise ExportError(f"{source_dir} is not a sentence-transformers folder (no modules.json)")
    try:  # str: a Path object fails in sentence-transformers 6.2
        kwargs = {"attn_implementation": "sdpa"}  # eager attention is 1.3-1.6x slower once traced
        return SentenceTransformer(str(source_dir), device="cpu", model_kwargs=kwargs)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ExportError(f"cannot load {source_dir}: {exc}") from exc


def pooling_mode(model: Any) -> str:
    """The pooling of a Transformer, Pooling[, Normalize] stack (ExportError for any other stack)."""
    modules = list(model)
    names = [type(m).__name__ for m in modules]
    if names[:2] != ["Transformer", "Pooling"] or any(n != "Normalize" for n in names[2:]):
        raise ExportError(f"unsupported module stack {names}: Transformer, Pooling[, Normalize] only")
    mode = str(getattr(modules[1], "pooling_mode", "mean"))
    if mode not in {"mean", "cls", "max"}:
        raise ExportError(f"unsupported pooling mode {mode!r}")
    return mode


def tokenizer_settings(model: Any) -> TokenizerSettings:
    """How the runtime tokenizer must truncate, pad and case texts to match the model."""
    return TokenizerSettings(
        max_seq_length=int(model.max_seq_length),
        pad_token=str(model.tokenizer.pad_token),
        do_lower_case=bool(getattr(model[0], "do_lower_case", False)),
    )


def save_tokenizer(model: Any, out: Path) -> TokenizerSettings:
    """Write the model's tokenizer into `out`/tokenizer (unless there) and return how it is used."""
    if not (out / TOKENIZER_DIR / "tokenizer.json").is_file():
        model.tokenizer.save_pretrained(str(out / TOKENIZER_DIR))
    if not (out / TOKENIZER_DIR / "tokenizer.json").is_file():
        raise ExportError(f"{out} has no fast tokenizer (tokenizer.json) for the model to use")
    return tokenizer_settings(model)


def reference_vectors(model: Any, texts: list[str]) -> np.ndarray:
    """sentence-transformers' own normalised float32 vectors of `texts`: what an export must match."""
    vectors = model.encode(texts, batch_size=16, normalize_embeddings=True, convert_to_numpy=True)
    return np.asarray(vectors, dtype=np.float32)


def _trace(encoder: Encoder, tokenizer: BatchTokenizer) -> Any:
    # Example inputs of two lengths with padding, so the trace keeps the masking path general.
    ids, mask = tokenizer.encode(["a short text", "a somewhat longer text with more tokens in it"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # jit.trace's deprecation and tracer warnings
        example = (torch.from_numpy(ids), torch.from_numpy(mask))
        traced = torch.jit.trace(encoder, example, check_trace=False)  # type: ignore[no-untyped-call]
    # Not frozen: a frozen module's weights are constants, which the libtorch backend cannot move to a GPU.
    return traced


def _embed(traced: Any, tokenizer: BatchTokenizer, texts: list[str], batch: int = 16) -> np.ndarray:
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch):
            ids, mask = tokenizer.encode(texts[start : start + batch])
            out.append(traced(torch.from_numpy(ids), torch.from_numpy(mask)).numpy())
    return np.concatenate(out).astype(np.float32)


def _query_model(model: Any, out: Path, min_parity: float, parity_vectors: np.ndarray) -> None:
    # Imported here: that module builds on this one's helpers.
    from jobs.embedding.query_export import write_query_model

    try:
        write_query_model(model, out, min_parity=min_parity, parity_vectors=parity_vectors)
    except (OSError, RuntimeError, ValueError) as exc:  # Triton serves this version's queries instead
        log.warning("no ONNX query model in %s: %s", out, exc)


def export_model(source_dir: str, out_dir: str, *, min_parity: float = 0.9999) -> ExportResult:
    """Write model.pt, tokenizer/ and parity.npz of `source_dir` into `out_dir` (which must exist)."""
    began = time.monotonic()
    source, out = Path(source_dir), Path(out_dir)
    model = load_model(source)
    model.eval()
    pooling = pooling_mode(model)
    settings = save_tokenizer(model, out)
    tokenizer = BatchTokenizer(out / TOKENIZER_DIR, settings)
    traced = _trace(Encoder(model[0].auto_model, pooling).eval(), tokenizer)
    torch.jit.save(traced, str(out / MODEL_FILE))
    texts = parity_texts()
    expected = reference_vectors(model, texts)
    served = torch.jit.load(str(out / MODEL_FILE))  # type: ignore[no-untyped-call]
    got = _embed(served, tokenizer, texts)  # the saved file, as Triton loads it
    parity = float(np.min(np.sum(expected * got, axis=1)))
    if not parity >= min_parity:
        raise ExportError(f"export parity {parity:.6f} < {min_parity}: TorchScript differs from the model")
    np.savez(out / PARITY_FILE, texts=np.asarray(texts), embeddings=expected)
    _query_model(model, out, min_parity, expected)
    return ExportResult(
        dim=int(expected.shape[1]),
        tokenizer=settings,
        parity_texts=len(texts),
        export_parity=parity,
        seconds=time.monotonic() - began,
    )
