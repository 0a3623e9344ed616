"""Worker processes as the Procfile starts them, for tests that kill them for real."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def procfile_process(name: str, log: Path, overrides: str = "") -> subprocess.Popen[bytes]:
    """The Procfile's `name` process on the test database and Redis, with EMBEDLOOP_OVERRIDES
    `overrides`; its output goes to `log` (read it when a test fails)."""
    procfile = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line)
    env = {**os.environ, "EMBEDLOOP_OVERRIDES": overrides}
    with log.open("ab") as out:
        return subprocess.Popen(
            shlex.split(procfile[name]), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def end(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Send `sig` (unless it has exited) and wait for the process; kill it after 30 s."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
