"""Serve the API with uvicorn, host/port/workers from the typed config (`api` group)."""

from __future__ import annotations

import os
import sys

import uvicorn

from jobs.bootstrap import load_config


def main(argv: list[str]) -> None:
    """Run `python -m scripts.web [hydra overrides...]`."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if argv:  # uvicorn's factory (and every worker process) composes again: pass them on by env
        os.environ["EMBEDLOOP_OVERRIDES"] = " ".join([os.environ.get("EMBEDLOOP_OVERRIDES", ""), *argv])
    config = load_config()
    workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=config.api.host,
        port=config.api.port,
        workers=workers,
        log_level="info",
        proxy_headers=True,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
