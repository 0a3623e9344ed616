"""Serve the API with uvicorn, host/port from the typed config (`api` group).

WEB_CONCURRENCY sets the number of web processes: a number, or `auto` for one per usable core (what
production runs when nothing else shares the cores). Unset, one process: `make up`, the lifecycle and
the tests kill and restart it as one process.
"""

from __future__ import annotations

import os
import sys

import uvicorn

from jobs.bootstrap import load_config


def workers(setting: str | None) -> int:
    """Web processes for a WEB_CONCURRENCY value: a positive number, `auto` (one per usable core), or
    unset (one)."""
    if not setting:
        return 1
    if setting.strip().lower() == "auto":
        return max(1, len(os.sched_getaffinity(0)))
    count = int(setting)
    if count < 1:
        raise ValueError(f"WEB_CONCURRENCY must be a positive number or 'auto', not {setting!r}")
    return count


def main(argv: list[str]) -> None:
    """Run `python -m scripts.web [hydra overrides...]`."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if argv:  # uvicorn's factory (and every worker process) composes again: pass them on by env
        os.environ["EMBEDLOOP_OVERRIDES"] = " ".join([os.environ.get("EMBEDLOOP_OVERRIDES", ""), *argv])
    config = load_config()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=config.api.host,
        port=config.api.port,
        workers=workers(os.environ.get("WEB_CONCURRENCY")),
        # uvloop and httptools (C): with asyncio's loop and h11 the server cost more than a search.
        loop="uvloop",
        http="httptools",
        log_level="info",
        access_log=config.api.access_log,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
