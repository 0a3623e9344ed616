"""Pure rules for an item's parts: write batches, the average vector, pairing chunks with vectors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from functions.records import ObjectWrite, Vectors
from functions.upsertion.logic import Prepared


def write_groups(chunk_counts: Sequence[int], batch_size: int) -> list[list[int]]:
    """Consecutive item indexes grouped to about `batch_size` chunks each: the unit embedded, then
    written, so a cancelled or crashed task keeps whole items done and a re-run skips them."""
    groups: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i, n in enumerate(chunk_counts):
        current.append(i)
        size += n
        if size >= batch_size:
            groups.append(current)
            current, size = [], 0
    if current:
        groups.append(current)
    return groups


def mean_vector(vectors: Vectors) -> Vectors:
    """The normalised mean of an object's part vectors (its `average` search vector)."""
    mean = np.asarray(vectors, dtype=np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    unit: Vectors = (mean / norm if norm > 0 else mean).astype(np.float32)
    return unit


def object_writes(
    items: Sequence[Prepared], chunks: Sequence[Sequence[str]], vectors: Vectors
) -> list[ObjectWrite]:
    """Pair each item with its consecutive rows of `vectors` (one per chunk, in order)."""
    writes, start = [], 0
    for p, parts in zip(items, chunks, strict=True):
        own = vectors[start : start + len(parts)]
        start += len(parts)
        writes.append(
            ObjectWrite(
                object_id=p.item.object_id,
                content=p.item.content,
                rendered=p.text,
                content_hash=p.hash,
                payload=p.item.payload,
                chunks=tuple(parts),
                vectors=own,
                avg_vector=mean_vector(own),
            )
        )
    if start != len(vectors):
        raise ValueError(f"{len(vectors)} vectors for {start} chunks")
    return writes
