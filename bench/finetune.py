"""Domain adaptation and fine-tuning: nDCG@10 on the held-out TEST qrels of the base model and the tuned ones.

`python -m bench.finetune [--dataset DIR | --sample] [--preset small] [--adapt-preset adapt]
    [--overrides JSON] [--seeds 1 2 3] [--users 30] [--shown N] [--threads N]`

Against a stack started here (web + cpu + gpu workers on the bench database and Redis db, MLflow under
.data/bench-mlflow): a fresh index holding a BEIR folder's corpus (Cranfield by default; `--sample`: the
built-in catalogue) is upserted. Before any click, one corpus-only task per seed adapts the model to the
corpus (`--adapt-preset`: pairs made from the stored objects, judged by held-out objects' spans). Then
simulated users (scripts/simulate_clicks.simulate) search and click on the TRAIN queries only (never the
qrels directly: the click model reads the grades the way a user would judge a shown result), and one task
per seed runs `--preset` (corpus pairs + clicks) on that click log. A seed fixes the held-out split, the
corpus sample and the training. Every task gets the TEST split as its `benchmark`, so "promoted" is the
gate's whole verdict, veto included. The base model and each registered model are then measured here:
exact best-part search over the corpus chunked as the upsert task chunks it, on the TEST queries and on
the TRAIN queries users clicked on ("seen": the model alone, without online improvement), against their
graded qrels. Headline figures are means over the seeds (each seed's gain and the spread are printed
just before them); `*_minutes` is a task's own running time (started_at → finished_at), averaged.
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
from sim import beir, sample_catalog
from sim.corpus import chunks_of, dataset_or_none
from sim.ir_metrics import exact_best_part, mean_ndcg
from sim.sample_catalog import Catalog

CLICKS = ROOT / "conf" / "scripts" / "simulate_clicks.yaml"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="a BEIR-layout folder (default ../shared/data/cranfield)")
    parser.add_argument("--sample", action="store_true", help="the built-in sample catalogue instead")
    parser.add_argument("--preset", default="small", help="fine-tuning preset (default small)")
    parser.add_argument(
        "--adapt-preset",
        default="adapt",
        help="the corpus-only preset run before any click (default adapt; '' skips it)",
    )
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


class Scorer:
    """nDCG@10 of a model on query sets by exact best-part search over the corpus chunked as the upsert
    task chunks it (the corpus embedded once per model, for every set)."""

    def __init__(self, items: list[dict[str, Any]], threads: int) -> None:
        self.chunks, self.owners = chunks_of(items)
        self.threads = threads

    def ndcg(self, model_path: str, sets: list[Catalog]) -> list[float]:
        """Mean nDCG@10 of each set's queries with the model at `model_path`."""
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.threads)
        config = load_config()
        model = SentenceTransformer(resolve_model_path(model_path), device="cpu")
        model.max_seq_length = min(config.model.max_seq_length, model.max_seq_length or 512)
        kw = {"batch_size": config.model.batch_size, "normalize_embeddings": True, "show_progress_bar": False}
        parts = model.encode(self.chunks, **kw)
        out = []
        for judged in sets:
            ids = list(judged.queries)
            queries = model.encode([judged.queries[q] for q in ids], **kw)
            ranked = exact_best_part(queries, parts, self.owners, k=10)
            out.append(mean_ndcg(dict(zip(ids, ranked, strict=True)), judged.qrels))
        return out


def tuned_model(name: str, version: str, dst: str) -> str:
    """A local copy of the registered version's sentence-transformers folder."""
    import mlflow.artifacts

    from jobs.stores.mlflow_tracking import MODEL_SUBDIR

    uri = load_config().mlflow.tracking_uri
    path = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{name}/{version}", dst_path=dst, tracking_uri=uri, registry_uri=uri
    )
    return str(Path(path) / MODEL_SUBDIR)


def splits(args: argparse.Namespace) -> tuple[Catalog, Catalog]:
    """(train, test): a BEIR folder's splits, or the sample catalogue's."""
    if args.sample:
        return sample_catalog.generate(split="train"), sample_catalog.generate(split="test")
    folder = dataset_or_none(args.dataset)
    if folder is None:
        raise SystemExit("bench.finetune needs a BEIR folder with qrels/train.tsv and qrels/test.tsv")
    return beir.load(folder, "train"), beir.load(folder, "test")


def run_tasks(
    api: Api, index: str, preset: str, overrides: dict[str, Any], seeds: list[int], test: Catalog
) -> list[dict[str, Any]]:
    """One fine-tuning task per seed, one after the other (two at once would share the cores), with
    the test split as the task's benchmark: the gate refuses a challenger significantly worse on it
    (benchmark_veto). It never picks a trial; the figures are measured here, independently."""
    benchmark = {"name": "test qrels", "queries": test.queries, "qrels": test.qrels}
    tasks = []
    for seed in seeds:
        body = {
            "index": index,
            "preset": preset,
            "overrides": overrides,
            "seed": seed,
            "benchmark": benchmark,
        }
        accepted = api.call("POST", "/fine-tuning/tasks", json=body)
        task = api.wait_task(accepted["task_id"], f"{preset} seed {seed}", timeout_s=3600)
        result = task["result"]
        if result.get("status") != "trained" or not result.get("registered_version"):
            raise SystemExit(f"fine-tuning did not train: {result}")
        print(
            f"{preset} seed {seed}: pairs {result['pairs']}, judged on {result['evaluated_on']}", flush=True
        )
        tasks.append(task)
    return tasks


