"""Where the evaluation corpus lives, and its items split into parts the way the upsert task splits them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from functions.upsertion.logic import render
from jobs.bootstrap import ROOT, load_config
from jobs.stores.local_embedder import LocalEmbedder

# Where design.md puts the shared datasets: beside the repository.
CRANFIELD = ROOT.parent / "shared" / "data" / "cranfield"


def dataset_or_none(folder: str | None) -> Path | None:
    """The BEIR folder asked for, else Cranfield where design.md puts it; None when neither exists."""
    path = Path(folder) if folder else CRANFIELD
    return path.resolve() if (path / "corpus.jsonl").is_file() else None


def chunks_of(items: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Every item's chunks as the upsert task makes them, and the object each chunk belongs to."""
    config = load_config()
    embedder = LocalEmbedder(config.model, config.embedder)

    async def split_all() -> tuple[list[str], list[str]]:
        texts, owners = [], []
        for item in items:
            text = render(item["content"], None, None)
            for chunk in await embedder.split(
                text, config.upsertion.chunk_max_tokens, config.upsertion.chunk_overlap_tokens
            ):
                texts.append(chunk)
                owners.append(str(item["object_id"]))
        return texts, owners

    return asyncio.run(split_all())
