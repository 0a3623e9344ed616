"""Cutting a text into token windows, shared by every embedder (no torch: the Triton client uses it)."""

from __future__ import annotations

from collections.abc import Sequence


def token_windows(text: str, offsets: Sequence[tuple[int, int]], limit: int, overlap: int) -> list[str]:
    """Chunks of at most `limit` tokens (character `offsets` of each token), overlapping by `overlap`,
    cut at token edges; a text that fits is one chunk, an empty one none."""
    if len(offsets) <= limit:
        return [text.strip()] if text.strip() else []
    step = max(1, limit - min(overlap, limit - 1))
    chunks = []
    for start in range(0, len(offsets), step):
        window = offsets[start : start + limit]
        chunks.append(text[window[0][0] : window[-1][1]].strip())
        if start + limit >= len(offsets):
            break
    return [c for c in chunks if c]