def adapt_then_finetune(
    api: Api, args: argparse.Namespace, train: Catalog, test: Catalog, index: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Catalog]:
    """Index the corpus; adapt to it (corpus only, before any click); simulate clicks on the train
    queries; fine-tune on corpus + clicks. The adapt tasks, the fine-tuning tasks, and the train queries
    users clicked on."""
    api.call("POST", "/indexes", json={"name": index})
    began = time.monotonic()
    for start in range(0, len(train.items), 500):
        batch = train.items[start : start + 500]
        accepted = api.call("POST", "/items/upsert", json={"index": index, "items": batch})
        api.wait_task(accepted["task_id"], f"upsert {start + len(batch)}/{len(train.items)}")
    print(f"upsert: {len(train.items)} items in {time.monotonic() - began:.0f} s", flush=True)
    adapted = run_tasks(api, index, args.adapt_preset, {}, args.seeds, test) if args.adapt_preset else []
    cfg = OmegaConf.merge(OmegaConf.load(CLICKS), {"users_per_query": args.users})
    if args.shown is not None:
        cfg.limit = args.shown
    report = simulate(api, train, cfg, index=index)
    wait_applied(api, report.task_ids)
    print(f"clicks: {report.summary()}", flush=True)
    tuned = run_tasks(api, index, args.preset, args.overrides, args.seeds, test)
    seen = Catalog(
        items=[],
        queries={q: t for q, t in train.queries.items() if q in report.clicked_queries},
        qrels={q: r for q, r in train.qrels.items() if q in report.clicked_queries},
    )
    return adapted, tuned, seen


def main() -> None:
    args = arguments()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    train, test = splits(args)
    env, key = bench_environment(own_mlflow=True)  # before any config is composed
    threads = args.threads or os.cpu_count() or 1
    overrides = f"{os.environ.get('EMBEDLOOP_OVERRIDES', '')} embedder.torch_threads={threads}"
    overrides += f" fine_tuning.torch_threads={threads}"
    env["EMBEDLOOP_OVERRIDES"] = overrides
    index = f"bench_ft_{uuid.uuid4().hex[:8]}"
    with running_stack(args.port, env, LOG_DIR) as url:
        adapted, tuned, seen = adapt_then_finetune(Api(url, key), args, train, test, index)

    scorer = Scorer(test.items, threads)
    base_test, base_seen = scorer.ndcg(load_config().model.path, [test, seen])
    name = f"{load_config().fine_tuning.registered_model_prefix}{index}"
    rows: list[tuple[Any, ...]] = []
    figures: dict[str, list[float]] = {"adapt": [], "finetune": [], "seen": []}
    for label, tasks in (("adapt", adapted), ("finetune", tuned)):
        for seed, task in zip(args.seeds, tasks, strict=True):
            result = task["result"]
            with tempfile.TemporaryDirectory() as tmp:
                model = tuned_model(name, result["registered_version"], tmp)
                on_test, on_seen = scorer.ndcg(model, [test, seen])
            figures[label].append(100 * (on_test - base_test) / base_test)
            if label == "finetune":
                figures["seen"].append(100 * (on_seen - base_seen) / base_seen)
            held_out = (result["champion"]["ndcg_at_10"], result["challenger"]["ndcg_at_10"])
            rows.append(
                (
                    label,
                    seed,
                    _pairs(result["pairs"]),
                    f"{result['evaluated_on']} {held_out[0]:.4f} → {held_out[1]:.4f}",
                    result["promoted"],
                    f"{base_test:.4f} → {on_test:.4f} ({figures[label][-1]:+.2f}%)",
                    f"{base_seen:.4f} → {on_seen:.4f} ({100 * (on_seen - base_seen) / base_seen:+.2f}%)",
                    f"{_minutes(task):.2f}",
                )
            )
    print_table(
        [
            "task",
            "seed",
            "pairs",
            "held-out (judged on)",
            "promoted",
            "TEST qrels",
            "clicked train qrels",
            "min",
        ],
        rows,
    )
    print(f"preset {args.preset} {json.dumps(args.overrides)}; adapt preset {args.adapt_preset}")
    for label in ("adapt", "finetune", "seen"):
        if figures[label]:
            each = ", ".join(f"{g:+.2f}" for g in figures[label])
            print(f"{label} gains per seed: {each} (std {_std(figures[label]):.2f})")
    print(f"finetune_ndcg10_base: {base_test:.4f}")
    if figures["adapt"]:
        print(f"adapt_ndcg10_gain_pct: {statistics.mean(figures['adapt']):.2f}")
        print(f"adapt_minutes: {statistics.mean(_minutes(t) for t in adapted):.2f}")
    print(f"finetune_ndcg10_gain_pct: {statistics.mean(figures['finetune']):.2f}")
    print(f"finetune_seen_ndcg10_gain_pct: {statistics.mean(figures['seen']):.2f}")
    print(f"finetune_minutes: {statistics.mean(_minutes(t) for t in tuned):.2f}")


def _pairs(pairs: dict[str, int]) -> str:
    return " ".join(f"{kind} {n}" for kind, n in pairs.items() if n)


def _std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def _minutes(task: dict[str, Any]) -> float:
    return (_ts(task["finished_at"]) - _ts(task["started_at"])) / 60


def _ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


if __name__ == "__main__":
    main()
