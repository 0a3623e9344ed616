"""Reindex an index with another model version from the command line, with a progress bar.

The same submit as `POST /reindex/tasks` (functions/reindex/handler.py), followed until the task
ends; with `worker=true` a gpu worker runs in this process. Settings: conf/scripts/reindex.yaml.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import hydra
import msgspec
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from functions.context import Context
from functions.records import Task
from functions.reindex import handler
from functions.reindex.messages import ReindexSubmission
from jobs.bootstrap import build_context, close_context, load_config
from jobs.worker import build_worker

FIELDS = ("index", "model_version", "source_collection_id", "batch_size", "concurrency", "auto_switch")


def submission(cfg: DictConfig) -> ReindexSubmission:
    """The request from the script's settings (validated like the API's)."""
    raw: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    body = {k: raw[k] for k in (*FIELDS, "idempotency_key") if raw.get(k) is not None}
    body["model_version"] = str(body["model_version"])
    return msgspec.convert(body, ReindexSubmission, strict=False)


async def follow(task_id: str, ctx: Context) -> Task:
    """Show the task's progress and message until it ends."""
    with tqdm(
        total=100, unit="%", bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}<{remaining}"
    ) as bar:
        while True:
            task = await handler.get(task_id, ctx)
            bar.n = round(task.progress, 1)
            bar.set_description_str(task.message[:70], refresh=False)
            bar.refresh()
            if task.status in ("done", "failed", "cancelled"):
                return task
            await asyncio.sleep(0.5)


async def run(cfg: DictConfig) -> Task:
    """Submit, run a gpu worker here if asked, follow the task to its end."""
    config = load_config(tuple(str(o) for o in cfg.app))
    ctx = await build_context(config, role="worker-gpu")
    worker_task = None
    try:
        accepted = await handler.submit(submission(cfg), ctx)
        if cfg.worker:

            async def startup(arq_ctx: dict[str, Any]) -> None:
                arq_ctx["app"] = ctx

            async def shutdown(arq_ctx: dict[str, Any]) -> None:
                """This script owns the Context."""

            worker = build_worker(
                "gpu",
                tuple(str(o) for o in cfg.app),
                on_startup=startup,
                on_shutdown=shutdown,
                handle_signals=False,
            )
            worker_task = asyncio.create_task(worker.main())
        return await follow(accepted.task_id, ctx)
    finally:
        if worker_task is not None:
            worker_task.cancel()
            await asyncio.gather(worker_task, return_exceptions=True)
        await close_context(ctx)


@hydra.main(version_base="1.3", config_path="../conf/scripts", config_name="reindex")
def main(cfg: DictConfig) -> None:
    """Run one reindex and print the task (its result holds the verification) as JSON."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    task = asyncio.run(run(cfg))
    print(json.dumps(msgspec.to_builtins(task), indent=2, sort_keys=True, default=str))


if __name__ == "__main__":
    main()
