"""Loader of JSONL files on the server: allowed directories only, counted first, read in batches.

Reads happen on a worker thread, a bounded line at a time, so neither a large file nor one giant
line ever sits in memory, and the event loop keeps serving progress and cancel checks.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import BinaryIO

import msgspec

from functions.config import UpsertionConfig
from functions.errors import InvalidInput
from functions.records import JsonlSource, SourceBatch, SourceRecord

BLOCK = 1 << 20
BOM = b"\xef\xbb\xbf"


def allowed_path(raw: str, roots: Sequence[str]) -> Path:
    """The file `raw` names, if it is a readable regular file under one of `roots` (symlinks followed,
    so a link cannot lead outside them); else InvalidInput naming source.path."""
    path = Path(raw)
    if not path.is_absolute():
        raise InvalidInput(f"{raw!r} is not an absolute path on the server", field="source.path")
    real = path.resolve()
    if not any(real.is_relative_to(Path(root).resolve()) for root in roots):
        allowed = ", ".join(roots) or "none configured"
        raise InvalidInput(
            f"{raw!r} is outside the directories sources are read from (upsertion.jsonl_roots: {allowed})",
            field="source.path",
        )
    if not real.is_file():
        raise InvalidInput(f"{raw!r} does not exist or is not a regular file", field="source.path")
    if not os.access(real, os.R_OK):
        raise InvalidInput(f"{raw!r} is not readable by the server", field="source.path")
    return real


def count_records(path: Path, cap: int) -> int:
    """Non-blank lines, read in blocks, stopping once past `cap` (the limit is all that matters then)."""
    count, pending = 0, False
    with path.open("rb") as f:
        while block := f.read(BLOCK):
            lines = block.split(b"\n")
            for i, part in enumerate(lines):
                pending = pending or bool(part.strip())
                if i < len(lines) - 1:  # a newline ended this line
                    count, pending = count + pending, False
            if count > cap:
                return count
    return count + pending


def parse(line: bytes, where: str) -> SourceRecord:
    """One line as a record; a malformed one carries the reason (never its content)."""
    try:
        value = msgspec.json.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return SourceRecord(where=where, fields=None, error=f"invalid JSON: {exc}")
    if not isinstance(value, dict):
        return SourceRecord(where=where, fields=None, error="not a JSON object")
    return SourceRecord(where=where, fields=value)


class LineReader:
    """Numbered records of an open file, at most `max_bytes` per line (longer lines fail alone)."""

    def __init__(self, f: BinaryIO, max_bytes: int) -> None:
        self._f = f
        self._max = max_bytes
        self._number = 0

    def read(self, n: int) -> list[SourceRecord]:
        """Up to `n` records (blank lines are skipped but keep their numbers); [] at the end."""
        records: list[SourceRecord] = []
        while len(records) < n:
            line = self._f.readline(self._max + 1)
            if not line:
                break
            self._number += 1
            where = f"line {self._number}"
            if len(line) > self._max and not line.endswith(b"\n"):
                self._skip_rest()
                error = f"line is longer than {self._max} bytes (upsertion.max_line_bytes)"
                records.append(SourceRecord(where=where, fields=None, error=error))
            else:
                text = line.removeprefix(BOM) if self._number == 1 else line
                if text.strip():
                    records.append(parse(text, where))
        return records

    def _skip_rest(self) -> None:
        while (part := self._f.readline(BLOCK)) and not part.endswith(b"\n"):
            pass


class JsonlLoader:
    """Reads JSONL sources; the allowed directories come from the config of each call."""

    async def check(self, source: JsonlSource, cfg: UpsertionConfig) -> None:
        """The path is allowed, exists, and is a readable regular file."""
        await asyncio.to_thread(allowed_path, source.path, cfg.jsonl_roots)

    async def batches(self, source: JsonlSource, cfg: UpsertionConfig) -> AsyncGenerator[SourceBatch, None]:
        """Count the records, then yield them `cfg.source_batch_size` at a time."""
        path = await asyncio.to_thread(allowed_path, source.path, cfg.jsonl_roots)
        total = await asyncio.to_thread(count_records, path, cfg.max_source_items)
        f = await asyncio.to_thread(path.open, "rb")
        try:
            reader = LineReader(f, cfg.max_line_bytes)
            while records := await asyncio.to_thread(reader.read, cfg.source_batch_size):
                yield SourceBatch(records=records, total=total)
        finally:
            f.close()
