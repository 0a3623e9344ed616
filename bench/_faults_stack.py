"""Private services for the fault bench: a Postgres cluster and a redis-server of its own (free ports,
temp dirs) that it may stop, and the web + worker processes, each of which it may kill and replace."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from scripts.services.postgres import PostgresSettings, start_embedded, stop_embedded
from scripts.services.redis import RedisSettings, start_own, stop_own
from scripts.services.stack import ROOT, _commands

DATABASE = "embedloop_faults"
MIN_PGVECTOR = "0.8.4"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateServices:
    """Postgres and Redis that only this bench uses, so stopping them harms no one else."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="embedloop-faults-"))
        self.pg = PostgresSettings("127.0.0.1", free_port(), DATABASE, "embedloop", MIN_PGVECTOR, self.root)
        self.redis = RedisSettings("127.0.0.1", free_port(), self.root / "redis")

    def start(self) -> None:
        """initdb + start the cluster, create the database with pgvector; start redis-server."""
        start_embedded(self.pg, DATABASE)
        start_own(self.redis)

    def stop_postgres(self) -> None:
        """Fast shutdown: open connections are cut, as when a server goes away."""
        stop_embedded(self.pg)

    def start_postgres(self) -> None:
        """Start the same cluster again (data kept)."""
        start_embedded(self.pg, DATABASE)

    def stop_redis(self) -> None:
        """SHUTDOWN NOSAVE: the server runs without persistence, so queued jobs are gone, as in a crash."""
        stop_own(self.redis)

    def start_redis(self) -> None:
        """A fresh, empty redis-server on the same port."""
        start_own(self.redis)

    def close(self) -> None:
        """Stop both (whatever state they are in) and delete their files."""
        for stop in (self.stop_redis, self.stop_postgres):
            try:
                stop()
            except Exception as exc:  # noqa: BLE001 - cleanup goes on; the reason is shown
                print(f"faults: cleanup: {exc}")
        shutil.rmtree(self.root, ignore_errors=True)


class Stack:
    """web, worker (cpu) and gpu as child processes; any one can be killed with SIGKILL and replaced."""

    def __init__(self, port: int, env: dict[str, str], log_dir: Path) -> None:
        self.port, self.log_dir = port, log_dir
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, **env, "TOKENIZERS_PARALLELISM": "false"}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: dict[str, int] = {}
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str) -> float:
        """Start (or replace) one process; returns when it was started (time.time())."""
        self.starts[name] = self.starts.get(name, 0) + 1
        log = (self.log_dir / f"{name}.{self.starts[name]}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            _commands(self.port)[name], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        return time.time()

    def kill9(self, name: str) -> None:
        """SIGKILL: no shutdown code runs, as when the kernel or an operator kills it."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def exited(self) -> list[str]:
        """The processes that are no longer running (killed or died on their own)."""
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def wait_ready(self, timeout_s: float) -> bool:
        """Whether /ready answered 200 within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/ready", timeout=3).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        return False

    def wait_worker(self, name: str, timeout_s: float = 60) -> bool:
        """Whether a worker's log says it is polling its queue (arq prints 'Starting worker')."""
        deadline = time.monotonic() + timeout_s
        log = self.log_dir / f"{name}.{self.starts[name]}.log"
        while time.monotonic() < deadline and self.procs[name].poll() is None:
            if "Starting worker" in log.read_text(errors="replace"):
                return True
            time.sleep(0.2)
        return False

    def close(self) -> None:
        """SIGTERM every process, SIGKILL what has not exited after 15 s."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
