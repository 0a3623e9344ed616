"""Fine-tune an index's model from its clickstream, in this process, with a progress bar.

The same handler as the `fine_tuning.run` job (functions/fine_tuning/handler.py:run), on a Context
built for the gpu role (the trainer and the model registry). Settings: conf/scripts/finetune.yaml.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import hydra
import msgspec
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from functions.fine_tuning import handler
from functions.fine_tuning.messages import FineTuningRequest, FineTuningResult
from jobs.bootstrap import build_context, close_context, load_config
from sim import beir


class BarProgress:
    """The Progress port as a tqdm bar in percent; never cancelled (Ctrl-C stops the script)."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar

    async def report(self, done: float, total: float, message: str = "") -> None:
        """Move the bar to done/total and show the message."""
        pct = 100.0 * done / total if total > 0 else 0.0
        self._bar.n = round(min(100.0, max(0.0, pct)), 1)
        if message:
            self._bar.set_description_str(message[:60], refresh=False)
        self._bar.refresh()

    async def check_cancelled(self) -> None:
        """Never cancelled from outside."""


def request(cfg: DictConfig) -> FineTuningRequest:
    """The handler's request from the script's settings (validated like the API's)."""
    raw: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    body = {k: raw[k] for k in ("index", "preset", "since", "until", "seed") if raw.get(k) is not None}
    if raw.get("overrides"):
        body["overrides"] = raw["overrides"]
    if raw.get("benchmark"):
        split = beir.load(Path(str(raw["benchmark"])), str(raw["benchmark_split"]))
        name = f"{Path(str(raw['benchmark'])).name} {raw['benchmark_split']}"
        body["benchmark"] = {"name": name, "queries": split.queries, "qrels": split.qrels}
    return msgspec.convert(body, FineTuningRequest, strict=False)


async def run(cfg: DictConfig) -> FineTuningResult:
    """Build the gpu-role Context, run the handler under a progress bar, close the Context."""
    config = load_config(tuple(str(o) for o in cfg.app))
    ctx = await build_context(config, role="worker-gpu")
    try:
        with tqdm(total=100, unit="%", bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}") as bar:
            return await handler.run(request(cfg), ctx.with_progress(BarProgress(bar)))
    finally:
        await close_context(ctx)


@hydra.main(version_base="1.3", config_path="../conf/scripts", config_name="finetune")
def main(cfg: DictConfig) -> None:
    """Run one fine-tuning and print its result as JSON."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    result = asyncio.run(run(cfg))
    print(json.dumps(msgspec.to_builtins(result), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
