"""The console's pages under /console: server-rendered, each read through the same stage handlers as the
JSON API, each action through the same submissions and tasks as an HTTP client's."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router

from app.auth import digest
from app.console import pages
from app.console.session import DIGEST, PATH, admin, csrf_config, scope_of, session_config, signed_in
from app.deps import Ctx
from app.errors import field_of
from functions.config import AppConfig
from functions.console import handler as console
from functions.errors import DomainError
from functions.experiments import handler as experiments
from functions.search.messages import SearchRequest
from functions.search.preview import preview
from functions.tasks import handler as tasks
from jobs.stores.reports import read_reports

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
STATIC = pages.HERE / "static"
TEMPLATES = pages.HERE / "templates"


def _page(request: Request[Any, Any, Any], template: str, status_code: int = 200, **context: Any) -> Template:
    ctx = request.app.state.ctx
    return Template(
        template_name=f"{template}.html.j2",
        context={
            "scope": scope_of(request),
            "path": request.url.path,
            "poll_ms": ctx.config.console.poll_interval_ms,
            **context,
        },
        status_code=status_code,
    )


# Sign-in and sign-out -------------------------------------------------------------------------------


@get("/sign-in")
async def sign_in_page(request: Request[Any, Any, Any], next: FromQuery[str | None] = None) -> Template:
    """The key form (its CSRF cookie is set on this answer)."""
    return _page(request, "sign_in", next=pages.safe_next(next))


@post("/sign-in", status_code=303)
async def sign_in(request: Request[Any, Any, Any], data: Form) -> Response[Any]:
    """Exchange a key for a session: the cookie holds a random id, Redis the key's digest."""
    key = (data.get("key") or "").strip()
    ring = request.app.state.keyring
    if not key or ring.scope_of(key) is None:
        return _page(
            request, "sign_in", status_code=401, error="That API key is not valid.", next=data.get("next")
        )
    request.clear_session()
    request.set_session({DIGEST: digest(key).hex()})
    return Redirect(pages.safe_next(data.get("next")) or f"{PATH}/", status_code=303)


@post("/sign-out", status_code=303, guards=[signed_in])
async def sign_out(request: Request[Any, Any, Any]) -> Redirect:
    """End the session: its Redis entry is deleted, not only the cookie."""
    request.clear_session()
    return Redirect(f"{PATH}/sign-in", status_code=303)


# Read-only views ------------------------------------------------------------------------------------


@get("/", guards=[signed_in])
async def overview(request: Request[Any, Any, Any], ctx: Ctx) -> Template:
    """Every index: blue collection, model and version, counts, other collections and their roles; and
    every version deployed in Triton with its state."""
    indexes = []
    for index in await ctx.collections.list_indexes():
        indexes.append({"index": index, "collections": await console.collections_of(index, ctx)})
    served = await pages.deployments(ctx)
    return _page(request, "overview", indexes=indexes, deployments=served)


@get("/indexes/{name:str}", guards=[signed_in])
async def index_page(request: Request[Any, Any, Any], name: FromPath[str], ctx: Ctx) -> Template:
    """One index: its collections, quality per model version, experiments, traffic and feedback."""
    collections = await console.collections(name, ctx)
    quality = await console.quality(name, ctx)
    found = await experiments.summaries(name, 20, ctx)
    traffic = await console.traffic(name, ctx)
    return _page(
        request,
        "index",
        name=name,
        collections=collections,
        quality=quality,
        quality_chart=pages.quality_chart(quality),
        experiments=[(e, pages.win_share_chart(e)) for e in found.experiments],
        traffic=traffic,
        traffic_charts=pages.traffic_charts(traffic),
    )


@get("/reports", guards=[signed_in])
async def reports(request: Request[Any, Any, Any], ctx: Ctx) -> Template:
    """The lifecycle reports under <data_dir>/reports, newest first, as charts."""
    found = read_reports(ctx.config.data_dir, ctx.config.console.reports)
    return _page(request, "reports", reports=[(r, pages.report_charts(r)) for r in found])


@get("/tasks", guards=[signed_in])
async def tasks_page(
    request: Request[Any, Any, Any], ctx: Ctx, focus: FromQuery[str | None] = None
) -> Template:
    """Running tasks with progress and ETA (the page refreshes its tables while any runs), failed ones
    with their error and stage, and recent ones."""
    lists: dict[str, Any] = await pages.task_lists(ctx)
    return _page(request, "tasks", focus=focus, **{k: lists[k] for k in ("running", "failed", "recent")})


