"""Start the web process and both worker pools as child processes, and stop them cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _commands(port: int) -> dict[str, list[str]]:
    return {
        "web": [sys.executable, "-m", "scripts.web", f"api.port={port}"],
        "worker": [sys.executable, "-m", "jobs.cpu"],  # jobs.serve: rides out a Redis outage
        "gpu": [sys.executable, "-m", "jobs.gpu"],
    }


def _env(name: str, base: dict[str, str], gpu_overrides: str) -> dict[str, str]:
    """The gpu pool may get Hydra overrides of its own (e.g. embedder.backend=triton: it embeds
    through Triton while the web process embeds queries in-process)."""
    if name != "gpu" or not gpu_overrides:
        return base
    return {**base, "EMBEDLOOP_OVERRIDES": f"{base.get('EMBEDLOOP_OVERRIDES', '')} {gpu_overrides}".strip()}


@contextmanager
def running_stack(
    port: int, env: dict[str, str], log_dir: Path, ready_timeout_s: float = 180, gpu_overrides: str = ""
) -> Iterator[str]:
    """Yield the API base URL once /ready answers; terminate every process on exit (SIGTERM to this
    process included: it exits through here instead of leaving the children running)."""
    _check_port_free(port)
    log_dir.mkdir(parents=True, exist_ok=True)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    full_env = {**os.environ, **env, "TOKENIZERS_PARALLELISM": "false"}
    on_term = None
    if threading.current_thread() is threading.main_thread():
        on_term = signal.signal(signal.SIGTERM, _exit_on_term)
    try:
        for name, cmd in _commands(port).items():
            log = (log_dir / f"{name}.log").open("wb")
            procs[name] = subprocess.Popen(
                cmd, cwd=ROOT, env=_env(name, full_env, gpu_overrides), stdout=log, stderr=subprocess.STDOUT
            )
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, procs, ready_timeout_s, log_dir)
        yield url
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if on_term is not None:
            signal.signal(signal.SIGTERM, on_term)


def _exit_on_term(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _check_port_free(port: int) -> None:
    """A web process already on the port would answer /ready for a stack whose own web never started."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} is in use (another stack still running?): choose port=<other>")


def _wait_ready(url: str, procs: dict[str, subprocess.Popen[bytes]], timeout_s: float, logs: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                tail = (logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")
        try:
            if httpx.get(f"{url}/ready", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the stack was not ready within {timeout_s:.0f} s (logs in {logs})")
