"""Load KEY=VALUE files such as `.data/services.env` (written by `python -m scripts.services start`)."""

from __future__ import annotations

import os
from pathlib import Path


def parse_env_file(text: str) -> dict[str, str]:
    """Parse KEY=VALUE lines; blank lines, `#` comments and an `export ` prefix are allowed."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not key.strip():
            raise ValueError(f"not a KEY=VALUE line: {raw!r}")
        value = value.strip()
        # Matching outer quotes are stripped, as a shell would; no escapes or interpolation.
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def load_env_file(path: Path, *, override: bool = False) -> dict[str, str]:
    """Parse `path` into os.environ (keeping keys already set unless `override`); a missing file is empty."""
    try:
        values = parse_env_file(path.read_text())
    except FileNotFoundError:
        return {}
    for key, value in values.items():
        if override or key not in os.environ:
            os.environ[key] = value
    return values
