"""Deployment routes (admin): serve a registered model version in Triton, remove it, list what is served."""

from __future__ import annotations

from litestar import Router, delete, get, post
from litestar.params import FromPath, JSONBody

from app.auth import require
from app.deps import Ctx
from functions.deployment import handler
from functions.deployment.messages import DeploymentList, DeploySubmission
from functions.tasks.messages import Accepted


@post("/", status_code=202)
async def deploy(data: JSONBody[DeploySubmission], ctx: Ctx) -> Accepted:
    """Deploy version `version` of registered model `model` (e.g. embedloop-<index>): export to
    TorchScript, load in Triton, check parity. Follow it at /tasks/{task_id}; a ready version is a no-op."""
    return await handler.submit_deploy(data, ctx)


@delete("/{deployment_id:str}", status_code=202)
async def undeploy(deployment_id: FromPath[str], ctx: Ctx) -> Accepted:
    """Unload `<model>@<version>` from Triton and delete its files; 409 while a blue collection uses it."""
    return await handler.submit_undeploy(deployment_id, ctx)


@get("/")
async def list_deployments(ctx: Ctx) -> DeploymentList:
    """Every deployed version: its state here and Triton's own readiness of it."""
    return await handler.list_deployments(ctx)


router = Router(
    path="/deployments",
    route_handlers=[deploy, undeploy, list_deployments],
    guards=[require("admin")],
    tags=["deployment"],
)
