"""Export a sentence-transformers folder to the query model jobs/embedding/query_encoder.py runs.

Imports torch: only the local embedder (in its executor) and the Triton export import it, by name.
The encoder wrapper, loading, pooling check and tokenizer settings are the Triton export's, so both
files compute the same function. Parity is measured through QueryEncoder itself (the runtime path:
its tokenizer, its longest-first batches of mixed length, single texts, a text past the window).
float32 ONNX must pass the gate; dynamic int8 and (where the CPU has native bf16) bf16 products are
tried, and of the files that pass, the one that embedded a timing round fastest here is served.
query_model.json is written last.
"""

from __future__ import annotations

import contextlib
import logging
import os
import statistics
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import torch

from functions.records import Vectors
from jobs.embedding.bf16_export import native_bf16, write_bf16
from jobs.embedding.query_encoder import (
    BF16_FILE,
    FP32_FILE,
    INT8_FILE,
    QUERY_MANIFEST,
    Precision,
    QueryEncoder,
    QueryModelManifest,
    runner,
)
from jobs.triton.export import (
    Encoder,
    ExportError,
    load_model,
    pooling_mode,
    reference_vectors,
    save_tokenizer,
)
from jobs.triton.parity_texts import parity_texts
from jobs.triton.tokenizer import TOKENIZER_DIR, BatchTokenizer, TokenizerSettings

log = logging.getLogger("embedloop")
# Longer than any window: the parity covers truncation at max_seq_length.
LONG_TEXT = " ".join(["A long query about laminar flow that the model window must cut."] * 60)
INPUTS = ("input_ids", "attention_mask")


def _to_onnx(encoder: Encoder, tokenizer: BatchTokenizer, path: Path) -> None:
    # Example inputs of two lengths with padding, so the trace keeps the masking path general.
    ids, mask = tokenizer.encode(["a short text", "a somewhat longer text with more tokens in it"])
    dynamic = {name: {0: "batch", 1: "sequence"} for name in INPUTS}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer warnings
        torch.onnx.export(
            encoder,
            (torch.from_numpy(ids), torch.from_numpy(mask)),
            str(path),
            input_names=list(INPUTS),
            output_names=["embedding"],
            dynamic_axes={**dynamic, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,  # the torch.export-based exporter needs onnxscript, which is not installed
        )


def _encoder(path: Path, tokenizer: BatchTokenizer, dim: int) -> QueryEncoder:
    return QueryEncoder(runner(path, torch.get_num_threads()), tokenizer, dim)


def _parity(encoder: QueryEncoder, expected: Vectors, texts: list[str]) -> float:
    """Min cosine of `encoder`'s vectors vs `expected`: all texts in batches of mixed length, then every
    tenth and the last (the long one) alone, unpadded."""
    batched = float(np.min(np.sum(expected * encoder.encode(texts, batch_size=16), axis=1)))
    alone = [*range(0, len(texts) - 1, 10), len(texts) - 1]
    single = np.concatenate([encoder.encode([texts[i]]) for i in alone])
    return min(batched, float(np.min(np.sum(expected[alone] * single, axis=1))))


def _timing_ms(encoder: QueryEncoder, texts: list[str], rounds: int = 5) -> float:
    """Median milliseconds of one round: eight texts as one batch, then one text alone (what a search
    process embeds: coalesced concurrent queries, and a lone query)."""
    batch = texts[:8]

    def one_round() -> float:
        began = time.perf_counter()
        encoder.encode(batch)
        encoder.encode(batch[:1])
        return (time.perf_counter() - began) * 1000

    one_round()  # the first call of a session or a TorchScript module pays its set-up
    return statistics.median(one_round() for _ in range(rounds))


def _write_int8(out: Path) -> bool:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(out / FP32_FILE), str(out / INT8_FILE), weight_type=QuantType.QInt8)
    except (OSError, RuntimeError, ValueError) as exc:  # the fp32 file still serves
        log.warning("int8 quantisation of %s failed: %s", out, exc)
        return False
    return True


def _write_bf16(model: Any, out: Path, tokenizer: BatchTokenizer) -> bool:
    if not native_bf16():
        return False  # emulated bf16 is slower than float32: not worth the trace
    try:
        write_bf16(model, pooling_mode(model), tokenizer, out / BF16_FILE)
    except (OSError, RuntimeError, ValueError) as exc:  # the ONNX files still serve
        log.warning("bf16 query model of %s failed: %s", out, exc)
        return False
    return True


