"""The main job, end to end through the real HTTP API and workers (`make demo`).

Today: start the stack, create an index, upsert a catalog, search it, report quality.
Later issues add feedback, fine-tuning, deployment, reindex and the blue switch as further steps.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import hydra
from omegaconf import DictConfig

from jobs.bootstrap import ROOT, load_config
from scripts import beir, sample_catalog
from scripts.api_client import Api
from scripts.ir_metrics import mean_ndcg
from scripts.stack import running_stack


@dataclass
class Report:
    started: float = field(default_factory=time.monotonic)
    figures: dict[str, float] = field(default_factory=dict)

    def step(self, name: str, figure: str) -> None:
        """One line per step: name, elapsed time, key figure."""
        print(f"[{time.monotonic() - self.started:7.1f}s] {name:<10} {figure}", flush=True)


def run(cfg: DictConfig, api: Api, report: Report) -> None:
    """Index → upsert → search → measure."""
    catalog = beir.load(Path(cfg.dataset), cfg.split) if cfg.dataset else sample_catalog.generate(cfg.seed)
    index = api.call("POST", "/indexes", json={"name": cfg.index})
    report.step("index", f"{cfg.index}: blue collection {index['blue_collection_id']}")

    began, totals = time.monotonic(), {"upserted": 0, "unchanged": 0, "failed": 0}
    for start in range(0, len(catalog.items), cfg.batch_size):
        batch = catalog.items[start : start + cfg.batch_size]
        accepted = api.call("POST", "/items/upsert", json={"index": cfg.index, "items": batch})
        task = api.wait_task(accepted["task_id"], f"upsert {start + len(batch)}/{len(catalog.items)}")
        for key in totals:
            value = task["result"].get(key, 0)
            totals[key] += len(value) if isinstance(value, list) else value
    rate = len(catalog.items) / max(1e-9, time.monotonic() - began)
    report.step("upsert", f"{len(catalog.items)} items ({totals}) at {rate:.0f} items/s")

    runs: dict[str, list[str]] = {}
    began = time.monotonic()
    for qid, text in catalog.queries.items():
        body = {"index": cfg.index, "query": text, "limit": cfg.limit}
        runs[qid] = [hit["object_id"] for hit in api.call("POST", "/search/similar", json=body)["hits"]]
    per_query_ms = 1000 * (time.monotonic() - began) / max(1, len(runs))
    ndcg = mean_ndcg(runs, catalog.qrels, k=10)
    report.figures["ndcg10"] = ndcg
    report.step("search", f"{len(runs)} queries, {per_query_ms:.0f} ms each over HTTP, nDCG@10 {ndcg:.3f}")
    _show(api, cfg, catalog)


def _show(api: Api, cfg: DictConfig, catalog: sample_catalog.Catalog) -> None:
    for qid, text in list(catalog.queries.items())[: cfg.show_queries]:
        result = api.call("POST", "/search/similar", json={"index": cfg.index, "query": text, "limit": 3})
        print(f"\n  query: {text}")
        for rank, hit in enumerate(result["hits"], 1):
            mark = "✓" if hit["object_id"] in catalog.qrels.get(qid, {}) else " "
            print(f"   {mark} {rank}. {hit['object_id']:<10} {hit['score']:.3f}  {hit['chunk'][:70]}")
    print()


@hydra.main(version_base="1.3", config_path="../conf/scripts", config_name="lifecycle")
def main(cfg: DictConfig) -> None:
    """Run the lifecycle against a stack started here (or an existing one, `api_url=`)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the report
    config = load_config()  # also creates the local admin key on first use
    key = config.api.admin_keys[0]
    report = Report()
    if cfg.api_url:
        api = Api(cfg.api_url, key)
        run(cfg, api, report)
    else:
        env = {k: os.environ[k] for k in ("EMBEDLOOP_ADMIN_KEYS", "EMBEDLOOP_WEBHOOK_SECRET")}
        with running_stack(cfg.port, env, ROOT / ".data" / "logs") as url:
            report.step("stack", f"web + cpu + gpu workers ready at {url}")
            api = Api(url, key)
            run(cfg, api, report)
    api.close()
    print(f"demo_ndcg10: {report.figures['ndcg10']:.4f}")
    print(f"demo_minutes: {(time.monotonic() - report.started) / 60:.2f}")


if __name__ == "__main__":
    main()
