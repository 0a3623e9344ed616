"""Config for tests: the test environment's tree, composed from conf/ (where every default lives)."""

from __future__ import annotations

from functions.config import AppConfig
from jobs.bootstrap import load_config


def app_config() -> AppConfig:
    """The env=test config, composed once per process; change the values a test is about with
    `msgspec.structs.replace(app_config().search, max_limit=100)`."""
    return load_config(("env=test",))