def _tried(
    path: Path, tokenizer: BatchTokenizer, expected: Vectors, texts: list[str]
) -> tuple[float, QueryEncoder] | None:
    """The parity of a faster file and its encoder (kept for the timing), or None when it cannot run."""
    try:
        encoder = _encoder(path, tokenizer, int(expected.shape[1]))
        return _parity(encoder, expected, texts), encoder
    except (OSError, RuntimeError, ValueError) as exc:  # the fp32 file still serves
        log.warning("query model file %s cannot run: %s", path, exc)
        return None


def _measured(
    model: Any,
    out: Path,
    settings: TokenizerSettings,
    min_parity: float,
    known: Vectors | None,
    began: float,
) -> QueryModelManifest:
    """Write query.onnx and the faster files that pass; measure each; the manifest of the fastest.
    `known`: the model's vectors of the parity texts, when the caller has them already."""
    tokenizer = BatchTokenizer(out / TOKENIZER_DIR, settings)
    _to_onnx(Encoder(model[0].auto_model, pooling_mode(model)).eval(), tokenizer, out / FP32_FILE)
    texts = [*parity_texts(), LONG_TEXT]
    head = reference_vectors(model, texts[:-1]) if known is None else known
    expected = np.concatenate([head, reference_vectors(model, texts[-1:])])
    fp32 = _encoder(out / FP32_FILE, tokenizer, int(expected.shape[1]))
    parity = _parity(fp32, expected, texts)
    if not parity >= min_parity:
        raise ExportError(f"ONNX query model parity {parity:.6f} < {min_parity}: it differs from the model")
    passed: dict[Precision, tuple[str, float, QueryEncoder]] = {"fp32": (FP32_FILE, parity, fp32)}
    found: dict[Precision, float | None] = {}
    faster: list[tuple[Precision, str, bool]] = [
        ("int8", INT8_FILE, _write_int8(out)),
        ("bf16", BF16_FILE, _write_bf16(model, out, tokenizer)),
    ]
    for precision, file, written in faster:
        tried = _tried(out / file, tokenizer, expected, texts) if written else None
        found[precision] = None if tried is None else tried[0]
        if tried is not None and tried[0] >= min_parity:
            passed[precision] = (file, *tried)
        else:
            (out / file).unlink(missing_ok=True)  # below the gate: never served, so not kept
    timings = {p: _timing_ms(encoder, texts) for p, (_, _, encoder) in passed.items()}
    chosen = min(timings, key=timings.__getitem__)
    for precision, (file, _, _) in passed.items():
        if precision not in (chosen, "fp32"):
            (out / file).unlink(missing_ok=True)  # passed but slower: never served
    file, chosen_parity, _ = passed[chosen]
    return QueryModelManifest(
        file=file,
        precision=chosen,
        parity=chosen_parity,
        int8_parity=found["int8"],
        bf16_parity=found["bf16"],
        timings_ms={str(p): round(ms, 3) for p, ms in timings.items()},
        dim=int(expected.shape[1]),
        tokenizer=settings,
        seconds=time.monotonic() - began,
    )


def write_query_model(
    model: Any,
    out: Path,
    *,
    min_parity: float,
    began: float | None = None,
    parity_vectors: Vectors | None = None,
) -> QueryModelManifest:
    """Write the query model of a loaded sentence-transformers `model` into the existing folder `out`;
    `parity_vectors`: the model's vectors of the parity texts, when the caller has them (the Triton
    export does), so they are not encoded twice."""
    began = time.monotonic() if began is None else began
    settings = save_tokenizer(model, out)
    try:
        manifest = _measured(model, out, settings, min_parity, parity_vectors, began)
    except BaseException:
        for name in (FP32_FILE, INT8_FILE, BF16_FILE):  # 45-90 MB each: a failed export leaves none
            (out / name).unlink(missing_ok=True)
        raise
    tmp = out / f".{QUERY_MANIFEST}.{uuid.uuid4().hex[:8]}"
    try:  # renamed into place: a reader sees no manifest or a whole one
        tmp.write_bytes(msgspec.json.encode(manifest))
        os.replace(tmp, out / QUERY_MANIFEST)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return manifest


def export_query_model(source_dir: str, out_dir: str, *, min_parity: float) -> QueryModelManifest:
    """Load `source_dir` and write its query model into `out_dir` (which must exist)."""
    began = time.monotonic()
    model = load_model(Path(source_dir))
    model.eval()
    return write_query_model(model, Path(out_dir), min_parity=min_parity, began=began)
