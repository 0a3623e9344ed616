"""The lifecycle's steps, each a few calls to the real HTTP API (scripts/lifecycle.py runs them in order)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from scripts.api_client import Api
from scripts.ir_metrics import quality
from scripts.lifecycle_load import SearchLoad, WriteLoad


@dataclass(frozen=True)
class Split:
    """One query set: texts and graded judgements."""

    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def upsert(api: Api, index: str, items: list[dict[str, Any]], batch_size: int) -> dict[str, int]:
    """Upsert `items` in tasks of `batch_size`; totals of the results."""
    totals = {"upserted": 0, "unchanged": 0, "failed": 0}
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        accepted = api.call("POST", "/items/upsert", json={"index": index, "items": batch})
        task = api.wait_task(accepted["task_id"], f"upsert {start + len(batch)}/{len(items)}")
        for key in totals:
            value = task["result"].get(key, 0)
            totals[key] += len(value) if isinstance(value, list) else value
    return totals


def measure(api: Api, index: str, sets: dict[str, Split]) -> dict[str, dict[str, float]]:
    """nDCG@10, MRR@10 and Recall@100 of each query set, searched anonymously (shared vectors)."""
    found: dict[str, dict[str, float]] = {}
    for name, split in sets.items():
        runs = {}
        for qid, text in split.queries.items():
            body = {"index": index, "query": text, "limit": 100, "include_payload": False}
            runs[qid] = [hit["object_id"] for hit in api.call("POST", "/search/similar", json=body)["hits"]]
        found[name] = quality(runs, split.qrels)
    return found


def deploy(api: Api, model: str, version: str) -> dict[str, Any]:
    """Deploy a registered version to Triton and wait until it is ready; the task's result."""
    accepted = api.call("POST", "/deployments", json={"model": model, "version": version})
    result: dict[str, Any] = api.wait_task(accepted["task_id"], f"deploy {model}@{version}")["result"]
    return result


def fine_tune(api: Api, index: str, preset: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Run a fine-tuning task to its end; its result (scores, promoted, registered version)."""
    body: dict[str, Any] = {"index": index, "preset": preset}
    if overrides:
        body["overrides"] = overrides
    accepted = api.call("POST", "/fine-tuning/tasks", json=body)
    result: dict[str, Any] = api.wait_task(accepted["task_id"], f"fine-tune ({preset})", timeout_s=3600)[
        "result"
    ]
    return result


def reindex_and_switch(
    api: Api, index: str, version: str, searchers: SearchLoad, writer: WriteLoad, batch_size: int
) -> dict[str, Any]:
    """Reindex into a collection of `version` while `writer` writes, then switch blue with `searchers`
    searching throughout; the reindex result plus the switch's figures."""
    body = {"index": index, "model_version": version, "batch_size": batch_size, "auto_switch": False}
    accepted = api.call("POST", "/reindex/tasks", json=body)
    task = api.wait_task(accepted["task_id"], f"reindex → v{version}", timeout_s=3600)
    result: dict[str, Any] = task["result"]
    destination = result["destination_collection_id"]
    writer.__exit__()  # the writes stop here; their outcome is what both collections must hold
    before = searchers.failed
    api.call("POST", f"/collections/{destination}/switch")
    deadline = time.monotonic() + 30
    while searchers.last_collection() != destination and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # searches right after the switch are part of what must not fail
    return {
        **result,
        "switch_failed": searchers.failed - before,
        "served_new": searchers.last_collection() == destination,
    }


def cleanup(api: Api, old_collection: str, model: str | None, old_version: str | None) -> list[str]:
    """Drop the old collection (after the switch's grace period) and undeploy its model."""
    done = []
    deadline = time.monotonic() + 120
    while True:
        try:
            api.call("DELETE", f"/collections/{old_collection}")
            done.append(f"dropped {old_collection}")
            break
        except Exception:  # settling: searches opened before the switch may still read it
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)
    if model is not None and old_version is not None:
        accepted = api.call("DELETE", f"/deployments/{model}@{old_version}")
        api.wait_task(accepted["task_id"], f"undeploy {model}@{old_version}")
        done.append(f"undeployed {model}@{old_version}")
    return done
