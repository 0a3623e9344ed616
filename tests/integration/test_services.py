"""`python -m scripts.services`: start is idempotent, the services answer, stop→start round-trips.

These run the real command in a subprocess against the real data directory, and leave the services
running (the rest of the suite uses them).
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest
import redis

from jobs.envfile import load_env_file, parse_env_file
from scripts.services.common import version_tuple

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_FILE = REPO_ROOT / ".data" / "services.env"

pytestmark = pytest.mark.integration


def services(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command in the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "scripts.services", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def start() -> dict[str, str]:
    """`start`, asserting success; return the resulting services.env."""
    proc = services("start")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return parse_env_file(ENV_FILE.read_text())


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return start()


def test_start_is_idempotent(env: dict[str, str]) -> None:
    began = time.monotonic()
    again = start()
    assert time.monotonic() - began < 10  # nothing to initialise or start: interpreter + Hydra only
    assert again == env
    assert set(env) == {
        "DATABASE_URL",
        "TEST_DATABASE_URL",
        "REDIS_URL",
        "MLFLOW_TRACKING_URI",
        "MLFLOW_ARTIFACTS_URI",
        "TRITON_URL",
        "TRITON_GRPC_URL",
    }


def test_status_exits_zero(env: dict[str, str]) -> None:
    proc = services("status")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [line.split()[0] for line in proc.stdout.splitlines()] == ["postgres", "redis", "mlflow", "triton"]


def test_env_prints_the_file(env: dict[str, str]) -> None:
    proc = services("env")
    assert proc.returncode == 0
    assert parse_env_file(proc.stdout) == env


async def _check_pgvector(url: str) -> None:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        version = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        distance = await conn.fetchval("SELECT '[1,2,3]'::vector <=> '[1,2,4]'::vector")
    finally:
        await conn.close()
    assert version_tuple(str(version)) >= (0, 8, 4)
    assert math.isclose(distance, 1 - 17 / math.sqrt(14 * 21), rel_tol=1e-5)


@pytest.mark.parametrize("key", ["DATABASE_URL", "TEST_DATABASE_URL"])
def test_postgres_has_pgvector(env: dict[str, str], key: str) -> None:
    asyncio.run(_check_pgvector(env[key]))


def test_redis_pings(env: dict[str, str]) -> None:
    client = redis.Redis.from_url(env["REDIS_URL"], socket_timeout=5)
    try:
        assert client.ping()
    finally:
        client.close()


def test_mlflow_store_is_prepared(env: dict[str, str]) -> None:
    artifacts = env["MLFLOW_ARTIFACTS_URI"]
    if artifacts.startswith("/"):
        assert Path(artifacts).is_dir()


def test_stop_start_round_trip(tmp_path: Path) -> None:
    """A private instance (own data dir and ports), so the suite's shared services stay up."""
    prefixes = ("DATABASE_URL", "REDIS_URL", "MLFLOW_", "TRITON_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.pop("TEST_DATABASE_URL", None)
    own = (
        f"services.data_dir={tmp_path}",
        "services.postgres.port=54391",
        "services.redis.port=6391",
        "deployment.server.http_port=8091",
        "deployment.server.grpc_port=8092",
    )

    def status() -> dict[str, str]:
        lines = services("status", *own, env=env).stdout.splitlines()
        return {line.split()[0]: line.split()[1] for line in lines}

    try:
        first = services("start", *own, env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        urls = parse_env_file((tmp_path / "services.env").read_text())
        assert ":54391/" in urls["DATABASE_URL"]
        assert ":6391/" in urls["REDIS_URL"]
        assert ":8091" in urls["TRITON_URL"]
        running = {"postgres": "running", "redis": "running", "mlflow": "", "triton": "running"}
        assert status() | {"mlflow": ""} == running
        assert services("stop", *own, env=env).returncode == 0
        after = status()
        assert after["postgres"] == after["redis"] == after["triton"] == "stopped"
        assert services("stop", *own, env=env).returncode == 0  # stopping twice is harmless
        again = services("start", *own, env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert parse_env_file((tmp_path / "services.env").read_text()) == urls
    finally:
        services("stop", *own, env=env)


def test_load_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.env"
    path.write_text("# comment\n\nA_KEY=new\nexport B_KEY='quoted=value'\n")
    monkeypatch.setenv("A_KEY", "old")
    monkeypatch.delenv("B_KEY", raising=False)
    assert load_env_file(path) == {"A_KEY": "new", "B_KEY": "quoted=value"}
    assert (os.environ["A_KEY"], os.environ["B_KEY"]) == ("old", "quoted=value")
    load_env_file(path, override=True)
    assert os.environ["A_KEY"] == "new"
    assert load_env_file(tmp_path / "missing.env") == {}
