"""`make up`'s supervisor restarts a Procfile process that dies and stops them all on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def _wait(predicate: Callable[[], object], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_dead_process_is_restarted_and_sigterm_stops_everything(tmp_path: Path) -> None:
    starts, sleeper_pid = tmp_path / "starts", tmp_path / "sleeper.pid"
    (tmp_path / "Procfile").write_text(
        f"crasher: echo started $EMBEDLOOP_SUPERVISE_TEST >> {starts}; exit 3\n"
        f"sleeper: echo $$ > {sleeper_pid}; exec sleep 600\n"
        "unused: exit 0\n"
    )
    (tmp_path / "extra.env").write_text("EMBEDLOOP_SUPERVISE_TEST=from-env-file\n")
    argv = [sys.executable, "-m", "scripts.services.supervise", "-f", str(tmp_path / "Procfile")]
    argv += ["-e", str(tmp_path / "extra.env"), "--max-backoff", "0.2", "crasher", "sleeper"]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # Restarted again and again (it dies at once each time), while the other one keeps running.
        _wait(lambda: starts.exists() and len(starts.read_text().splitlines()) >= 3, "no restarts")
        _wait(lambda: sleeper_pid.exists() and sleeper_pid.read_text().strip(), "sleeper never started")
        pid = int(sleeper_pid.read_text())
        assert _alive(pid)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert set(starts.read_text().splitlines()) == {"started from-env-file"}
    assert not _alive(pid)  # the signal reached the process group, not just the shell
    assert "crasher exited with 3" in output
    assert "unused" not in output  # only the named processes run
