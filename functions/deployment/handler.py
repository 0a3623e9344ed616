"""Deployment entry points: queue a deploy or undeploy, run them (cpu pool), list what is served.

Deploy: registered version → TorchScript in the model repository → loaded by Triton → parity checked
against the export-time embeddings → ready. Any failure unloads and removes what was written, so
Triton never keeps a half-deployed version. Both jobs hold a lock per model and are idempotent.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import msgspec

from functions.context import Context
from functions.deployment import logic
from functions.deployment.messages import DeploymentList, DeployRequest, DeployResult, DeploySubmission
from functions.errors import Conflict, NotFound, PermanentFailure, Unavailable
from functions.ports import DeploymentStore, ModelServer
from functions.records import Deployment, NewTask
from functions.tasks import handler as tasks
from functions.tasks.messages import Accepted

DEPLOY_KIND = "deployment.deploy"
UNDEPLOY_KIND = "deployment.undeploy"


def _ports(ctx: Context) -> tuple[ModelServer, DeploymentStore]:
    if ctx.models is None or ctx.deployments is None:
        raise Unavailable("deployment is not enabled in this process (config deployment.enabled)")
    return ctx.models, ctx.deployments


async def submit_deploy(body: DeploySubmission, ctx: Context) -> Accepted:
    """Check the version is registered, then queue `deployment.deploy`."""
    _ports(ctx)
    if await ctx.registry.model_dir(body.model, body.version) is None:
        raise NotFound(f"model {body.model} has no registered version {body.version}", field="version")
    return await _submit(DEPLOY_KIND, body.request(), body.idempotency_key, body.callback_url, ctx)


async def submit_undeploy(deployment_id: str, ctx: Context) -> Accepted:
    """Refuse while a blue collection embeds with it (409), else queue `deployment.undeploy`."""
    _, store = _ports(ctx)
    model, version = logic.parse_id(deployment_id)
    if await store.get(deployment_id) is None:
        raise NotFound(f"no deployment {deployment_id}", field="deployment_id")
    await _refuse_if_blue(model, version, ctx)
    req = DeployRequest(model=model, version=version)
    return await _submit(UNDEPLOY_KIND, req, None, None, ctx)


async def _submit(
    kind: str, req: DeployRequest, key: str | None, callback_url: str | None, ctx: Context
) -> Accepted:
    new = NewTask(kind=kind, request=msgspec.to_builtins(req), idempotency_key=key, callback_url=callback_url)
    return await tasks.submit(new, ctx)


async def _refuse_if_blue(model: str, version: str, ctx: Context) -> None:
    index = logic.index_of(model, ctx.config.fine_tuning.registered_model_prefix)
    blues = [
        c for c in [await ctx.collections.blue(i.name) for i in await ctx.collections.list_indexes()] if c
    ]
    users = logic.blue_users(version, index, blues)
    if users:
        raise Conflict(f"{model}@{version} serves the blue collection {users[0]}; switch it first")


async def deploy(req: DeployRequest, ctx: Context) -> DeployResult:
    """Export, load, check and mark ready (a ready version whose Triton model answers is a no-op)."""
    server, store = _ports(ctx)
    started = time.monotonic()
    did = logic.deployment_id(req.model, req.version)
    async with store.locked(req.model):
        found = await store.get(did)
        if found is not None and found.state == "ready" and await _serving(server, found):
            return DeployResult(id=did, state="ready", already=True, served_parity=found.served_parity)
        source = await ctx.registry.model_dir(req.model, req.version)
        if source is None:
            raise PermanentFailure(f"model {req.model} has no registered version {req.version}")
        record = await store.begin(_new(req, ctx.task_id))
        try:
            await ctx.progress.report(1, 4, "exporting to TorchScript")
            exported = await server.write_version(record.triton_model, record.triton_version, source)
            await ctx.progress.report(2, 4, "loading in Triton")
            await server.load(
                record.triton_model, record.triton_version, ctx.config.deployment.load_timeout_s
            )
            await ctx.progress.report(3, 4, "checking parity")
            parity = await server.check(record.triton_model, record.triton_version)
            if parity < ctx.config.deployment.min_parity:
                raise PermanentFailure(f"served embeddings differ from the export's: min cosine {parity:.6f}")
        except BaseException as exc:
            await _clean(server, record)
            await store.mark(did, "failed", error=str(exc)[:1000])
            raise
        await store.mark(did, "ready", export_parity=exported.export_parity, served_parity=parity)
    await ctx.progress.report(4, 4, "ready")
    return DeployResult(
        id=did,
        state="ready",
        export_parity=exported.export_parity,
        served_parity=parity,
        seconds=round(time.monotonic() - started, 3),
    )


async def undeploy(req: DeployRequest, ctx: Context) -> DeployResult:
    """Unload from Triton and delete its files; absent is a no-op. Refused while blue uses it."""
    server, store = _ports(ctx)
    started = time.monotonic()
    did = logic.deployment_id(req.model, req.version)
    async with store.locked(req.model):
        found = await store.get(did)
        if found is None:
            return DeployResult(id=did, state="undeployed", already=True)
        try:
            await _refuse_if_blue(req.model, req.version, ctx)
        except Conflict as exc:
            raise PermanentFailure(str(exc)) from exc  # a switch came between the request and the job
        await store.mark(did, "undeploying")
        await _clean(server, found)
        await store.remove(did)
    return DeployResult(id=did, state="undeployed", seconds=round(time.monotonic() - started, 3))


async def list_deployments(ctx: Context) -> DeploymentList:
    """Every deployment with Triton's own state of it."""
    server, store = _ports(ctx)
    live = await server.live()
    served = {(s.triton_model, s.triton_version): s.state for s in await server.served()} if live else {}
    rows = [
        msgspec.structs.replace(d, triton_state=served.get((d.triton_model, d.triton_version), "UNAVAILABLE"))
        for d in await store.all()
    ]
    return DeploymentList(deployments=rows, triton_live=live)


async def _serving(server: ModelServer, found: Deployment) -> bool:
    served = await server.served()
    return any(
        (s.triton_model, s.triton_version, s.state) == (found.triton_model, found.triton_version, "READY")
        for s in served
    )


async def _clean(server: ModelServer, record: Deployment) -> None:
    await server.unload(record.triton_model, record.triton_version)
    await server.remove_version(record.triton_model, record.triton_version)


def _new(req: DeployRequest, task_id: str | None) -> Deployment:
    now = datetime.now(UTC)
    return Deployment(
        id=logic.deployment_id(req.model, req.version),
        model=req.model,
        version=req.version,
        triton_model=logic.triton_name(req.model),
        triton_version=int(req.version),
        state="deploying",
        task_id=task_id,
        created_at=now,
        updated_at=now,
    )
