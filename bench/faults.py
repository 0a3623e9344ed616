"""Faults: kill -9, lost services and bad input against the real processes; nothing may be lost or 500.

`python -m bench.faults [--wait 75] [--port 0] [--skip PHASE ...]`

Runs on a Postgres cluster and a redis-server of its own (temp dirs, free ports: it stops both) and
its own web + cpu + gpu worker processes (scripts/services/stack.py's commands; the gpu pool embeds
in-process, so the shared Triton is not touched). Phases, each bounded, each printing -1 and the
reason when it cannot run:

- stuck: kill -9 of the gpu pool during 40 upserts of 50 items, then of the cpu pool during a burst of
  improvement.apply tasks; a replacement starts at once. faults_stuck_tasks counts tasks not ending
  `done` exactly once within --wait seconds, plus index objects missing or duplicated;
  faults_recovery_s runs from the replacement's start to the last task's finished_at (inf: not all
  ended). The pending sweep's stale_pending_s is 15 s here (60 s by default), so work lost with
  Redis's queue is requeued within the bench's budget.
- bad input: the corpus of bench/_faults_inputs.py against every operation of /schema/openapi.json;
  faults_5xx_bad_input counts 5xx answers (and no answer at all).
- acknowledged: upserts and sessions written through a Redis restart and a kill -9 of web, gpu and cpu
  (each started again, as a supervisor would); faults_acknowledged_lost counts 2xx writes missing at
  the end.
- outage: searches and upserts while Postgres is stopped 15 s, then while Redis restarts;
  faults_bare_500_during_outage counts 500s, 5xx that are not problem+json, 503s without Retry-After,
  requests with no answer, and each (service, request kind) not answering 2xx within 5 s of the
  restart. No process is restarted in this phase.
"""

from __future__ import annotations

import argparse
import math
import secrets
import signal
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench import LOG_DIR, print_table
from bench._faults_api import Api
from bench._faults_durable import acknowledged
from bench._faults_kills import cpu_kill, gpu_kill
from bench._faults_probes import bad_input, outage
from bench._faults_stack import PrivateServices, Stack, free_port

PHASES = ("stuck", "bad_input", "acknowledged", "outage")
FIGURES = (
    "faults_stuck_tasks",
    "faults_recovery_s",
    "faults_acknowledged_lost",
    "faults_5xx_bad_input",
    "faults_bare_500_during_outage",
)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wait", type=float, default=75, help="seconds tasks get to end after a fault")
    parser.add_argument("--port", type=int, default=0, help="web port (default: a free one)")
    parser.add_argument("--skip", nargs="*", default=[], choices=PHASES, help="phases not to run")
    return parser.parse_args()


def guarded(name: str, reasons: list[str], run: Callable[[], Any]) -> Any:
    """Run one phase; None (and the reason) when it could not run."""
    began = time.monotonic()
    try:
        return run()
    except Exception as exc:  # noqa: BLE001 - a phase that cannot run prints -1 with its reason
        traceback.print_exc()
        reasons.append(f"{name} could not run: {type(exc).__name__}: {str(exc)[:300]}")
        return None
    finally:
        print(f"faults: phase {name} took {time.monotonic() - began:.0f} s", flush=True)


