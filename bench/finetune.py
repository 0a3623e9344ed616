"""Fine-tuning from clicks: nDCG@10 on the held-out TEST qrels of the base model and the tuned one.

`python -m bench.finetune [--dataset DIR] [--preset small] [--overrides JSON] [--seeds 1 2 3] [--users 30]
    [--shown N] [--threads N]`

Against a stack started here (web + cpu + gpu workers on the bench database and Redis db, MLflow under
.data/bench-mlflow): a fresh index holding a BEIR folder's corpus (Cranfield by default) is upserted;
simulated users (scripts/simulate_clicks.simulate) search and click on the TRAIN queries only (never the
qrels directly: the click model reads the grades the way a user would judge a shown result); then one
`POST /fine-tuning/tasks` per seed runs with the preset on the gpu pool, one after the other, on the same
click log (a seed fixes the held-out split, the corpus sample and the training), with the TEST split as
the task's `benchmark`, so "promoted" is the gate's whole verdict, veto included. The base model and each
registered challenger are then measured the same way here: exact best-part search over the corpus chunked
as the upsert task chunks it, on the TEST queries and their graded qrels. The headline figures are means
over the seeds (the issue asks for the figure and its spread: `finetune_ndcg10_gain_pct_std`, the sample
standard deviation, is printed just before them); `finetune_minutes` is a task's own running time
(started_at → finished_at), averaged.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from bench import LOG_DIR, ROOT, bench_environment, print_table
from jobs.bootstrap import load_config
from jobs.embedding.model_paths import resolve_model_path
from scripts.lifecycle.api_client import Api
from scripts.services.stack import running_stack
from scripts.simulate_clicks import simulate, wait_applied
from sim import beir
from sim.corpus import chunks_of, dataset_or_none
from sim.ir_metrics import exact_best_part, mean_ndcg
from sim.sample_catalog import Catalog

CLICKS = ROOT / "conf" / "scripts" / "simulate_clicks.yaml"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="a BEIR-layout folder (default ../shared/data/cranfield)")
    parser.add_argument("--preset", default="small", help="fine-tuning preset (default small)")
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[1, 2, 3],
        help="one fine-tuning task per seed (default 1 2 3)",
    )
    parser.add_argument(
        "--overrides",
        type=json.loads,
        default={},
        help="the preset's keys to override, as the task API takes them (JSON)",
    )
    parser.add_argument("--users", type=int, default=30, help="simulated users per train query (default 30)")
    parser.add_argument("--shown", type=int, help="results shown per search (default: the click config's)")
    parser.add_argument("--threads", type=int, help="torch threads of the workers (default: every core)")
    parser.add_argument("--port", type=int, default=8784)
    return parser.parse_args()


def test_ndcg(model_path: str, chunks: list[str], owners: list[str], test: Catalog, threads: int) -> float:
    """Mean nDCG@10 of the test queries by exact best-part search with the model at `model_path`."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    config = load_config()
    model = SentenceTransformer(resolve_model_path(model_path), device="cpu")
    model.max_seq_length = min(config.model.max_seq_length, model.max_seq_length or 512)
    kw = {"batch_size": config.model.batch_size, "normalize_embeddings": True, "show_progress_bar": False}
    parts = model.encode(chunks, **kw)
    ids = list(test.queries)
    queries = model.encode([test.queries[q] for q in ids], **kw)
    ranked = exact_best_part(queries, parts, owners, k=10)
    return mean_ndcg(dict(zip(ids, ranked, strict=True)), test.qrels)


def tuned_model(name: str, version: str, dst: str) -> str:
    """A local copy of the registered version's sentence-transformers folder."""
    import mlflow.artifacts

    from jobs.stores.mlflow_tracking import MODEL_SUBDIR

    uri = load_config().mlflow.tracking_uri
    path = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{name}/{version}", dst_path=dst, tracking_uri=uri, registry_uri=uri
    )
    return str(Path(path) / MODEL_SUBDIR)


