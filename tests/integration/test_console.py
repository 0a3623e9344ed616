"""The console over HTTP on the real app, Postgres and Redis: sign-in, sessions, CSRF, scopes, pages and
actions."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx

from app.main import create_app
from functions.config import AppConfig
from functions.console import handler as console
from functions.context import Context
from functions.records import TaskQuery
from tests.conftest import ADMIN_KEY, SEARCH_KEY
from tests.support import clicks
from tests.support import experiments as exp
from tests.support import reindex as support
from tests.support.console import sign_in, token
from tests.support.data_plane import new_index
from tests.support.outages import PrivateRedis, moved


async def test_sign_in_sets_a_strict_http_only_session_and_sign_out_ends_it(
    client: httpx.AsyncClient,
) -> None:
    first = await client.get("/console/")
    assert first.status_code == 303
    assert first.headers["location"].startswith("/console/sign-in")

    refused = await sign_in(client, "not-a-key")
    assert refused.status_code == 401
    assert "not valid" in refused.text

    signed = await sign_in(client, ADMIN_KEY)
    assert signed.status_code == 303
    assert signed.headers["location"] == "/console/"
    cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith("embedloop_console="))
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/console"} <= attributes
    assert ADMIN_KEY not in cookie
    stolen = client.cookies.get("embedloop_console")
    assert (await client.get("/console/")).status_code == 200

    out = await client.post("/console/sign-out", data={"_csrf_token": await token(client, "/console/")})
    assert out.status_code == 303
    # The session is gone from the server: the old cookie, replayed, no longer signs anyone in.
    client.cookies.set("embedloop_console", stolen or "", path="/console")
    again = await client.get("/console/")
    assert again.status_code == 303
    assert "sign-in" in again.headers["location"]


async def test_a_form_without_its_csrf_token_is_refused(client: httpx.AsyncClient, ctx: Context) -> None:
    assert (await sign_in(client, ADMIN_KEY)).status_code == 303
    index = await new_index(client)
    bare = await client.post("/console/actions/fine-tune", data={"index": index, "preset": "tiny"})
    assert bare.status_code == 403
    assert "CSRF" in bare.text
    forged = await client.post(
        "/console/actions/fine-tune", data={"index": index, "preset": "tiny", "_csrf_token": "forged"}
    )
    assert forged.status_code == 403
    bare_sign_in = await client.post("/console/sign-in", data={"key": ADMIN_KEY})
    assert bare_sign_in.status_code == 403
    tasks, _ = await ctx.tasks.page(TaskQuery())
    assert tasks == []


async def test_a_search_key_sees_the_views_but_the_server_refuses_it_the_actions(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    index = await new_index(client)
    await support.seed(ctx, index, range(5))
    assert (await sign_in(client, SEARCH_KEY)).status_code == 303
    overview = await client.get("/console/")
    assert overview.status_code == 200
    assert f'data-index="{index}"' in overview.text
    assert 'data-scope="search"' in overview.text
    assert 'id="nav-actions"' not in overview.text
    assert (await client.get(f"/console/indexes/{index}")).status_code == 200
    assert (await client.get("/console/tasks")).status_code == 200
    assert (await client.get("/console/actions")).status_code == 403
    csrf = await token(client, "/console/")
    posted = await client.post("/console/actions/fine-tune", data={"index": index, "_csrf_token": csrf})
    assert posted.status_code == 403
    switch = await client.post(
        "/console/actions/rollback", data={"index": index, "confirm": "yes", "_csrf_token": csrf}
    )
    assert switch.status_code == 403


async def test_actions_validate_like_the_api_and_destructive_ones_need_confirmation(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    index = await new_index(client)
    await support.seed(ctx, index, range(5))
    assert (await sign_in(client, ADMIN_KEY)).status_code == 303
    csrf = await token(client, "/console/actions")
    bad = await client.post(
        "/console/actions/fine-tune", data={"index": index, "preset": "huge", "_csrf_token": csrf}
    )
    assert bad.status_code == 400
    assert "preset" in bad.text
    # msgspec names the form that lacks a required field, not the field: the page names the field.
    no_index = await client.post("/console/actions/fine-tune", data={"preset": "tiny", "_csrf_token": csrf})
    assert no_index.status_code == 400
    assert 'class="field">index<' in no_index.text
    unconfirmed = await client.post("/console/actions/rollback", data={"index": index, "_csrf_token": csrf})
    assert unconfirmed.status_code == 422
    assert 'class="field">confirm<' in unconfirmed.text
    missing = await client.post(
        "/console/actions/rollback", data={"index": "nope", "confirm": "yes", "_csrf_token": csrf}
    )
    assert missing.status_code == 404
    started = await client.post(
        "/console/actions/fine-tune", data={"index": index, "preset": "tiny", "_csrf_token": csrf}
    )
    assert started.status_code == 303
    assert "/console/tasks?focus=" in started.headers["location"]
    task_id = started.headers["location"].rsplit("=", 1)[1]
    task = await ctx.tasks.get(task_id)
    assert task is not None
    assert task.kind == "fine_tuning.run"
    assert task.request["index"] == index
    page = await client.get(started.headers["location"])
    assert f'data-task-id="{task_id}"' in page.text
    cancelled = await client.post(
        f"/console/tasks/{task_id}/cancel", data={"confirm": "yes", "_csrf_token": csrf}
    )
    assert cancelled.status_code == 303
    task = await ctx.tasks.get(task_id)
    assert task is not None
    assert task.status == "cancelled"


async def test_index_page_shows_traffic_rolled_up_and_live(client: httpx.AsyncClient, ctx: Context) -> None:
    index = await new_index(client)
    await support.seed(ctx, index, range(6))
    ids = [support.oid(i) for i in range(6)]
    for n in range(4):
        opened = await clicks.open_session(client, index, ids, query=f"q{n}")
        if n < 3:
            await clicks.post_events(
                client, opened["session_id"], [{"event_id": f"e{n}", "type": "click", "object_id": ids[n]}]
            )
    # Two of the sessions are old enough to be rolled up, the others are read live.
    conn = await asyncpg.connect(ctx.config.database.url)
    try:
        await conn.execute(
            "UPDATE sessions SET created_at = now() - interval '5 hours' WHERE query IN ('q0', 'q1')"
        )
        # The cpu pool's cron rolls the finished hours up before anyone looks.
        assert await console.roll_up(ctx) == "rolled up the traffic of 1 indexes"
        rolled = "SELECT sum(sessions) FROM traffic_hours WHERE index_name = $1"
        assert await conn.fetchval(rolled, index) == 2
    finally:
        await conn.close()
    assert (await sign_in(client, ADMIN_KEY)).status_code == 303
    conn = await asyncpg.connect(ctx.config.database.url)
    try:
        for _ in range(2):  # the second view reads the rolled-up hours, and must count them once
            page = await client.get(f"/console/indexes/{index}")
            assert page.status_code == 200
            assert 'id="total-sessions">4<' in page.text
            assert 'id="total-ctr">75.0%<' in page.text
            rolled = await conn.fetchval(
                "SELECT sum(sessions) FROM traffic_hours WHERE index_name = $1", index
            )
            assert rolled == 2
    finally:
        await conn.close()


async def test_playground_shows_both_sides_during_an_experiment_and_records_nothing(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    index, _, candidate = await exp.index_with_candidate(client, ctx, items=20)
    await exp.start(client, index=index, candidate_collection_id=candidate, share=1.0)
    assert (await sign_in(client, SEARCH_KEY)).status_code == 303
    conn = await asyncpg.connect(ctx.config.database.url)
    try:
        before = await conn.fetchval("SELECT count(*) FROM searches WHERE index_name = $1", index)
        page = await client.get("/console/playground", params={"index": index, "q": support.text(3)})
        after = await conn.fetchval("SELECT count(*) FROM searches WHERE index_name = $1", index)
    finally:
        await conn.close()
    assert page.status_code == 200
    for list_id in ("blue-results", "candidate-results", "interleaved-results"):
        assert f'id="{list_id}"' in page.text
    assert 'data-side="control"' in page.text or 'data-side="candidate"' in page.text
    assert after == before


async def test_pages_answer_503_while_redis_is_down_and_recover(
    ctx: Context, config: AppConfig, tmp_path: Path
) -> None:
    redis = PrivateRedis(tmp_path)
    redis.start()
    app = create_app(config=moved(config, redis_url=redis.url), context=ctx)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await sign_in(client, ADMIN_KEY)).status_code == 303
            csrf = await token(client, "/console/")
            redis.kill()
            down = await client.get("/console/")
            assert down.status_code == 503
            assert "Redis" in down.text
            refused = await client.post("/console/sign-in", data={"key": ADMIN_KEY, "_csrf_token": csrf})
            assert refused.status_code == 503
            redis.start()  # empty: the session went with it, so the page asks to sign in again
            back = await client.get("/console/")
            assert back.status_code == 303
            assert (await sign_in(client, ADMIN_KEY)).status_code == 303
    finally:
        redis.kill()
