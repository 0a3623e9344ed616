"""The lifecycle (`make demo`'s job) run as a user would: real web process, real worker pools, real
tritonserver, real model; every step through the HTTP API, on the built-in sample catalog (~7 min on 2
cores). On Cranfield (`make demo DATASET=../shared/data/cranfield`) the `small` preset's training alone
takes ~17 min on 2 cores, which would push `make test` past its time budget; set
EMBEDLOOP_E2E_DATASET to a BEIR folder to run this test on it instead.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STEPS = (
    "stack",
    "deploy",
    "index",
    "upsert",
    "measure",
    "clicks",
    "improve",
    "fine-tune",
    "reindex",
    "switch",
    "cleanup",
)
HEADLINES = [
    "lifecycle_ndcg10_base",
    "lifecycle_ndcg10_final",
    "lifecycle_ndcg10_gain_pct",
    "lifecycle_seen_ndcg10_gain_pct",
    "lifecycle_minutes",
    "lifecycle_failed_searches",
]
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.model]


def test_the_whole_lifecycle_runs_end_to_end() -> None:
    given = os.environ.get("EMBEDLOOP_E2E_DATASET")
    dataset = [f"dataset={Path(given).resolve()}"] if given else []
    env = {**os.environ, "EMBEDLOOP_ENV": "test"}
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.lifecycle", "port=8799", "index=e2e_lifecycle", *dataset],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=2400,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    lines = proc.stdout.strip().splitlines()
    figures = dict(line.split(": ", 1) for line in lines[-len(HEADLINES) :])
    assert list(figures) == HEADLINES
    for step in STEPS:  # every step ran and printed its line
        assert re.search(rf"\] {step}\s", proc.stdout), step
    assert int(figures["lifecycle_failed_searches"]) == 0
    assert float(figures["lifecycle_ndcg10_final"]) > float(figures["lifecycle_ndcg10_base"])
    report = json.loads((ROOT / ".data" / "reports" / "latest.json").read_text())
    assert list(report["quality"]) == ["base", "improved", "final"]
    assert report["figures"]["final_objects"] >= 1
    assert (ROOT / ".data" / "reports" / "latest.png").stat().st_size > 1000
