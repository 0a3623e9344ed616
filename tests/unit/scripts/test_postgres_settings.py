"""The embedded server's settings: `auto` shared_buffers and the -c options they become."""

from __future__ import annotations

from scripts.services.postgres import server_options, shared_buffers_mb
from scripts.services.settings import load_settings

GIB = 2**30


def test_auto_shared_buffers_is_a_quarter_of_memory_within_bounds() -> None:
    assert shared_buffers_mb(24 * GIB) == 6144
    assert shared_buffers_mb(2 * GIB) == 512
    assert shared_buffers_mb(256 * 2**20) == 128  # never below Postgres's own default
    assert shared_buffers_mb(256 * GIB) == 8192  # beyond 8 GB the OS cache serves as well


def test_options_resolve_auto_and_pass_the_rest_verbatim() -> None:
    options = server_options({"shared_buffers": "auto", "work_mem": "16MB"}, 8 * GIB)
    assert options == ["-c", "shared_buffers=2048MB", "-c", "work_mem=16MB"]
    assert server_options({"shared_buffers": "512MB"}, 8 * GIB) == ["-c", "shared_buffers=512MB"]
    assert server_options({}, 8 * GIB) == []


def test_config_gives_the_embedded_server_auto_shared_buffers() -> None:
    assert dict(load_settings([]).postgres.server_settings) == {"shared_buffers": "auto"}
    moved = load_settings(["services.postgres.server_settings.shared_buffers=1GB"])
    assert dict(moved.postgres.server_settings) == {"shared_buffers": "1GB"}
