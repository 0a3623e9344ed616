"""The lifecycle's steps, each a few calls to the real HTTP API (scripts/lifecycle/__main__.py runs them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.lifecycle.api_client import Api, Skipped
from sim import beir, sample_catalog
from sim.ir_metrics import quality


@dataclass(frozen=True)
class Split:
    """One query set: texts and graded judgements."""

    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_data(dataset: str | None, seed: int) -> tuple[list[dict[str, Any]], Split, Split]:
    """Items, train split (users click on these) and test split (held out) of the dataset or sample."""
    if dataset:
        train, test = beir.load(Path(dataset), "train"), beir.load(Path(dataset), "test")
        # Documents without any text (Cranfield has two) would only be refused item by item.
        items = [item for item in train.items if _has_text(item)]
        return items, Split(train.queries, train.qrels), Split(test.queries, test.qrels)
    items, splits = sample_catalog.generate_splits(seed)
    return items, Split(*splits["train"]), Split(*splits["test"])


def index_name(dataset: str | None) -> str:
    """The index a run writes when none is named: `demo` for the sample catalogue, else the dataset
    folder's name under the index-name rules (a letter, then up to 62 of a-z, 0-9, '_', '-'), so two
    datasets never share an index."""
    if not dataset:
        return "demo"
    name = re.sub(r"[^a-z0-9_-]+", "-", Path(dataset).name.lower()).strip("-_")
    if not name[:1].isalpha():
        name = f"ds-{name}".rstrip("-")
    return name[:63].rstrip("-_")


def _has_text(item: dict[str, Any]) -> bool:
    content = item["content"]
    return any(str(v).strip() for v in content.values()) if isinstance(content, dict) else bool(content)


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


def remove(api: Api, index: str, object_ids: list[str], batch_size: int) -> int:
    """Delete `object_ids` in tasks of `batch_size`; how many were deleted."""
    deleted = 0
    for start in range(0, len(object_ids), batch_size):
        batch = object_ids[start : start + batch_size]
        accepted = api.call("POST", "/items/delete", json={"index": index, "object_ids": batch})
        task = api.wait_task(accepted["task_id"], f"delete {start + len(batch)}/{len(object_ids)}")
        value = task["result"].get("deleted", len(batch))
        deleted += len(value) if isinstance(value, list) else int(value)
    return deleted


def runs_of(api: Api, index: str, queries: dict[str, str], skipped: Skipped) -> dict[str, list[str]]:
    """The top 100 object ids of each query, searched anonymously (shared vectors only). A query the
    API refuses is counted in `skipped` and left out (a judged query without a run scores 0)."""
    runs = {}
    for qid, text in queries.items():
        body = {"index": index, "query": text, "limit": 100, "include_payload": False}
        found = skipped.search(api, qid, body)
        if found is not None:
            runs[qid] = [hit["object_id"] for hit in found["hits"]]
    return runs


def measure(api: Api, index: str, sets: dict[str, Split], skipped: Skipped) -> dict[str, dict[str, float]]:
    """nDCG@10, MRR@10 and Recall@100 of each query set (refused queries counted in `skipped`)."""
    return {
        name: quality(runs_of(api, index, split.queries, skipped), split.qrels)
        for name, split in sets.items()
    }


def deploy(api: Api, model: str, version: str) -> dict[str, Any]:
    """Deploy a registered version to Triton and wait until it is ready; the task's result."""
    accepted = api.call("POST", "/deployments", json={"model": model, "version": version})
    result: dict[str, Any] = api.wait_task(accepted["task_id"], f"deploy {model}@{version}")["result"]
    return result


def reindex_only(api: Api, index: str, version: str, batch_size: int) -> dict[str, Any]:
    """Reindex into a new collection of `version` without switching; the reindex task's result."""
    body = {"index": index, "model_version": version, "batch_size": batch_size, "auto_switch": False}
    accepted = api.call("POST", "/reindex/tasks", json=body)
    task = api.wait_task(accepted["task_id"], f"reindex → v{version}", timeout_s=3600)
    result: dict[str, Any] = task["result"]
    return result
