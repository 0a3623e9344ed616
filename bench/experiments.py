"""Online experiments: how often a better challenger is switched blue, how often an equal or worse one is,
how many sessions a decision takes, and what an interleaved search costs.

`python -m bench.experiments [--seeds N] [--preset small] [--users 10] [--worse-scale S] [--port 8786]`

A stack is started here (web + cpu + gpu workers on the bench database and Redis db, MLflow under
.data/bench-mlflow). The sample catalogue is upserted into a fresh index, simulated users click on its
train queries, and the product's fine-tuning task (`preset`) trains the challenger from those clicks.

Decisions: each model's top 10 for every train and test query (exact best-part search over the corpus,
as chunked by the upsert task) is replayed through the product's own interleaving, credit and
sequential test (conf/experiments defaults) with users from the click model (bench/_experiment_replay.py),
`--seeds` runs per condition: the challenger, an A/A candidate (the champion's own model) and a worse
model (the base with noise on its last layers). A run switches when the verdict is the candidate's.

Overhead: the same queries over HTTP, one client, in alternating blocks with and without an experiment
on the challenger's reindexed collection (share 1: every search interleaved).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
import uuid
from typing import Any

import httpx

from bench import LOG_DIR, bench_environment, ms_percentiles, print_table
from bench import _experiment_models as models
from bench._experiment_replay import run
from bench.finetune import tuned_model
from jobs.bootstrap import load_config
from scripts.lifecycle.api_client import Api
from scripts.lifecycle.steps import reindex_only, upsert
from scripts.simulate_clicks import Settings, simulate, wait_applied
from sim import sample_catalog
from sim.corpus import chunks_of
from sim.ir_metrics import mean_ndcg

BLOCKS = 4


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seeds", type=int, default=10, help="replayed experiments per condition (default 10)"
    )
    parser.add_argument(
        "--preset", default="small", help="fine-tuning preset of the challenger (default small)"
    )
    parser.add_argument("--users", type=int, default=10, help="simulated users per train query (default 10)")
    parser.add_argument(
        "--worse-scale", type=float, default=0.5, help="noise of the worse model (default 0.5)"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--port", type=int, default=8786)
    return parser.parse_args()


def challenger(api: Api, args: argparse.Namespace, index: str, catalog: dict[str, Any]) -> str:
    """Index the catalogue, simulate clicks on its train queries, fine-tune; the registered version."""
    api.call("POST", "/indexes", json={"name": index})
    upsert(api, index, catalog["items"], 500)
    train = sample_catalog.Catalog(
        items=catalog["items"], queries=catalog["train"][0], qrels=catalog["train"][1]
    )
    report = simulate(api, train, Settings(users_per_query=args.users), index=index)
    wait_applied(api, report.task_ids)
    print(f"clicks: {report.summary()}", flush=True)
    accepted = api.call("POST", "/fine-tuning/tasks", json={"index": index, "preset": args.preset})
    result = api.wait_task(accepted["task_id"], f"fine-tuning ({args.preset})", timeout_s=3600)["result"]
    if not result.get("registered_version"):
        raise SystemExit(f"fine-tuning registered no version: {result}")
    print(f"fine-tuning: {result.get('rule')} (version {result['registered_version']})", flush=True)
    return str(result["registered_version"])


def overhead(
    api: Api, url: str, key: str, index: str, version: str, texts: list[str]
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """p50, p95 and p99 (ms) of plain and of interleaved searches, the same queries in alternating blocks."""
    candidate = reindex_only(api, index, version, 200)["destination_collection_id"]
    cache_s = load_config().experiments.running_cache_s
    plain: list[float] = []
    mixed: list[float] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:

        def block(into: list[float]) -> None:
            for text in texts:
                began = time.perf_counter()
                http.post(
                    "/search/similar", json={"index": index, "query": text, "limit": 10}
                ).raise_for_status()
                into.append(time.perf_counter() - began)

        block([])  # warm: the web process's first searches of the index
        for _ in range(BLOCKS):
            block(plain)
            body = {"index": index, "candidate_collection_id": candidate, "share": 1.0}
            started = api.call("POST", "/experiments", json=body)
            time.sleep(cache_s + 0.5)  # every process sees the experiment
            block([])  # warm: the first searches load the candidate's model in the web process
            block(mixed)
            counted = api.call("POST", f"/experiments/{started['id']}/stop")["tally"]["searches"]
            if counted < 2 * len(texts):
                raise SystemExit(f"only {counted} of {2 * len(texts)} searches were interleaved")
            time.sleep(cache_s + 0.5)
    return ms_percentiles(plain), ms_percentiles(mixed)


def main() -> None:
    args = arguments()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    env, key = bench_environment(own_mlflow=True)  # before any config is composed
    items, splits = sample_catalog.generate_splits(7)
    catalog = {"items": items, **splits}
    queries = {**splits["train"][0], **splits["test"][0]}
    qrels = {**splits["train"][1], **splits["test"][1]}
    index = f"bench_exp_{uuid.uuid4().hex[:8]}"
    from scripts.services.stack import running_stack

    with running_stack(args.port, env, LOG_DIR) as url:
        api = Api(url, key)
        version = challenger(api, args, index, catalog)
        plain, mixed = overhead(api, url, key, index, version, list(queries.values()))

    chunks, owners = chunks_of(items)
    config = load_config()
    base_path = config.model.path
    with tempfile.TemporaryDirectory() as tmp:
        name = f"{config.fine_tuning.registered_model_prefix}{index}"
        strong = models.load(tuned_model(name, version, tmp), args.threads)
        ranked = {
            "champion": models.rankings(models.load(base_path, args.threads), chunks, owners, queries),
            "challenger": models.rankings(strong, chunks, owners, queries),
            "worse": models.rankings(
                models.perturbed(base_path, args.worse_scale, args.threads), chunks, owners, queries
            ),
        }
    test_qrels = splits["test"][1]
    ndcg = {k: mean_ndcg({q: r[q] for q in test_qrels}, test_qrels) for k, r in ranked.items()}
    gain = {k: 100 * (v - ndcg["champion"]) / ndcg["champion"] for k, v in ndcg.items()}
    users = Settings().model
    conditions = {"challenger": "challenger", "A/A": "champion", "worse": "worse"}
    rows, switched, sessions = [], {}, {}
    for label, candidate in conditions.items():
        outcomes = [
            run(ranked["champion"], ranked[candidate], qrels, users, config.experiments, seed)
            for seed in range(1, args.seeds + 1)
        ]
        switched[label] = 100 * sum(o.verdict == "candidate" for o in outcomes) / len(outcomes)
        sessions[label] = statistics.median(o.sessions for o in outcomes)
        verdicts = {v: sum(o.verdict == v for o in outcomes) for v in ("candidate", "control", "tie", None)}
        rows.append(
            (
                label,
                f"{gain[candidate]:+.1f}%",
                f"{switched[label]:.0f}%",
                verdicts["control"],
                verdicts["tie"],
                sessions[label],
                statistics.median(o.searches for o in outcomes),
            )
        )
    print_table(
        ["candidate", "test nDCG@10 vs champion", "switched", "lost", "tie", "sessions (median)", "searches"],
        rows,
    )
    print(
        f"test nDCG@10: champion {ndcg['champion']:.4f}, challenger {ndcg['challenger']:.4f}, "
        f"worse {ndcg['worse']:.4f}"
    )
    print_table(["search (ms)", "p50", "p95", "p99"], [("plain", *plain), ("interleaved", *mixed)])
    print(f"experiment_power_pct: {switched['challenger']:.0f}")
    print(f"experiment_false_switch_pct: {switched['A/A']:.0f}")
    print(f"experiment_worse_switch_pct: {switched['worse']:.0f}")
    print(f"experiment_sessions_median: {sessions['challenger']:.0f}")
    print(f"interleaved_search_p95_overhead_ms: {mixed[1] - plain[1]:.1f}")


if __name__ == "__main__":
    main()
