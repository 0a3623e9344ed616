"""Dependencies shared by every route: the process Context built in the lifespan."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from functions.context import Context


def provide_ctx(state: State) -> Context:
    """The one Context of this web process."""
    ctx: Context = state.ctx
    return ctx


DEPENDENCIES = {"ctx": Provide(provide_ctx, sync_to_thread=False)}

# Annotate route parameters with this: Litestar 3 drops dependencies inferred from the name alone.
Ctx = NamedDependency[Context]
