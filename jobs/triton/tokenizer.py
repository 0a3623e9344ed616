"""Client-side tokenisation with the tokenizer exported beside a version (numpy only, no torch).

Mirrors sentence-transformers: texts stripped, truncated at max_seq_length (special tokens included),
padded to the longest text of each batch. Used by the Triton embedder and by the export's parity check,
so the parity measured at export time covers this exact path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from functions.structs import Struct

TOKENIZER_DIR = "tokenizer"
IntArray = npt.NDArray[np.int64]


class TokenizerSettings(Struct, frozen=True, kw_only=True):
    """How the exported tokenizer is used (recorded in the version's manifest)."""

    max_seq_length: int
    pad_token: str
    do_lower_case: bool = False


class BatchTokenizer:
    """Encodes batches into (input_ids, attention_mask) int64 arrays, and offsets for chunking."""

    def __init__(self, folder: Path, settings: TokenizerSettings) -> None:
        path = folder / "tokenizer.json"
        self._settings = settings
        self._plain = Tokenizer.from_file(str(path))
        self._plain.no_truncation()
        self._plain.no_padding()
        self._batch = Tokenizer.from_file(str(path))
        pad_id = self._batch.token_to_id(settings.pad_token)
        if pad_id is None:
            raise ValueError(f"pad token {settings.pad_token!r} is not in {path}")
        self._batch.enable_truncation(max_length=settings.max_seq_length)
        self._batch.enable_padding(pad_id=pad_id, pad_token=settings.pad_token)

    @property
    def max_seq_length(self) -> int:
        """Longest sequence (special tokens included) the model sees."""
        return self._settings.max_seq_length

    def _clean(self, text: str) -> str:
        text = text.strip()
        return text.lower() if self._settings.do_lower_case else text

    def encode(self, texts: Sequence[str]) -> tuple[IntArray, IntArray]:
        """input_ids and attention_mask, shape (len(texts), longest), int64."""
        encodings = self._batch.encode_batch([self._clean(t) for t in texts])
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        return ids, mask

    def count(self, text: str) -> int:
        """How many tokens `text` has, special tokens included, without truncation."""
        return len(self._plain.encode(self._clean(text), add_special_tokens=True).ids)

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each token of `text`, no special tokens, no truncation."""
        source = text.lower() if self._settings.do_lower_case else text
        return list(self._plain.encode(source, add_special_tokens=False).offsets)
