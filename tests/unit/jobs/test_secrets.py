"""The generated admin key is printed by the start that generated it, never by a later one that reads
it back from secrets.env (it would land in every log)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# What the web process does at start (the pools compose the same config through load_config).
START = """
from app.main import create_app
from jobs.bootstrap import load_config
create_app()
print(load_config().api.admin_keys[0])
"""


def _start(data_dir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    """A process composing its config as every start does, with env=local and its own data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMBEDLOOP_")}
    env.update(EMBEDLOOP_ENV="local", EMBEDLOOP_DATA_DIR=str(data_dir), **extra)
    command = [sys.executable, "-c", START]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)


def test_the_key_is_printed_once_when_generated_then_never(tmp_path: Path) -> None:
    first = _start(tmp_path)
    key = first.stdout.strip()
    assert key.startswith("el_admin_")
    assert f"generated admin key: {key}" in first.stderr
    stored = (tmp_path / "secrets.env").read_text()
    assert f"EMBEDLOOP_ADMIN_KEYS={key}" in stored

    again = _start(tmp_path)
    assert again.stdout.strip() == key  # the same key, read back
    assert key not in again.stderr
    assert "generated" not in again.stderr
    assert (tmp_path / "secrets.env").read_text() == stored


def test_a_configured_key_is_neither_generated_nor_printed(tmp_path: Path) -> None:
    given = _start(tmp_path, EMBEDLOOP_ADMIN_KEYS="my-own-key", EMBEDLOOP_WEBHOOK_SECRET="s")
    assert given.stdout.strip() == "my-own-key"
    assert "admin key" not in given.stderr
    assert not (tmp_path / "secrets.env").exists()
