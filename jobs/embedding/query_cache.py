"""A small LRU of recent query vectors, one per embedder (so per model version).

Search traffic repeats itself (the same popular queries, a user paging through results): a hit skips
tokenising, the batcher's queue and the model. Keyed by the exact text the encoder is given (prefix
included), so two prefixes never share an entry. Vectors are copied in and out: a caller that changes
its array must not change what the next caller gets.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from functions.records import Vectors


class QueryCache:
    """text -> vector, at most `max_size` entries, least recently used evicted first; 0 disables."""

    def __init__(self, max_size: int) -> None:
        if max_size < 0:
            raise ValueError(f"max_size must be >= 0, not {max_size}")
        self._max_size = max_size
        self._items: OrderedDict[str, Vectors] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, text: str) -> Vectors | None:
        """A copy of the cached vector of `text` (now the most recently used), or None."""
        found = self._items.get(text)
        if found is None:
            self.misses += 1
            return None
        self._items.move_to_end(text)
        self.hits += 1
        return found.copy()

    def put(self, text: str, vector: Vectors) -> None:
        """Remember a copy of `vector` for `text`, evicting the least recently used beyond max_size."""
        if self._max_size == 0:
            return
        self._items[text] = np.array(vector, dtype=np.float32, copy=True)
        self._items.move_to_end(text)
        while len(self._items) > self._max_size:
            self._items.popitem(last=False)