@get("/playground", guards=[signed_in])
async def playground(
    request: Request[Any, Any, Any],
    ctx: Ctx,
    index: FromQuery[str | None] = None,
    q: FromQuery[str | None] = None,
) -> Template:
    """A query box: blue's results, and during an experiment the candidate's and the interleaved list."""
    names = [i.name for i in await ctx.collections.list_indexes()]
    shown = None
    if index and q and q.strip():
        shown = await preview(SearchRequest(index=index, query=q.strip(), limit=10), ctx)
    return _page(
        request, "playground", names=names, index=index or (names[0] if names else ""), q=q, shown=shown
    )


# Admin actions --------------------------------------------------------------------------------------


@get("/actions", guards=[admin])
async def actions_page(request: Request[Any, Any, Any], ctx: Ctx) -> Template:
    """Forms for every action; each goes through the stage handler the JSON API uses."""
    return _page(request, "actions", **(await pages.action_choices(ctx)))


@post("/actions/{action:str}", guards=[admin], status_code=303)
async def act(request: Request[Any, Any, Any], action: FromPath[str], data: Form, ctx: Ctx) -> Response[Any]:
    """Run one action; a task it starts opens on the tasks page, anything else returns to the actions."""
    outcome = await pages.run_action(action, data, ctx)
    if outcome.task_id is not None:
        return Redirect(f"{PATH}/tasks?focus={outcome.task_id}", status_code=303)
    return _page(request, "actions", done=outcome.message, **(await pages.action_choices(ctx)))


@post("/tasks/{task_id:str}/cancel", guards=[admin], status_code=303)
async def cancel(task_id: FromPath[str], data: Form, ctx: Ctx) -> Redirect:
    pages.confirmed(data)
    await tasks.cancel(task_id, ctx)
    return Redirect(f"{PATH}/tasks?focus={task_id}", status_code=303)


@post("/tasks/{task_id:str}/restart", guards=[admin], status_code=303)
async def restart(task_id: FromPath[str], ctx: Ctx) -> Redirect:
    accepted = await tasks.restart(task_id, ctx)
    return Redirect(f"{PATH}/tasks?focus={accepted.task_id}", status_code=303)


# Errors as pages -------------------------------------------------------------------------------------


def _error(
    request: Request[Any, Any, Any], status: int, title: str, detail: str, field: str | None
) -> Response[Any]:
    return _page(request, "error", status_code=status, status=status, title=title, detail=detail, field=field)


def on_unauthorized(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Any]:
    """Pages send a visitor without a session to the sign-in form, and back afterwards."""
    if request.method == "GET":
        return Redirect(f"{PATH}/sign-in?next={pages.quote(request.url.path)}", status_code=303)
    return _error(request, 401, "Sign-in needed", exc.detail, None)


def on_forbidden(request: Request[Any, Any, Any], exc: PermissionDeniedException) -> Response[Any]:
    return _error(request, 403, "Not allowed", exc.detail, None)


def on_domain(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    return _error(request, exc.status, exc.title, str(exc), exc.field)


def on_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    return _error(request, exc.status_code, "Request refused", exc.detail, None)


def on_invalid(request: Request[Any, Any, Any], exc: msgspec.ValidationError) -> Response[Any]:
    return _error(request, 400, "Invalid input", str(exc), field_of(str(exc)))


def build(cfg: AppConfig) -> list[Router | Any]:
    """The console's router (sessions and CSRF apply to it alone) and its static files."""
    router = Router(
        path=PATH,
        route_handlers=[
            sign_in_page,
            sign_in,
            sign_out,
            overview,
            index_page,
            reports,
            tasks_page,
            playground,
            actions_page,
            act,
            cancel,
            restart,
        ],
        middleware=[
            session_config(cfg).middleware,
            DefineMiddleware(CSRFMiddleware, config=csrf_config(cfg)),
        ],
        exception_handlers={
            NotAuthorizedException: on_unauthorized,
            PermissionDeniedException: on_forbidden,
            DomainError: on_domain,
            msgspec.ValidationError: on_invalid,
            HTTPException: on_http,
        },
        include_in_schema=False,
    )
    static = create_static_files_router(path=f"{PATH}/static", directories=[STATIC], include_in_schema=False)
    return [router, static]
