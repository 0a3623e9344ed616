"""The lifecycle reports (scripts/lifecycle writes them under <data_dir>/reports), as the console
reads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_reports(data_dir: str, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` reports, newest first, each with its file name as `name`; a file that is not a
    report (half written, hand edited) is skipped rather than failing the page."""
    folder = Path(data_dir) / "reports"
    out: list[dict[str, Any]] = []
    for path in sorted(folder.glob("lifecycle-*.json"), reverse=True):
        try:
            body = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(body, dict):
            out.append({**body, "name": path.stem})
        if len(out) >= limit:
            break
    return out
