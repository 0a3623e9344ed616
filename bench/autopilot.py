"""The autopilot: two cycles back to back on one index while simulated users never stop searching; how
each ended, what failed, and how long a cycle takes (its steps' own times, and the wall time).

`python -m bench.autopilot [--preset small] [--users 10] [--searchers 2] [--port 8787]`

A stack is started here (web + cpu + gpu workers on the bench database and Redis db, Triton serving the
models, MLflow under .data/bench-mlflow). The sample catalogue is upserted into a fresh index, the base
version deployed, simulated users click on the train queries, and the autopilot is turned on. Each cycle
is started with `POST /indexes/{name}/autopilot/run` (force: the bench does not wait a day between
cycles) and runs by itself: fine-tuning, deployment, reindex (a client keeps writing), the online
experiment (simulated users search train and test queries in rounds on the interleaved lists), the
switch or discard, cleanup. Between the cycles a new round of users clicks, so the second cycle trains
on more feedback from the first cycle's champion.
"""

from __future__ import annotations

import argparse
import logging
import uuid
from types import SimpleNamespace

from bench import LOG_DIR, bench_environment, print_table
from jobs.bootstrap import load_config
from scripts.lifecycle.api_client import Api
from scripts.lifecycle.autopilot import policy_body, run_cycle, wall_s
from scripts.lifecycle.load import SearchLoad, WriteLoad
from scripts.lifecycle.steps import deploy, upsert
from scripts.simulate_clicks import Settings, simulate, wait_applied
from sim import sample_catalog

CYCLES = 2


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small", help="fine-tuning preset of each cycle (default small)")
    parser.add_argument("--users", type=int, default=10, help="simulated users per train query (default 10)")
    parser.add_argument("--searchers", type=int, default=2, help="background searchers (default 2)")
    parser.add_argument("--port", type=int, default=8787)
    return parser.parse_args()


def settings(args: argparse.Namespace) -> SimpleNamespace:
    """The lifecycle's cycle settings (conf/scripts/lifecycle.yaml), as the bench runs them."""
    return SimpleNamespace(
        autopilot=SimpleNamespace(min_new_sessions=200, min_interval_s=86400),
        preset=args.preset,
        experiment=SimpleNamespace(
            share=1.0, min_sessions=100, max_sessions=2000, users_per_round=2, max_rounds=30
        ),
        cleanup_grace_s=10,
        timeout_s=3600,
    )


def main() -> None:
    args = arguments()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    env, key = bench_environment(own_mlflow=True)  # before any config is composed
    items, splits = sample_catalog.generate_splits(7)
    train = sample_catalog.Catalog(items=items, queries=splits["train"][0], qrels=splits["train"][1])
    both = sample_catalog.Catalog(
        items=items,
        queries={**splits["train"][0], **splits["test"][0]},
        qrels={**splits["train"][1], **splits["test"][1]},
    )
    index = f"bench_auto_{uuid.uuid4().hex[:8]}"
    cfg = settings(args)
    from scripts.services.stack import running_stack

    rows, cycles = [], []
    with running_stack(args.port, env, LOG_DIR, gpu_overrides="embedder.backend=triton") as url:
        api = Api(url, key)
        blue = api.call(
            "GET", f"/collections/{api.call('POST', '/indexes', json={'name': index})['blue_collection_id']}"
        )
        model = f"{load_config().fine_tuning.registered_model_prefix}{index}"
        deploy(api, model, blue["model_version"])
        upsert(api, index, items, 500)
        api.call("PUT", f"/indexes/{index}/autopilot", json=policy_body(cfg, None))
        queries = list(both.queries.values())
        with SearchLoad(url, key, index, queries, clients=args.searchers) as searchers:
            for n in range(1, CYCLES + 1):
                users = Settings(users_per_query=args.users, user_prefix=f"c{n}-", seed=7 + n)
                clicked = simulate(api, train, users, index=index)
                wait_applied(api, clicked.task_ids)
                writer = WriteLoad(url, key, index, items[:50])
                watch = run_cycle(api, index, cfg, both, users, writer, lambda s, line: print(f"{s}: {line}"))
                view = watch.view
                own, wall = sum(s["seconds"] for s in view["steps"]), wall_s(view)
                cycles.append((view, own, wall))
                steps = ", ".join(f"{s['step']} {s['seconds']:.0f} s" for s in view["steps"] if s["task_id"])
                rows.append(
                    (
                        n,
                        view["outcome"],
                        view["failed_step"] or "",
                        f"{own / 60:.2f}",
                        f"{wall / 60:.2f}",
                        writer.failed,
                        steps,
                    )
                )
        failed_searches = searchers.failed
    print_table(
        ["cycle", "outcome", "failed at", "steps (min)", "wall (min)", "failed writes", "step times"], rows
    )
    print(f"searches during both cycles: {searchers.ok} ok, {failed_searches} failed {searchers.errors[:3]}")
    failed = sum(view["outcome"] == "failed" for view, _, _ in cycles)
    print(f"autopilot_failed_cycles: {failed}")
    print(f"autopilot_failed_searches: {failed_searches}")
    # Per cycle, the mean of the two: the sum of its steps' own times, and its wall time.
    print(f"autopilot_cycle_minutes: {sum(o for _, o, _ in cycles) / len(cycles) / 60:.2f}")
    print(f"autopilot_cycle_wall_minutes: {sum(w for _, _, w in cycles) / len(cycles) / 60:.2f}")


if __name__ == "__main__":
    main()
