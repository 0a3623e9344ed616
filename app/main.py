"""The Litestar application: thin routes over the stage handlers, one Context per process."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from app.auth import KeyRing
from app.console import routes as console
from app.console.session import STORE, session_store
from app.deps import DEPENDENCIES
from app.errors import EXCEPTION_HANDLERS
from app.problems import document_problems
from app.routes import (
    autopilot,
    clickstream,
    deployments,
    experiments,
    fine_tuning,
    health,
    improvement,
    reindex,
    search,
    tasks,
    upsertion,
)
from app.text_params import refuse_unstorable_params
from functions.config import AppConfig
from functions.context import Context
from jobs.bootstrap import build_context, close_context, load_config

log = logging.getLogger("embedloop")


def create_app(config: AppConfig | None = None, context: Context | None = None) -> Litestar:
    """The app for `config` (default: composed from conf/ and EMBEDLOOP_ENV)."""
    cfg = config or (context.config if context else load_config())
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        ctx = context or await build_context(cfg, role="web")
        app.state.ctx = ctx
        try:
            yield
        finally:
            if context is None:
                await close_context(ctx)

    # Every operation but /health and /ready needs a key; the schema says so per operation, so the
    # probes show no security requirement (their guards are on the routers, app/auth.py).
    keyed = Router(
        path="/",
        route_handlers=[
            tasks.router,
            upsertion.router,
            search.router,
            clickstream.router,
            improvement.router,
            fine_tuning.router,
            reindex.router,
            deployments.router,
            experiments.router,
            autopilot.router,
        ],
        security=[{"apiKey": []}],
    )
    # The console (app/console) has its own sign-in: sessions and CSRF tokens, on its router alone.
    pages = console.build(cfg) if cfg.console.enabled else []
    app = Litestar(
        route_handlers=[*health.ROUTES, keyed, *pages],
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=refuse_unstorable_params,  # bodies: functions.structs.Text
        lifespan=[lifespan],
        request_max_body_size=cfg.api.max_body_bytes,
        stores={STORE: session_store(cfg)},
        template_config=TemplateConfig(directory=console.TEMPLATES, engine=JinjaTemplateEngine),
        openapi_config=OpenAPIConfig(
            title="embedloop",
            version="0.1.0",
            path="/schema",
            components=Components(security_schemes={"apiKey": SecurityScheme(type="http", scheme="bearer")}),
        ),
    )
    document_problems(app)
    app.state.keyring = KeyRing.from_config(cfg.api)
    if context is not None:
        app.state.ctx = context  # usable without a lifespan run (in-loop ASGI test transport)
    return app
