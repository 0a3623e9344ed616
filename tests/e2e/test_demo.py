"""The lifecycle (`make demo`'s job) run as a user would: real web process, real worker pools, real
tritonserver, real model; every step through the HTTP API, on Cranfield (../shared/data/cranfield)
with the CI-sized `tiny` fine-tuning preset (~10 min on 2 cores). EMBEDLOOP_E2E_DATASET names another
BEIR folder, or `sample` for the built-in catalogue (what `make demo` runs); EMBEDLOOP_E2E_PRESET
another preset (`small` on Cranfield: ~13 min here). The sample catalogue's run starts with the corpus
adaptation cycle (the `adapt` preset, CI-sized); Cranfield's skips it, to bound CI time.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import create_app
from functions.config import AppConfig
from functions.deployment.logic import triton_name
from jobs.bootstrap import build_context, close_context
from tests.conftest import ADMIN_KEY
from tests.support.console import sign_in
from tests.support.triton import remove_models

ROOT = Path(__file__).resolve().parents[2]
CRANFIELD = (ROOT / ".." / "shared" / "data" / "cranfield").resolve()
STEPS = (
    "stack",
    "deploy",
    "index",
    "upsert",
    "measure",
    "clicks",
    "improve",
    "autopilot",
    "autopilot fine_tuning",
    "cycle",
    "cleanup",
)
HEADLINES = [
    "lifecycle_ndcg10_base",
    "lifecycle_ndcg10_final",
    "lifecycle_ndcg10_gain_pct",
    "lifecycle_seen_ndcg10_gain_pct",
    "lifecycle_minutes",
    "lifecycle_failed_searches",
    "lifecycle_skipped_searches",
]
ADAPT = "adapt.overrides={max_seq_length:128,corpus:{max_pairs:300}}"
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.model]


def datasets() -> list[str]:
    """EMBEDLOOP_E2E_DATASET when set; else Cranfield (what the issue names) and the sample catalogue
    (what `make demo` runs, the one whose held-out queries rephrase the clicked ones)."""
    given = os.environ.get("EMBEDLOOP_E2E_DATASET")
    return [given] if given else [str(CRANFIELD), "sample"]


@pytest.mark.parametrize("given", datasets(), ids=lambda d: Path(d).name)
def test_the_whole_lifecycle_runs_end_to_end(given: str, config: AppConfig) -> None:
    if given != "sample" and not Path(given).is_dir():
        pytest.skip(f"no BEIR dataset at {given}")
    dataset = [] if given == "sample" else [f"dataset={Path(given).resolve()}"]
    preset = os.environ.get("EMBEDLOOP_E2E_PRESET", "tiny")
    # The autopilot runs one cycle: fine-tuning with its offline guard, then for a challenger the guard
    # passes deployment, reindex into a candidate collection, an online experiment (interleaved with
    # blue, decided by simulated users' clicks) and the switch or discard. The `tiny` challenger is
    # within noise of the champion, so its experiment usually ends in a tie at max_sessions (150 here, to
    # bound CI time: the cycle's mechanics are what this test checks) and the candidate is discarded.
    # Two background searchers pausing between searches: on 2 cores back-to-back searchers starve
    # the cycle's fine-tuning.
    index = f"e2e_{uuid.uuid4().hex[:8]}"
    settings = ["port=8799", f"index={index}", f"preset={preset}"]
    settings += ["experiment.min_sessions=50", "experiment.max_sessions=150", "searchers=2"]
    adapting = given == "sample"
    # CI-sized adaptation: 300 pairs trained at 128 tokens (about a minute).
    settings += [ADAPT if adapting else "adapt.preset=null"]
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "scripts.lifecycle", *settings, *dataset],
            cwd=ROOT,
            env={**os.environ, "EMBEDLOOP_ENV": "test"},
            capture_output=True,
            text=True,
            timeout=2400,
            check=False,
        )
    finally:  # the run leaves its index's versions served, as a demo should; a test must not
        model = triton_name(f"{config.fine_tuning.registered_model_prefix}{index}")
        with ThreadPoolExecutor(1) as thread:  # its own loop, away from the session's
            thread.submit(asyncio.run, remove_models(config, {model})).result()
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    lines = proc.stdout.strip().splitlines()
    figures = dict(line.split(": ", 1) for line in lines[-len(HEADLINES) :])
    assert list(figures) == HEADLINES
    for step in STEPS:  # every step ran and printed its line
        assert re.search(rf"\] {step}\s", proc.stdout), step
    report = json.loads((ROOT / ".data" / "reports" / "latest.json").read_text())
    cycle = report["figures"]["cycle"]
    summary = ", ".join(f"{k}: {v}" for k, v in figures.items())
    print(f"\nlifecycle on {given} ({preset}, cycle {cycle['outcome']}): {summary}")
    assert int(figures["lifecycle_failed_searches"]) == 0
    assert int(figures["lifecycle_skipped_searches"]) == 0  # no query of these datasets is refused
    base, final = float(figures["lifecycle_ndcg10_base"]), float(figures["lifecycle_ndcg10_final"])
    versions = report["figures"]["versions"]
    assert cycle["outcome"] in ("switched", "discarded", "refused"), cycle
    steps = [s["step"] for s in cycle["steps"]]
    if cycle["outcome"] == "refused":
        assert steps == ["start", "fine_tuning"]
        assert versions["blue"] == versions["base"]  # nothing the guard refused serves
    else:
        assert steps[:5] == ["start", "fine_tuning", "deployment", "reindex", "experiment"]
        experiment = report["figures"]["experiment"]
        assert re.search(r"\] experiment\s", proc.stdout)
        assert experiment["state"] == "decided", experiment
        assert experiment["tally"]["searches"] > 0
        switched = cycle["outcome"] == "switched"
        assert switched == (experiment["action"] == "switch")
        assert steps[5:] == (["grace", "cleanup"] if switched else [])
        # Blue serves the challenger exactly when the experiment switched to it.
        assert versions["blue"] == (versions["challenger"] if switched else versions["base"])
        # What users taught the old collection reached the candidate (sessions replayed at the reindex).
        assert report["figures"]["replayed_sessions"] > 0
    # Whatever was decided, the run never ends below the base by more than 1% on the test qrels.
    assert final >= base * 0.99
    if given == "sample":  # its test queries rephrase the clicked ones: what users taught must carry over
        assert final > base
    assert list(report["quality"]) == ["base", *(["adapted"] if adapting else []), "improved", "final"]
    if adapting:
        _check_adaptation(report, proc.stdout)
    # The run checked the final blue collection holds the corpus plus the writer's survivors.
    assert report["figures"]["final_objects"] >= 1
    assert report["quality"]["final"]["seen"]["ndcg10"] > report["quality"]["base"]["seen"]["ndcg10"]
    assert (ROOT / ".data" / "reports" / "latest.png").stat().st_size > 1000
    assert re.search(r"^console: http://\S+/console/", proc.stdout, re.MULTILINE)
    with ThreadPoolExecutor(1) as thread:
        page = thread.submit(asyncio.run, _console_page(config, index)).result()
    _check_console(page, report)


async def _console_page(config: AppConfig, index: str) -> str:
    """The console's page of the index the run used, as an admin sees it after the run."""
    ctx = await build_context(config, role="web")
    try:
        transport = httpx.ASGITransport(app=create_app(context=ctx))
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            assert (await sign_in(client, ADMIN_KEY)).status_code == 303
            page = await client.get(f"/console/indexes/{index}")
            assert page.status_code == 200, page.text[:2000]
            return page.text
    finally:
        await close_context(ctx)


