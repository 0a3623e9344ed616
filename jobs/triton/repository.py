"""The Triton model repository on disk: one Triton model per version, written atomically.

Layout: `<root>/<model>_v<version>/config.pbtxt` and `<root>/<model>_v<version>/<version>/` holding
model.pt, model.py, tokenizer/, parity.npz and manifest.json. A version is built in a temp folder inside
the root and renamed into place, so a folder that exists is complete; the manifest, written last, says
what it holds. No torch here: the export is passed in.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import msgspec

from functions.deployment.triton_config import TritonModelSettings, render_config, served_name
from functions.structs import Struct
from jobs.triton.tokenizer import TOKENIZER_DIR, BatchTokenizer, TokenizerSettings

MANIFEST = "manifest.json"
# What Triton's python backend runs, kept as a file under the top-level triton/ (not importable here).
PYTHON_MODEL = Path(__file__).resolve().parents[2] / "triton" / "python_backend" / "model.py"
STALE_S = 3600.0  # temp and trash folders older than this are left over from a crash


class Manifest(Struct, frozen=True, kw_only=True):
    """What one version folder holds (written last, read to reuse an export)."""

    triton_model: str
    triton_version: int
    served_name: str
    dim: int
    tokenizer: TokenizerSettings
    parity_texts: int
    export_parity: float
    seconds: float
    source_dir: str


class ExportResult(Struct, frozen=True, kw_only=True):
    """What an export wrote into a version folder."""

    dim: int
    tokenizer: TokenizerSettings
    parity_texts: int
    export_parity: float
    seconds: float


# Exports a sentence-transformers folder (first argument) into a version folder (second).
Exporter = Callable[[str, str], ExportResult]


class Repository:
    """Reads and writes version folders under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def model_dir(self, model: str, version: int) -> Path:
        """The Triton model folder of one version."""
        return self.root / served_name(model, version)

    def version_dir(self, model: str, version: int) -> Path:
        """The version folder: model.pt and what goes with it."""
        return self.model_dir(model, version) / str(version)

    def manifest(self, model: str, version: int) -> Manifest | None:
        """The version's manifest, or None when it is not (completely) written."""
        try:
            raw = (self.version_dir(model, version) / MANIFEST).read_bytes()
            return msgspec.json.decode(raw, type=Manifest)
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            return None

    def tokenizer(self, model: str, version: int) -> tuple[BatchTokenizer, Manifest]:
        """The exported tokenizer of a written version (FileNotFoundError if it is not written)."""
        found = self.manifest(model, version)
        if found is None:
            raise FileNotFoundError(f"{self.version_dir(model, version)} is not a written version")
        return BatchTokenizer(self.version_dir(model, version) / TOKENIZER_DIR, found.tokenizer), found

    def write_config(self, settings: TritonModelSettings, model: str) -> None:
        """(Re)write config.pbtxt of a version atomically (settings may have changed since export)."""
        target = self.model_dir(model, settings.version) / "config.pbtxt"
        text = render_config(settings)
        if target.is_file() and target.read_text() == text:
            return  # unchanged: keep the file as it is, so Triton sees no modification
        tmp = target.with_name(f".config.{uuid.uuid4().hex}")
        tmp.write_text(text)
        os.replace(tmp, target)

    def write(
        self, model: str, version: int, source_dir: str, export: Exporter, settings: TritonModelSettings
    ) -> Manifest:
        """Export into a temp folder inside the root, then rename it into place; reuse a written one."""
        found = self.manifest(model, version)
        if found is not None:
            self.write_config(_with_dim(settings, found.dim), model)
            return found
        self.root.mkdir(parents=True, exist_ok=True)
        self._sweep()
        name = served_name(model, version)
        tmp = self.root / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
        try:
            folder = tmp / str(version)
            folder.mkdir(parents=True)
            result = export(source_dir, str(folder))
            shutil.copyfile(PYTHON_MODEL, folder / "model.py")
            written = Manifest(
                triton_model=model,
                triton_version=version,
                served_name=name,
                dim=result.dim,
                tokenizer=result.tokenizer,
                parity_texts=result.parity_texts,
                export_parity=result.export_parity,
                seconds=result.seconds,
                source_dir=source_dir,
            )
            (folder / MANIFEST).write_bytes(msgspec.json.encode(written))
            (tmp / "config.pbtxt").write_text(render_config(_with_dim(settings, result.dim)))
            self._place(tmp, self.model_dir(model, version))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return self.manifest(model, version) or written

    def _place(self, tmp: Path, target: Path) -> None:
        try:
            os.rename(tmp, target)
        except OSError:
            if self.manifest_at(target) is not None:
                return  # another writer finished first: its folder is as good as ours
            self._discard(target)  # an incomplete folder (not ours): replace it
            os.rename(tmp, target)

    def manifest_at(self, model_dir: Path) -> Manifest | None:
        """The manifest of whatever version folder `model_dir` holds."""
        for child in model_dir.glob(f"*/{MANIFEST}"):
            try:
                return msgspec.json.decode(child.read_bytes(), type=Manifest)
            except (OSError, msgspec.DecodeError, msgspec.ValidationError):
                return None
        return None

    def remove(self, model: str, version: int) -> bool:
        """Delete a version's folder (rename away first, so it vanishes at once); False if absent."""
        return self._discard(self.model_dir(model, version))

    def _discard(self, path: Path) -> bool:
        trash = self.root / f".trash-{path.name}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return False
        shutil.rmtree(trash, ignore_errors=True)
        return True

    def _sweep(self) -> None:
        now = time.time()
        for path in [*self.root.glob(".tmp-*"), *self.root.glob(".trash-*")]:
            try:
                if now - path.stat().st_mtime > STALE_S:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                continue


def _with_dim(settings: TritonModelSettings, dim: int) -> TritonModelSettings:
    return msgspec.structs.replace(settings, dim=dim)
