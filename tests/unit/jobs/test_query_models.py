"""The local query model cache: one folder per source, reused, and race-safe when two processes export.

A stand-in exporter writes a complete folder (manifest, model file, tokenizer.json) so the races run
in milliseconds; tests/integration/test_query_model.py exports the real model.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import msgspec
import pytest

from jobs.embedding.query_encoder import QUERY_MANIFEST, QueryModelManifest, read_manifest
from jobs.embedding.query_models import cache_key, ensure_query_model
from jobs.triton.tokenizer import TokenizerSettings

MANIFEST = QueryModelManifest(
    file="query.onnx",
    precision="fp32",
    parity=0.9999996,
    int8_parity=0.88,
    dim=3,
    tokenizer=TokenizerSettings(max_seq_length=8, pad_token="[PAD]"),
    seconds=0.0,
)


class Exporter:
    """Writes a complete query model folder; `barrier` holds every caller until all have started."""

    def __init__(self, barrier: threading.Barrier | None = None, fail: bool = False) -> None:
        self.calls: list[str] = []
        self._barrier = barrier
        self._fail = fail

    def __call__(self, source_dir: str, out_dir: str, min_parity: float) -> QueryModelManifest:
        self.calls.append(out_dir)
        out = Path(out_dir)
        (out / "query.onnx").write_bytes(b"onnx")
        (out / "tokenizer").mkdir()
        (out / "tokenizer" / "tokenizer.json").write_text("{}")
        if self._barrier is not None:
            self._barrier.wait(timeout=10)
        if self._fail:
            raise RuntimeError("parity 0.5 < 0.999")
        (out / QUERY_MANIFEST).write_bytes(msgspec.json.encode(MANIFEST))
        return MANIFEST


@pytest.fixture
def source(tmp_path: Path) -> str:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "modules.json").write_text("[]")
    return str(folder)


def test_an_export_is_placed_once_and_reused(source: str, tmp_path: Path) -> None:
    export = Exporter()
    first = ensure_query_model(source, tmp_path / "cache", 0.999, export=export)
    again = ensure_query_model(source, tmp_path / "cache", 0.999, export=export)
    assert first == again == tmp_path / "cache" / cache_key(source)
    assert len(export.calls) == 1
    assert read_manifest(first) == MANIFEST
    assert _folders(tmp_path / "cache") == [first.name]


def test_two_concurrent_callers_export_once(source: str, tmp_path: Path) -> None:
    """Processes starting together wait for one export (the lock) instead of each making their own."""
    export = Exporter()
    got: list[Path] = []
    threads = [
        threading.Thread(
            target=lambda: got.append(ensure_query_model(source, tmp_path, 0.999, export=export))
        )
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert len(export.calls) == 1
    assert got == [tmp_path / cache_key(source)] * 3
    assert [p for p in _folders(tmp_path) if p != "model"] == [cache_key(source)]
    assert read_manifest(got[0]) == MANIFEST


def test_an_export_placed_meanwhile_by_another_host_wins(source: str, tmp_path: Path) -> None:
    """Without a shared lock (another host on a network drive) the rename race still ends with one
    complete folder: the loser uses the winner's."""
    target = tmp_path / cache_key(source)

    def racing(source_dir: str, out_dir: str, min_parity: float) -> QueryModelManifest:
        written = Exporter()(source_dir, out_dir, min_parity)
        Exporter()(source_dir, str(_made(target)), min_parity)  # the other host finishes first
        return written

    assert ensure_query_model(source, tmp_path, 0.999, export=racing) == target
    assert read_manifest(target) == MANIFEST
    assert [p for p in _folders(tmp_path) if p != "model"] == [cache_key(source)]


def _made(folder: Path) -> Path:
    folder.mkdir()
    return folder


def _folders(root: Path) -> list[str]:
    """What the cache holds, without its lock files."""
    return sorted(p.name for p in root.iterdir() if not p.name.startswith("."))


def test_a_failed_export_leaves_nothing(source: str, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="parity"):
        ensure_query_model(source, tmp_path / "cache", 0.999, export=Exporter(fail=True))
    assert _folders(tmp_path / "cache") == []


def test_an_incomplete_folder_is_replaced(source: str, tmp_path: Path) -> None:
    stale = tmp_path / "cache" / cache_key(source)
    stale.mkdir(parents=True)
    (stale / "query.onnx").write_bytes(b"half written by hand")
    assert read_manifest(stale) is None
    assert ensure_query_model(source, tmp_path / "cache", 0.999, export=Exporter()) == stale
    assert read_manifest(stale) == MANIFEST


def test_a_changed_source_gets_a_new_folder(source: str) -> None:
    before = cache_key(source)
    stamp = os.stat(Path(source) / "modules.json").st_mtime_ns
    os.utime(Path(source) / "modules.json", ns=(stamp, stamp + 1_000_000_000))
    assert cache_key(source) != before
    assert len(before) == 16


def test_a_manifest_naming_a_missing_file_is_incomplete(tmp_path: Path) -> None:
    (tmp_path / "tokenizer").mkdir()
    (tmp_path / "tokenizer" / "tokenizer.json").write_text("{}")
    (tmp_path / QUERY_MANIFEST).write_bytes(msgspec.json.encode(MANIFEST))
    assert read_manifest(tmp_path) is None
    (tmp_path / "query.onnx").write_bytes(b"onnx")
    assert read_manifest(tmp_path) == MANIFEST
    (tmp_path / QUERY_MANIFEST).write_text('{"file": "query.onnx"')
    assert read_manifest(tmp_path) is None
