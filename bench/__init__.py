"""Benchmarks (`make bench`): each prints a table, then its headline figures last, `name: value` a line.

They run against their own database (`embedloop_bench`, or BENCH_DATABASE_URL) and their own Redis
database, so a running `make up` or test suite never picks up their jobs, nor they its data.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from jobs.bootstrap import ROOT, load_config
from jobs.envfile import load_env_file
from jobs.stores.postgres import MIN_PGVECTOR
from scripts.services.postgres import ensure_database, with_database

BENCH_DATABASE = "embedloop_bench"
# the test suite uses 15, `make up` and the demo 0; BENCH_REDIS_DB keeps two benches apart
BENCH_REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "13"))
LOG_DIR = ROOT / ".data" / "logs" / "bench"
PASSED_ON = (
    "DATABASE_URL",
    "REDIS_URL",
    "EMBEDLOOP_ADMIN_KEYS",
    "EMBEDLOOP_WEBHOOK_SECRET",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_ARTIFACTS_URI",
)


def bench_environment(own_mlflow: bool = False) -> tuple[dict[str, str], str]:
    """Point this process at the bench database and Redis db (before any config is composed); the
    environment for `running_stack`, and the admin key. `own_mlflow`: the bench's own MLflow store
    under .data/bench-mlflow, for this process and the stack (benches that register versions)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if own_mlflow:
        mlflow_dir = ROOT / ".data" / "bench-mlflow"
        mlflow_dir.mkdir(parents=True, exist_ok=True)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{mlflow_dir}/mlflow.db"
        os.environ["MLFLOW_ARTIFACTS_URI"] = str(mlflow_dir / "artifacts")
    load_env_file(ROOT / ".data" / "services.env")
    url = os.environ.get("BENCH_DATABASE_URL") or with_database(os.environ["DATABASE_URL"], BENCH_DATABASE)
    ensure_database(url, ".".join(map(str, MIN_PGVECTOR)))
    redis = os.environ["REDIS_URL"].rsplit("/", 1)[0] + f"/{BENCH_REDIS_DB}"
    os.environ.update(DATABASE_URL=url, REDIS_URL=redis)
    config = load_config()  # env=local: generates the admin key on first use
    return {k: os.environ[k] for k in PASSED_ON if k in os.environ}, config.api.admin_keys[0]


def machine_busy_s() -> float:
    """CPU seconds every process on this machine has run so far (/proc/stat: user, nice, system, irq,
    softirq; not idle, I/O wait or time the hypervisor stole)."""
    with open("/proc/stat") as stat:
        fields = stat.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def ms_percentiles(seconds: Sequence[float]) -> tuple[float, float, float]:
    """p50, p95 and p99 of latencies given in seconds, in milliseconds."""
    p50, p95, p99 = np.percentile(np.asarray(seconds) * 1000, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The lowest cosine between matching rows of two sets of normalised vectors."""
    return float(np.min(np.sum(a * b, axis=1)))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )

    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)
