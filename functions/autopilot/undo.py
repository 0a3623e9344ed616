"""What a failed cycle undoes before it is marked failed: the candidate collection it built and the
deployment of its challenger. Idempotent: a retried end finds them gone and undoes nothing twice."""

from __future__ import annotations

from functions.context import Context
from functions.records import Cycle
from functions.serving.unused import undeploy_if_unused
from functions.tasks import handler as tasks


async def clean_up(cycle: Cycle, facts: dict[str, object], ctx: Context) -> str:
    """Undo what a failed cycle built: its candidate collection (never blue) and the deployment of its
    challenger version when nothing else of the index uses it. Idempotent."""
    said = []
    candidate = facts.get("candidate_collection_id") or await _reindex_destination(cycle, ctx)
    blue = await ctx.collections.blue(cycle.index_name)
    if isinstance(candidate, str) and (blue is None or blue.id != candidate):
        outcome = await ctx.collections.drop_collection(candidate, ctx.config.collections.drop_grace_s)
        said.append(f"candidate {candidate} {outcome}")
    version = facts.get("challenger_version")
    if isinstance(version, str):
        key = f"autopilot:{cycle.id}:undeploy"
        new = await undeploy_if_unused(cycle.index_name, version, ctx, idempotency_key=key)
        if new is not None:
            await tasks.submit(new, ctx)
            said.append(f"undeploying version {version}")
    return "; ".join(said) or "nothing to undo"


async def _reindex_destination(cycle: Cycle, ctx: Context) -> str | None:
    """The collection a failed reindex step was building (its result is empty when it failed)."""
    if cycle.step != "reindex" or cycle.step_task_id is None or ctx.reindex is None:
        return None
    run = await ctx.reindex.get_run(cycle.step_task_id)
    return run.dest_collection_id if run is not None else None
