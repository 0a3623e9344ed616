"""The main job, end to end through the real HTTP API and workers (`make demo`; scripts.lifecycle).

1. register and deploy the base model, create the index (blue collection); 2. upsert the corpus;
3. simulated users search the train queries and click; 4. online improvement from that feedback;
5. fine-tuning from the clickstream, with its offline guard; 6. deployment of the challenger;
7. reindex into a candidate collection while a client keeps writing; 8. an online experiment: simulated
users search train and test queries on interleaved lists until the sequential test decides, which
switches the candidate blue (searches running throughout) or discards it; 9. cleanup of the old
collection and model. Quality is measured on the held-out test queries and on the train queries users
clicked, after 2, 4 and 9. When the guard refuses the challenger, steps 6-9 rebuild on the champion
(refused=champion). A second run continues from the new champion.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from jobs.bootstrap import ROOT, load_config
from scripts.lifecycle.api_client import Api, Skipped
from scripts.lifecycle.experiment import run_experiment
from scripts.lifecycle.experiment import summary as experiment_summary
from scripts.lifecycle.load import SearchLoad, WriteLoad
from scripts.lifecycle.report import Report
from scripts.lifecycle.steps import (
    Split,
    cleanup,
    deploy,
    fine_tune,
    index_name,
    load_data,
    measure,
    reindex_only,
    remove,
    runs_of,
    switch,
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
    clicked = simulate(api, _catalog(items, train), settings, index=cfg.index)
    report.step("clicks", clicked.summary())
    seen = sorted(q for q in clicked.clicked_queries if q in train.qrels)
    sets = {
        "test": test,
        "seen": Split({q: train.queries[q] for q in seen}, {q: train.qrels[q] for q in seen}),
    }
    base_seen = quality({q: base_train[q] for q in seen if q in base_train}, sets["seen"].qrels)
    report.measure("base", {"test": quality(base_test, test.qrels), "seen": base_seen})

    ended = wait_applied(api, clicked.task_ids, cfg.timeout_s)
    report.measure("improved", measure(api, cfg.index, sets, skipped))
    q = report.quality["improved"]
    report.step(
        "improve",
        f"{dict(ended)} tasks; nDCG@10 seen {q['seen']['ndcg10']:.4f} test {q['test']['ndcg10']:.4f}",
    )

    overrides = OmegaConf.to_container(cfg.overrides) if cfg.overrides else None
    tuned = fine_tune(api, cfg.index, cfg.preset, overrides, benchmark=test)  # type: ignore[arg-type]
    champion, challenger = tuned.get("champion") or {}, tuned.get("challenger") or {}
    bench = tuned.get("benchmark") or {}
    p_value = tuned.get("p_value")
    on_qrels = (
        f"; on the test qrels {bench['champion']['ndcg_at_10']:.4f} → {bench['challenger']['ndcg_at_10']:.4f}"
        if bench
        else ""
    )
    report.step(
        "fine-tune",
        f"{tuned['status']}: nDCG@10 {champion.get('ndcg_at_10', 0):.4f} → "
        f"{challenger.get('ndcg_at_10', 0):.4f} on held-out clicks{on_qrels}, "
        f"gate p={p_value if p_value is not None else float('nan'):.3f}, promoted={tuned.get('promoted')}, "
        f"rule={tuned.get('rule')!r}, version {tuned.get('registered_version')}",
    )
    report.figures["fine_tuning"] = {
        k: tuned.get(k) for k in ("champion", "challenger", "p_value", "promoted", "benchmark")
    }
    challenger_version = tuned.get("registered_version")
    promoted = bool(tuned.get("promoted")) and challenger_version is not None
    nothing_to_deploy = cfg.refused == "stop" or (cfg.refused == "challenger" and challenger_version is None)
    if not promoted and nothing_to_deploy:
        report.step(
            "stop",
            "the offline guard refused the challenger (broken, or worse with significance): nothing to "
            "deploy (never put a worse model before users)",
        )
        report.measure("final", report.quality["improved"])
        _skips(report, skipped, clicked.skipped)
        return
    report.figures["promoted"] = promoted
    # refused=champion: steps 6-9 rebuild the index on the champion's own version (a new collection,
    # the improvement replayed) and switch to it: every step runs and nothing the guard refused is served.
    new_version = challenger_version if promoted or cfg.refused == "challenger" else version
    if not promoted:
        report.step(
            "refused",
            f"the guard kept the champion; refused={cfg.refused} runs steps 6-9 with version {new_version}"
            + (" (mechanics only: not what a deployment would do)" if cfg.refused == "challenger" else ""),
        )
    if cfg.triton:
        deployed = deploy(api, model, new_version)
        report.step("deploy", f"{model}@{new_version} ready (parity {deployed.get('served_parity')})")

    queries = list(train.queries.values()) + list(test.queries.values())
    writer = WriteLoad(url, key, cfg.index, items[: cfg.write_template])
    with SearchLoad(url, key, cfg.index, queries, clients=cfg.searchers) as searchers:
        with writer:
            built = reindex_only(api, cfg.index, new_version, cfg.reindex_batch)
        candidate = built["destination_collection_id"]
        report.step(
            "reindex",
            f"{built['items']} objects into {candidate} at {built['items_per_s']:.0f}/s (counts equal: "
            f"{built['verification']['counts_equal']}, top-10 probe overlap "
            f"{built['verification']['probe_overlap']}); writes during it: +{writer.upserted} "
            f"-{writer.deleted} ({writer.failed} failed); improvement of {built['replayed_sessions']} "
            "sessions carried over",
        )
        if not promoted:
            switched = switch(api, candidate, searchers)
            report.step("switch", _switched(switched, searchers))
    report.figures["replayed_sessions"] = built["replayed_sessions"]
    failed = searchers.failed
    if promoted:
        # The online experiment decides: fewer searchers, as each interleaved search embeds twice.
        catalog = sample_catalog.Catalog(
            items=items, queries={**train.queries, **test.queries}, qrels={**train.qrels, **test.qrels}
        )
        with SearchLoad(url, key, cfg.index, queries, clients=cfg.experiment.searchers) as watchers:
            ended = run_experiment(api, cfg.index, candidate, catalog, settings, cfg.experiment)
        failed += watchers.failed
        report.figures["experiment"] = {
            k: ended.get(k) for k in ("state", "verdict", "action", "reason", "tally", "decided_tally")
        } | {"sessions_simulated": ended["sessions_simulated"], "rounds": ended["rounds"]}
        report.step("experiment", experiment_summary(ended))
        went_blue = ended.get("action") == "switch" and ended["state"] == "decided"
        report.step(
            "switch",
            f"blue → {candidate} by the experiment; {watchers.ok} searches during it, {watchers.failed} "
            f"failed; {ended['replayed']} late sessions caught up"
            if went_blue
            else f"none: blue stays {blue['id']} ({ended['state']}: {ended.get('action')})",
        )
    report.figures["failed_searches"] = failed
    detail = _complete(api, cfg.index, len(items), writer)
    report.figures["final_objects"] = detail["objects"]
    # What serves at the end, as the API reports it (a refused challenger must not be it).
    report.figures["versions"] = {
        "base": version,
        "challenger": challenger_version,
        "blue": detail["blue"]["model_version"],
    }
    done = cleanup(api, cfg.index, cfg.cleanup_grace_s)
    # The writer's copies of corpus items (new ids, no judgements) would crowd the judged originals
    # out of the top 10: the final quality is measured on the corpus the base was measured on.
    removed = remove(api, cfg.index, sorted(writer.expected), cfg.batch_size)
    report.step("cleanup", "; ".join([*done, f"removed the {removed} copies the live writer left"]))
    report.measure("final", measure(api, cfg.index, sets, skipped))
    _skips(report, skipped, clicked.skipped)


def _switched(switched: dict[str, Any], searchers: SearchLoad) -> str:
    return (
        f"blue → {switched['destination_collection_id']}; {searchers.ok} searches, {searchers.failed} failed "
        f"({searchers.errors[:2]}), refused by status {dict(searchers.refused)}; "
        f"{switched['caught_up_sessions']} late sessions caught up"
    )


def _skips(report: Report, measured: Skipped, simulated: Skipped) -> None:
    """Say which queries the API refused, in measurements and in the simulation (0 when none)."""
    by_reason = {"measure": dict(measured.reasons), "clicks": dict(simulated.reasons)}
    report.figures["skipped_searches"] = by_reason
    report.step("skipped", f"measurements: {measured.summary()}; clicks: {simulated.summary()}")


def _catalog(items: list[dict[str, Any]], split: Split) -> sample_catalog.Catalog:
    return sample_catalog.Catalog(items=items, queries=split.queries, qrels=split.qrels)


def _complete(api: Api, index: str, base_items: int, writer: WriteLoad) -> dict[str, Any]:
    """The index's detail (blue collection, counts); its blue collection must hold the corpus plus
    what the writer left: raise if not."""
    detail: dict[str, Any] = api.call("GET", f"/indexes/{index}")
    expected = base_items + len(writer.expected)
    if detail["objects"] != expected:
        raise RuntimeError(f"blue collection holds {detail['objects']} objects, expected {expected}")
    return detail


@hydra.main(version_base="1.3", config_path="../../conf/scripts", config_name="lifecycle")
def main(cfg: DictConfig) -> None:
    """Run the lifecycle against a stack started here (or an existing one, `api_url=`)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the report
    if cfg.refused not in ("stop", "champion", "challenger"):
        raise SystemExit(f"refused={cfg.refused!r}: expected stop, champion or challenger")
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
            report.step("stack", f"web + cpu + gpu workers ready at {url}")
            with Api(url, key) as api:
                run(cfg, api, url, key, report)
    print("\n" + report.table() + "\n")
    json_path, png_path = report.write(ROOT / ".data" / "reports", {"config": OmegaConf.to_container(cfg)})
    print(f"report: {json_path}\nchart:  {png_path}\n")
    for name, value in report.headlines().items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
