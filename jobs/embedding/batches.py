"""Longest-first batching, like sentence-transformers: texts of like length share a batch, so little of
each batch is padding (in input order, Cranfield abstracts ran at half the speed). Used by every
encoder that tokenises for itself (the Triton client, the ONNX query model)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from functions.records import Vectors


def longest_first(texts: Sequence[str], size: int) -> tuple[list[int], list[list[str]]]:
    """The input positions, longest text first, and the texts in that order cut into batches of `size`."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    return order, [[texts[i] for i in order[s : s + size]] for s in range(0, len(order), size)]


def in_input_order(order: Sequence[int], parts: Sequence[Vectors]) -> Vectors:
    """The batches' vectors, made in `longest_first` order, back in input order (float32)."""
    sorted_vectors = np.concatenate(parts)
    out = np.empty_like(sorted_vectors, dtype=np.float32)
    out[list(order)] = sorted_vectors
    return out
