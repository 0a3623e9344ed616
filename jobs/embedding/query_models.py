"""The local query model cache: one exported ONNX query model per source folder, race-safe on disk.

Every process that embeds (web, workers) may start at once and ask for the same model. Each exports
into a temp folder inside the cache root and renames it into place; a rename that loses to another
process's uses theirs, so a folder that exists is complete (its manifest says so). A source folder
that changes (a new modules.json mtime) gets a new folder. No torch here: the exporter is imported by
name when an export is needed.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobs.embedding.query_encoder import QueryModelManifest, read_manifest

EXPORTER = "jobs.embedding.query_export"
STALE_S = 3600.0  # temp and trash folders older than this are left over from a crash
# Writes the query model of a source folder (first argument) into an existing folder (second).
QueryExporter = Callable[[str, str, float], QueryModelManifest]


def cache_root(data_dir: str) -> str:
    """Where a process with this data_dir keeps its query models."""
    return str(Path(data_dir) / "query_models")


def cache_key(source_dir: str) -> str:
    """16 hex digits of sha256(resolved source path, modules.json mtime)."""
    source = Path(source_dir).resolve()
    try:
        stamp = (source / "modules.json").stat().st_mtime_ns
    except OSError:
        stamp = 0  # not a sentence-transformers folder: the export says so
    return hashlib.sha256(f"{source}\0{stamp}".encode()).hexdigest()[:16]


def _export(source_dir: str, out_dir: str, min_parity: float) -> QueryModelManifest:
    module: Any = importlib.import_module(EXPORTER)
    manifest: QueryModelManifest = module.export_query_model(source_dir, out_dir, min_parity=min_parity)
    return manifest


def ensure_query_model(
    source_dir: str, cache_root: str | Path, min_parity: float, *, export: QueryExporter | None = None
) -> Path:
    """The folder of `source_dir`'s query model under `cache_root`, exported first if absent."""
    root = Path(cache_root)
    target = root / cache_key(source_dir)
    if read_manifest(target) is not None:
        return target
    root.mkdir(parents=True, exist_ok=True)
    # One exporter per folder at a time: processes starting together (web and both pools) would
    # otherwise each spend the export's half minute of CPU on the same few cores. The rename below
    # still keeps a folder complete if the lock is not shared (another host on a network drive).
    with open(root / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if read_manifest(target) is not None:
            return target  # exported while this process waited
        _sweep(root)
        tmp = root / f".tmp-{target.name}-{uuid.uuid4().hex[:8]}"
        try:
            tmp.mkdir()
            (export or _export)(source_dir, str(tmp), min_parity)
            _place(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _place(tmp: Path, target: Path) -> None:
    try:
        os.rename(tmp, target)
    except OSError:
        if read_manifest(target) is not None:
            return  # another process finished first: its folder is as good as ours
        _discard(target)  # an incomplete folder (not ours): replace it
        os.rename(tmp, target)


def _discard(path: Path) -> None:
    trash = path.with_name(f".trash-{path.name}-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(path, trash)  # gone from its name at once; deleted after
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _sweep(root: Path) -> None:
    now = time.time()
    for path in [*root.glob(".tmp-*"), *root.glob(".trash-*")]:
        try:
            if now - path.stat().st_mtime > STALE_S:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue
