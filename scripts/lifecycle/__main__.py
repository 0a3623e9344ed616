"""The main job, end to end through the real HTTP API and workers (`make demo`; scripts.lifecycle).

1. register and deploy the base model, create the index (blue collection); 2. upsert the corpus;
3. before any click, a corpus adaptation cycle: the autopilot runs the `adapt` preset (pairs made from
the stored objects) through the same guard, deployment, reindex and experiment as any challenger;
4. simulated users search the train queries and click; 5. online improvement from that feedback;
6. the autopilot runs one cycle by itself: fine-tuning from the clickstream (and corpus pairs) with its
offline guard, deployment of the challenger, reindex into a candidate collection
(a client keeps writing), an online experiment decided by simulated users' clicks on interleaved lists,
then the switch (searches running throughout) or the discard, and cleanup after the rollback window.
Quality is measured on the held-out test queries and on the train queries users clicked, after 2, 3, 5
and 6. A second run on the same index runs a second cycle from the new champion.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from jobs.bootstrap import ROOT, load_config
from scripts.lifecycle.api_client import Api, Skipped
from scripts.lifecycle.autopilot import summary as cycle_summary
from scripts.lifecycle.cycles import autopilot_cycle, cycle_figures, experiment_figures, training_of
from scripts.lifecycle.load import WriteLoad
from scripts.lifecycle.report import Report
from scripts.lifecycle.steps import (
    Split,
    deploy,
    index_name,
    load_data,
    measure,
    remove,
    runs_of,
    upsert,
)
from scripts.services.stack import running_stack
from scripts.simulate_clicks import Settings, simulate, wait_applied
from sim import sample_catalog
from sim.ir_metrics import quality


def run(cfg: DictConfig, api: Api, url: str, key: str, report: Report) -> None:
    """Steps 1-9; every figure lands in `report`."""
    items, train, test = load_data(cfg.dataset, cfg.seed)
    index = api.call("POST", "/indexes", json={"name": cfg.index})
    blue = api.call("GET", f"/collections/{index['blue_collection_id']}")
    model, version = f"{load_config().fine_tuning.registered_model_prefix}{cfg.index}", blue["model_version"]
    if cfg.triton:
        deployed = deploy(api, model, version)
        report.step("deploy", f"{model}@{version} ready in Triton (parity {deployed.get('served_parity')})")
    report.step("index", f"{cfg.index}: blue {blue['id']} ({blue['model_name']}, version {version})")

    totals = upsert(api, cfg.index, items, cfg.batch_size)
    report.step("upsert", f"{len(items)} items {totals}")
    # Base quality before any click: the seen set (train queries with a click) is known only after the
    # simulation, and improvement starts as soon as the first session closes.
    skipped = Skipped()  # queries the API refuses: counted and reported, never the end of the run
    base_test = runs_of(api, cfg.index, test.queries, skipped)
    base_train = runs_of(api, cfg.index, train.queries, skipped)
    report.step("measure", f"base nDCG@10 test {quality(base_test, test.qrels)['ndcg10']:.4f}")
    settings = Settings.from_config(cfg.clicks)
    # Every query with its judgements: what the cycles' simulated users search.
    catalog = sample_catalog.Catalog(
        items=items, queries={**train.queries, **test.queries}, qrels={**train.qrels, **test.qrels}
    )
    adapted_train: dict[str, list[str]] | None = None
    if cfg.adapt.preset:
        adapted_test, adapted_train = _adapt(
            cfg, api, url, key, catalog, settings, train, test, report, skipped
        )

    clicked = simulate(api, _catalog(items, train), settings, index=cfg.index)
    report.step("clicks", clicked.summary())
    seen = sorted(q for q in clicked.clicked_queries if q in train.qrels)
    sets = {
        "test": test,
        "seen": Split({q: train.queries[q] for q in seen}, {q: train.qrels[q] for q in seen}),
    }
    base_seen = quality({q: base_train[q] for q in seen if q in base_train}, sets["seen"].qrels)
    report.measure("base", {"test": quality(base_test, test.qrels), "seen": base_seen})
    if adapted_train is not None:
        adapted_seen = quality({q: adapted_train[q] for q in seen if q in adapted_train}, sets["seen"].qrels)
        report.measure("adapted", {"test": quality(adapted_test, test.qrels), "seen": adapted_seen})

    ended = wait_applied(api, clicked.task_ids, cfg.timeout_s)
    report.measure("improved", measure(api, cfg.index, sets, skipped))
    q = report.quality["improved"]
    report.step(
        "improve",
        f"{dict(ended)} tasks; nDCG@10 seen {q['seen']['ndcg10']:.4f} test {q['test']['ndcg10']:.4f}",
    )

    overrides = OmegaConf.to_container(cfg.overrides) if cfg.overrides else None
    watch, writer = autopilot_cycle(
        cfg, api, url, key, items, catalog, settings, report, cfg.preset, overrides, "cycle"
    )
    view = watch.view
    report.figures["cycle"] = cycle_figures(watch) | {"training": training_of(api, view)}
    report.figures["writes_during_reindex"] = {
        "upserted": writer.upserted,
        "deleted": writer.deleted,
        "failed": writer.failed,
    }
    report.figures["promoted"] = view["outcome"] in ("switched", "discarded")
    report.figures["replayed_sessions"] = _replayed_at_reindex(api, view)
    experiment_id = view["facts"].get("experiment_id")
    if experiment_id:
        report.figures["experiment"] = experiment_figures(api, experiment_id, report)
    detail = _complete(api, cfg.index, len(items), writer)
    report.figures["final_objects"] = detail["objects"]
    # What serves at the end, as the API reports it (a refused or discarded challenger must not be it).
    report.figures["versions"] = {
        "base": version,
        "challenger": view["facts"].get("challenger_version"),
        "blue": detail["blue"]["model_version"],
    }
    # The writer's copies of corpus items (new ids, no judgements) would crowd the judged originals
    # out of the top 10: the final quality is measured on the corpus the base was measured on.
    removed = remove(api, cfg.index, sorted(writer.expected), cfg.batch_size)
    report.step("cleanup", f"removed the {removed} copies the live writer left")
    report.measure("final", measure(api, cfg.index, sets, skipped))
    _skips(report, skipped, clicked.skipped)


def _adapt(
    cfg: DictConfig,
    api: Api,
    url: str,
    key: str,
    catalog: sample_catalog.Catalog,
    settings: Settings,
    train: Split,
    test: Split,
    report: Report,
    skipped: Skipped,
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The corpus adaptation cycle, before any click trains anything: the autopilot runs the adapt
    preset (pairs made from the stored objects) through the guard, deployment, reindex and the
    experiment its users decide. The live writer's copies are removed after it, and both splits'
    rankings are read then (the seen set is known only once users have clicked)."""
    items = catalog.items
    overrides = OmegaConf.to_container(cfg.adapt.overrides) if cfg.adapt.overrides else None
    watch, writer = autopilot_cycle(
        cfg, api, url, key, items, catalog, settings, report, cfg.adapt.preset, overrides, "adapt"
    )
    report.figures["adapt_cycle"] = cycle_figures(watch) | {"training": training_of(api, watch.view)}
    experiment_id = watch.view["facts"].get("experiment_id")
    if experiment_id:
        report.figures["adapt_experiment"] = experiment_figures(api, experiment_id, report)
    if watch.view["outcome"] == "failed":
        raise RuntimeError(f"the adaptation cycle failed: {cycle_summary(watch)}")
    removed = remove(api, cfg.index, sorted(writer.expected), cfg.batch_size)
    report.step("cleanup", f"removed the {removed} copies the live writer left")
    _complete(api, cfg.index, len(items), None)
    return runs_of(api, cfg.index, test.queries, skipped), runs_of(api, cfg.index, train.queries, skipped)


def _replayed_at_reindex(api: Api, view: dict[str, Any]) -> int:
    """Sessions the reindex step replayed into the candidate (what users taught the old collection)."""
    step = next((s for s in view["steps"] if s["step"] == "reindex"), None)
    if step is None or not step["task_id"]:
        return 0
    result = api.call("GET", f"/tasks/{step['task_id']}").get("result") or {}
    return int(result.get("replayed_sessions") or 0)


def _skips(report: Report, measured: Skipped, simulated: Skipped) -> None:
    """Say which queries the API refused, in measurements and in the simulation (0 when none)."""
    by_reason = {"measure": dict(measured.reasons), "clicks": dict(simulated.reasons)}
    report.figures["skipped_searches"] = by_reason
    report.step("skipped", f"measurements: {measured.summary()}; clicks: {simulated.summary()}")


def _catalog(items: list[dict[str, Any]], split: Split) -> sample_catalog.Catalog:
    return sample_catalog.Catalog(items=items, queries=split.queries, qrels=split.qrels)


def _complete(api: Api, index: str, base_items: int, writer: WriteLoad | None) -> dict[str, Any]:
    """The index's detail (blue collection, counts); its blue collection must hold the corpus plus
    what the writer left: raise if not."""
    detail: dict[str, Any] = api.call("GET", f"/indexes/{index}")
    expected = base_items + (len(writer.expected) if writer is not None else 0)
    if detail["objects"] != expected:
        raise RuntimeError(f"blue collection holds {detail['objects']} objects, expected {expected}")
    return detail


@hydra.main(version_base="1.3", config_path="../../conf/scripts", config_name="lifecycle")
def main(cfg: DictConfig) -> None:
    """Run the lifecycle against a stack started here (or an existing one, `api_url=`)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the report
    if cfg.index is None:  # named after the dataset, so another dataset never lands in `demo`
        cfg.index = index_name(cfg.dataset)
    config = load_config()  # also creates the local admin key on first use
    key = config.api.admin_keys[0]
    report = Report()
    if cfg.api_url:
        with Api(cfg.api_url, key) as api:
            run(cfg, api, cfg.api_url, key, report)
    else:
        env = {k: os.environ[k] for k in ("EMBEDLOOP_ADMIN_KEYS", "EMBEDLOOP_WEBHOOK_SECRET")}
        # The stack's own processes keep the rollback target only `cleanup_grace_s` (the demo's pace).
        overrides = (
            f"{os.environ.get('EMBEDLOOP_OVERRIDES', '')} reindex.cleanup_grace_s={cfg.cleanup_grace_s}"
        )
        env["EMBEDLOOP_OVERRIDES"] = overrides.strip()
        with running_stack(cfg.port, env, ROOT / ".data" / "logs", gpu_overrides=cfg.gpu_overrides) as url:
            report.step("stack", f"web + cpu + gpu workers ready at {url}; console at {url}/console/")
            with Api(url, key) as api:
                run(cfg, api, url, key, report)
    print("\n" + report.table() + "\n")
    json_path, png_path = report.write(ROOT / ".data" / "reports", {"config": OmegaConf.to_container(cfg)})
    print(f"report: {json_path}\nchart:  {png_path}\n")
    # The demo's stack stops with it; `make up` serves the same database, so the console shows the cycle.
    served = cfg.api_url or f"http://{config.api.host}:{config.api.port}"
    print(f"console: {served}/console/ ({'`make up` first' if not cfg.api_url else 'running'})")
    print(f"console key (admin): {key}\n")
    for name, value in report.headlines().items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