def feedback_and_finetune(
    api: Api, args: argparse.Namespace, folder: Path, index: str, test: Catalog
) -> list[dict[str, Any]]:
    """Index the corpus, simulate clicks on the train queries, run one fine-tuning task per seed (one
    after the other: two at once would share the cores); their records."""
    train = beir.load(folder, "train")
    api.call("POST", "/indexes", json={"name": index})
    began = time.monotonic()
    for start in range(0, len(train.items), 500):
        batch = train.items[start : start + 500]
        accepted = api.call("POST", "/items/upsert", json={"index": index, "items": batch})
        api.wait_task(accepted["task_id"], f"upsert {start + len(batch)}/{len(train.items)}")
    print(f"upsert: {len(train.items)} items in {time.monotonic() - began:.0f} s", flush=True)
    cfg = OmegaConf.merge(OmegaConf.load(CLICKS), {"users_per_query": args.users})
    if args.shown is not None:
        cfg.limit = args.shown
    report = simulate(api, train, cfg, index=index)
    wait_applied(api, report.task_ids)
    print(f"clicks: {report.summary()}", flush=True)
    # The test split as the task's benchmark: the gate refuses a challenger below the champion on it
    # (benchmark_veto). It never picks a trial; the figures below are measured here, independently.
    benchmark = {"name": "test qrels", "queries": test.queries, "qrels": test.qrels}
    tasks = []
    for seed in args.seeds:
        body: dict[str, Any] = {
            "index": index,
            "preset": args.preset,
            "overrides": args.overrides,
            "seed": seed,
            "benchmark": benchmark,
        }
        accepted = api.call("POST", "/fine-tuning/tasks", json=body)
        tasks.append(api.wait_task(accepted["task_id"], f"fine-tuning seed {seed}", timeout_s=3600))
    return tasks


def main() -> None:
    args = arguments()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    folder = dataset_or_none(args.dataset)
    if folder is None:
        raise SystemExit("bench.finetune needs a BEIR folder with qrels/train.tsv and qrels/test.tsv")
    env, key = bench_environment(own_mlflow=True)  # before any config is composed
    threads = args.threads or os.cpu_count() or 1
    overrides = f"{os.environ.get('EMBEDLOOP_OVERRIDES', '')} embedder.torch_threads={threads}"
    overrides += f" fine_tuning.torch_threads={threads}"
    env["EMBEDLOOP_OVERRIDES"] = overrides
    index = f"bench_ft_{uuid.uuid4().hex[:8]}"
    test = beir.load(folder, "test")
    with running_stack(args.port, env, LOG_DIR) as url:
        tasks = feedback_and_finetune(Api(url, key), args, folder, index, test)
    for task in tasks:
        result = task["result"]
        if result.get("status") != "trained" or not result.get("registered_version"):
            raise SystemExit(f"fine-tuning did not train: {result}")

    chunks, owners = chunks_of(test.items)
    base = test_ndcg(load_config().model.path, chunks, owners, test, threads)
    rows: list[tuple[Any, ...]] = []
    tuned: list[float] = []
    gains: list[float] = []
    for seed, task in zip(args.seeds, tasks, strict=True):
        result = task["result"]
        with tempfile.TemporaryDirectory() as tmp:
            name = f"{load_config().fine_tuning.registered_model_prefix}{index}"
            tuned.append(
                test_ndcg(tuned_model(name, result["registered_version"], tmp), chunks, owners, test, threads)
            )
        gains.append(100 * (tuned[-1] - base) / base)
        held_out = (result["champion"]["ndcg_at_10"], result["challenger"]["ndcg_at_10"])
        judged = result["benchmark"]  # the task's own view of the test qrels, the gate's veto reads it
        own = (judged["champion"]["ndcg_at_10"], judged["challenger"]["ndcg_at_10"])
        rows.append(
            (
                seed,
                f"{held_out[0]:.4f} → {held_out[1]:.4f}",
                f"{result.get('p_value', float('nan')):.3f}",
                result["promoted"],
                f"{own[0]:.4f} → {own[1]:.4f}",
                f"{base:.4f} → {tuned[-1]:.4f}",
                f"{gains[-1]:+.2f}%",
                f"{_minutes(task):.2f}",
            )
        )
    print_table(
        ["seed", "held-out clicks", "gate p", "promoted", "task's TEST", "TEST qrels", "gain", "minutes"],
        rows,
    )
    first = tasks[0]["result"]
    print(
        f"preset {args.preset} {json.dumps(args.overrides)}: best {first['best_params']}"
        f" (seed {args.seeds[0]}); sessions {first['sessions']}"
    )
    print(f"finetune_ndcg10_gain_pct_std: {statistics.stdev(gains) if len(gains) > 1 else 0.0:.2f}")
    print(f"finetune_ndcg10_base: {base:.4f}")
    print(f"finetune_ndcg10_tuned: {statistics.mean(tuned):.4f}")
    print(f"finetune_ndcg10_gain_pct: {statistics.mean(gains):.2f}")
    print(f"finetune_minutes: {statistics.mean(_minutes(t) for t in tasks):.2f}")


def _minutes(task: dict[str, Any]) -> float:
    return (_ts(task["finished_at"]) - _ts(task["started_at"])) / 60


def _ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


if __name__ == "__main__":
    main()
