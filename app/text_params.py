"""Path and query parameters are text too: one that Postgres cannot store is refused before any handler.

Bodies are checked by their messages (functions.structs.Text); parameters are plain `str` in the routes,
so this hook checks every one of them, on every route, in one place.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

from app.errors import UNSTORABLE_SAYS, problem
from functions.structs import unstorable


async def refuse_unstorable_params(request: Request[Any, Any, Any]) -> Response[dict[str, Any]] | None:
    """400 naming the first path or query parameter holding U+0000 (or a lone surrogate); else None."""
    named = [*request.path_params.items(), *request.query_params.multi_items()]
    for name, value in named:
        if isinstance(value, str) and unstorable(value, name) is not None:
            return problem(request, 400, "Invalid request", f"{name}: {UNSTORABLE_SAYS}", field=name)
    return None