def measure(stack: Stack, services: PrivateServices, api: Api, args: argparse.Namespace) -> list[str]:
    reasons: list[str] = []
    kills = None
    if "stuck" not in args.skip:
        kills = guarded(
            "stuck", reasons,
            lambda: [gpu_kill(stack, api, args.wait), cpu_kill(stack, api, "faults_gpu", args.wait)],
        )  # fmt: skip
    bad = None if "bad_input" in args.skip else guarded("bad_input", reasons, lambda: bad_input(api, stack))
    durable = None
    if "acknowledged" not in args.skip:
        durable = guarded("acknowledged", reasons, lambda: acknowledged(stack, services, api, args.wait))
    lost = None
    if "outage" not in args.skip:
        fast = Api(stack.url, api.http.headers["Authorization"].split()[-1], timeout_s=10)
        index = "faults_gpu" if kills else "faults_out"
        lost = guarded("outage", reasons, lambda: outage(fast, services, index))

    if kills:
        print_table(
            ["kill -9, replacement at once", "tasks", "running at kill", "not ended", "not done",
             "ended twice", "objects missing", "duplicated", "recovery s"],
            [(k.name, k.tasks, k.running_at_kill, k.not_terminal, k.not_done, k.flipped, k.missing,
              k.duplicated, k.recovery_s) for k in kills],
        )  # fmt: skip
        for note in [n for k in kills for n in k.notes][:10]:
            print(f"  {note}")
    if bad:
        print(f"bad input: {bad[0]} requests, {bad[1]} answered 5xx or not at all")
        for line in bad[2][:25]:
            print(f"  {line}")
    if durable:
        acked = len(durable.acked_upserts) + len(durable.acked_sessions)
        print_table(
            ["acknowledged writes", "sent", "acked", "lost"],
            [("upserts (all objects there at the end)", "", len(durable.acked_upserts), durable.lost_upserts),
             ("sessions (readable at the end)", "", len(durable.acked_sessions), durable.lost_sessions),
             ("all writes", durable.sent, acked, durable.lost)],
        )  # fmt: skip
        print(f"  refused: {durable.refused}; acked upsert tasks not done: {durable.tasks_not_done}")
        for event in durable.events:
            print(f"  {event}")
    bare = None
    if lost:
        slow = [k for k, v in lost.recovered.items() if v is None or v > 5]
        seen = lost.seen()
        rows = [(k, seen.get(k, ""), "never" if v is None else v) for k, v in lost.recovered.items()]
        print_table(["outage", "answers (stop → restart + 8 s)", "first 2xx after restart, s"], rows)
        problems = lost.bad()
        for line in sorted(set(problems))[:15]:
            print(f"  {problems.count(line)} x {line}")
        bare = len(problems) + len(slow)
    for reason in reasons:
        print(reason)

    def figure(value: float | None, fmt: str = "{:d}") -> str:
        return "-1" if value is None else ("inf" if math.isinf(value) else fmt.format(value))

    stuck = sum(k.stuck for k in kills) if kills else None
    recovery = max(k.recovery_s for k in kills) if kills else None
    return [
        f"faults_stuck_tasks: {figure(stuck)}",
        f"faults_recovery_s: {figure(recovery, '{:.1f}')}",
        f"faults_acknowledged_lost: {figure(durable.lost if durable else None)}",
        f"faults_5xx_bad_input: {figure(bad[1] if bad else None)}",
        f"faults_bare_500_during_outage: {figure(bare)}",
    ]


def _exit_on_term(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # through the finally below: no private server is left running


def main() -> None:
    args = arguments()
    signal.signal(signal.SIGTERM, _exit_on_term)
    services = PrivateServices()
    key = f"faults-{secrets.token_hex(8)}"
    env = {
        "EMBEDLOOP_ADMIN_KEYS": key,
        "EMBEDLOOP_DATA_DIR": str(services.root / "data"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{services.root}/mlflow.db",
        "MLFLOW_ARTIFACTS_URI": str(services.root / "mlartifacts"),
        "EMBEDLOOP_OVERRIDES": "tasks.stale_pending_s=15",
    }
    headlines = [f"{name}: -1" for name in FIGURES]
    stack = None
    try:
        services.start()
        env["DATABASE_URL"], env["REDIS_URL"] = services.pg.url(), services.redis.url
        stack = Stack(args.port or free_port(), env, LOG_DIR / "faults")
        for name in ("web", "worker", "gpu"):
            stack.start(name)
        if not stack.wait_ready(180):
            raise RuntimeError(f"the stack was not ready within 180 s (logs in {stack.log_dir})")
        api = Api(stack.url, key)
        headlines = measure(stack, services, api, args)
        api.close()
    except Exception as exc:  # noqa: BLE001 - the figures are printed whatever happened
        traceback.print_exc()
        print(f"faults: could not run: {type(exc).__name__}: {exc}")
    finally:
        if stack is not None:
            stack.close()
        services.close()
    print("\n".join(headlines))


if __name__ == "__main__":
    main()
