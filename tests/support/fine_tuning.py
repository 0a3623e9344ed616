"""Fine-tuning test helpers: a context with a fake trainer, and clickstream sessions over search."""

from __future__ import annotations

import dataclasses

from functions.context import Context
from tests.support.data_plane import Client, search
from tests.support.fakes import FakeTrainer
from tests.support.improvement import click, session_for


def with_trainer(ctx: Context, trainer: FakeTrainer) -> Context:
    """The context with the fake trainer (the champion is the base model, version 1)."""
    return dataclasses.replace(ctx, trainer=trainer)


async def searched_session(
    client: Client, index: str, query: str, *clicks: str, irrelevant: bool = False
) -> list[str]:
    """Search `query`, open a session on its results, click `clicks`; the ids shown, in rank order."""
    found = await search(client, index=index, query=query, limit=6)
    session_id = await session_for(client, found, irrelevant=irrelevant)
    for object_id in clicks:
        await click(client, session_id, object_id)
    return [hit["object_id"] for hit in found["hits"]]