def _check_console(page: str, report: dict[str, Any]) -> None:
    """The console shows the cycle the run ran: the challenger's version beside the one it ran
    against, the guard's verdict, the quality chart, and the experiment with its decision."""
    versions, cycle = report["figures"]["versions"], report["figures"]["cycle"]
    assert "held-out quality per fine-tuned version" in page  # the chart's title
    assert f"(from {versions['base']})" in page or "(from the base model)" in page
    if cycle["outcome"] == "refused":
        assert "refused" in page
        return
    experiment = report["figures"]["experiment"]
    assert f"version <strong>{versions['challenger']}</strong>" in page
    assert f'data-experiment-id="{experiment["id"]}"' in page
    assert f"{experiment['verdict']} → {experiment['action']}" in page
    assert "cumulative win share" in page


def _check_adaptation(report: dict[str, object], stdout: str) -> None:
    """The adaptation cycle trained on corpus pairs alone, was judged like any challenger, and the run
    printed its gain."""
    figures = report["figures"]
    assert isinstance(figures, dict)
    cycle = figures["adapt_cycle"]
    assert cycle["outcome"] in ("switched", "discarded", "refused"), cycle
    training = cycle["training"]
    assert training["status"] == "trained"
    assert training["pairs"]["clicks"] == 0
    assert sum(training["pairs"].values()) > 0
    assert training["evaluated_on"] == "corpus"
    steps = [s["step"] for s in cycle["steps"]]
    assert steps[:2] == ["start", "fine_tuning"]
    if cycle["outcome"] != "refused":
        assert steps[2:5] == ["deployment", "reindex", "experiment"]
    assert re.search(r"^lifecycle_adapt_ndcg10_gain_pct: -?\d", stdout, re.MULTILINE)
