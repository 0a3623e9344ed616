"""Private Postgres and Redis servers that a test may stop, kill and restart (never the shared ones)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from arq.connections import RedisSettings
from msgspec.structs import replace

from functions.config import AppConfig
from functions.context import Context
from jobs.worker import build_worker
from scripts.services import postgres
from scripts.services.redis import server_binary


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrivatePostgres:
    """The bundled PostgreSQL on its own port and temp data dir, with the `embedloop` database."""

    def __init__(self) -> None:
        self.settings = postgres.PostgresSettings(
            host="127.0.0.1",
            port=free_port(),
            database="embedloop",
            user="embedloop",
            min_pgvector="0.8.4",
            data_dir=Path(tempfile.mkdtemp(prefix="embedloop-outage-pg-")),
        )

    @property
    def url(self) -> str:
        """Connection URL of its database."""
        return self.settings.url()

    async def start(self) -> None:
        """Initialise (first time) and start; returns once the database accepts connections."""
        # start_embedded runs its own event loop (asyncio.run): keep it off the test's.
        await asyncio.to_thread(postgres.start_embedded, self.settings, "embedloop_unused")

    def stop(self) -> None:
        """Stop it (fast shutdown: open connections are terminated)."""
        postgres.stop_embedded(self.settings)


class PrivateRedis:
    """A redis-server without persistence on its own port: a kill loses everything, as a flush would."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log_file = log_dir / f"redis-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """redis:// URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait until it answers PING."""
        argv = [str(server_binary()), "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--logfile", str(self.log_file)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 20
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL the server this object started, and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


def moved(config: AppConfig, database_url: str | None = None, redis_url: str | None = None) -> AppConfig:
    """The config with its database and/or Redis moved to the private servers."""
    if database_url is not None:
        config = replace(config, database=replace(config.database, url=database_url))
    if redis_url is not None:
        config = replace(config, redis=replace(config.redis, url=redis_url))
    return config


async def gpu_burst(ctx: Context, redis_url: str) -> None:
    """Drain the private Redis's gpu queue with the real worker, sharing `ctx`."""

    async def startup(arq_ctx: dict[str, Any]) -> None:
        arq_ctx["app"] = ctx

    async def shutdown(arq_ctx: dict[str, Any]) -> None:
        """The test owns the Context."""

    worker = build_worker(
        "gpu",
        ("env=test",),
        burst=True,
        on_startup=startup,
        on_shutdown=shutdown,
        handle_signals=False,
        redis_settings=RedisSettings.from_dsn(redis_url),
    )
    try:
        await worker.main()
    finally:
        await worker.close()


def worker_env(pg: PrivatePostgres, redis: PrivateRedis) -> dict[str, str]:
    """A worker subprocess's environment: the private servers, and quick reconnects."""
    env = {**os.environ, "TEST_DATABASE_URL": pg.url, "REDIS_URL": redis.url}
    env["EMBEDLOOP_OVERRIDES"] = "worker.cpu.reconnect_base_s=0.2 worker.cpu.reconnect_max_s=1"
    return env


def wait_for_log(log: Path, text: str, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    """Until `text` is in the log; fails at once if the process exited."""
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text(errors="replace"):
        assert proc.poll() is None, f"worker exited with {proc.returncode}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {text!r} in the worker log:\n{log.read_text()}"
        time.sleep(0.1)
