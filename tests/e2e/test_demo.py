"""`make demo`'s job, run as a user would: real web process, real worker pools, real model."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_demo_runs_end_to_end_and_finds_the_relevant_items(tmp_path: Path) -> None:
    env = {**os.environ, "EMBEDLOOP_ENV": "test"}
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.lifecycle", "port=8799", "index=e2e_demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    figures = dict(line.split(": ", 1) for line in lines[-2:])
    assert list(figures) == ["demo_ndcg10", "demo_minutes"]
    # The sample catalog's queries name their need; MiniLM must rank the items built for it well.
    assert float(figures["demo_ndcg10"]) > 0.6
    for step in ("stack", "index", "upsert", "search"):
        assert re.search(rf"\] {step}\s", proc.stdout), step
    assert "✓ 1." in proc.stdout
