"""The lifecycle's process stack refuses a busy port instead of trusting whoever answers on it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from scripts.services.stack import running_stack


def test_a_busy_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(RuntimeError, match=f"port {port} is in use"), running_stack(port, {}, tmp_path):
            pass
    assert not list(tmp_path.iterdir())  # no process was started, no log written
