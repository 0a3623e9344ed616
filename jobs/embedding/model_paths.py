"""Where a configured model lives on disk, without importing torch (the web process resolves paths too)."""

from __future__ import annotations

import importlib
from typing import Any


def resolve_model_path(path: str) -> str:
    """`pkg:<module>` names a package that ships a model (get_model_path()); else a directory."""
    if path.startswith("pkg:"):
        module: Any = importlib.import_module(path[4:])
        return str(module.get_model_path())  # str: a Path object fails in sentence-transformers
    return path
