"""When a model version leaves Triton: once no collection of its index uses it. Shared by reindex
cleanup (an old collection dropped) and experiments (a losing candidate dropped)."""

from __future__ import annotations

from functions.context import Context
from functions.records import NewTask

UNDEPLOY_KIND = "deployment.undeploy"


async def undeploy_if_unused(
    index: str, version: str, ctx: Context, idempotency_key: str | None = None
) -> NewTask | None:
    """The undeploy task of `version` when it is deployed (Triton) and no collection of `index` uses it,
    else None. Whether this process embeds through Triton does not matter: the web process may embed
    queries in-process while the gpu pool embeds through Triton."""
    if ctx.deployments is None:
        return None
    if any(c.model_version == version for c in await ctx.collections.collections_of(index)):
        return None
    name = ctx.embedders.registered_name(index)
    if await ctx.deployments.get(f"{name}@{version}") is None:
        return None
    return NewTask(
        kind=UNDEPLOY_KIND, request={"model": name, "version": version}, idempotency_key=idempotency_key
    )
