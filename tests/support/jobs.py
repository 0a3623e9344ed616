"""Job kinds that exist only in tests: each exercises one path of the task runner for real."""

from __future__ import annotations

import asyncio

from functions.context import Context
from functions.errors import InvalidInput
from functions.structs import Struct
from jobs.registry import JOBS, JobSpec

# Shared with the tests in this process: how many times each handler ran, and switches.
RUNS: dict[str, int] = {}
SWITCHES: dict[str, bool] = {"boom": True}


class EchoRequest(Struct, frozen=True, kw_only=True):
    value: str
    fail_times: int = 0
    steps: int = 0


class EchoResult(Struct, frozen=True, kw_only=True):
    value: str
    runs: int


def _count(name: str) -> int:
    RUNS[name] = RUNS.get(name, 0) + 1
    return RUNS[name]


async def echo(req: EchoRequest, ctx: Context) -> EchoResult:
    """Returns its input; fails the first `fail_times` runs with a retryable error."""
    runs = _count(f"echo:{req.value}")
    if runs <= req.fail_times:
        raise RuntimeError(f"transient failure {runs} of {req.fail_times}")
    return EchoResult(value=req.value, runs=runs)


async def boom(req: EchoRequest, ctx: Context) -> EchoResult:
    """Fails while the `boom` switch is on."""
    _count(f"boom:{req.value}")
    if SWITCHES["boom"]:
        raise RuntimeError(f"boom: {req.value}")
    return EchoResult(value=req.value, runs=RUNS[f"boom:{req.value}"])


async def invalid(req: EchoRequest, ctx: Context) -> EchoResult:
    """A domain error: retrying cannot fix it."""
    _count(f"invalid:{req.value}")
    raise InvalidInput("value is not acceptable", field="value")


async def slow(req: EchoRequest, ctx: Context) -> EchoResult:
    """Reports progress over `steps` short steps and stops when cancelled."""
    _count(f"slow:{req.value}")
    for step in range(req.steps):
        await asyncio.sleep(0.05)
        await ctx.progress.report(step + 1, req.steps, f"step {step + 1} of {req.steps}")
        await ctx.progress.check_cancelled()
    return EchoResult(value=req.value, runs=1)


async def silent(req: EchoRequest, ctx: Context) -> EchoResult:
    """Works for `steps` x 0.05 s without reporting progress (a long training step, say)."""
    _count(f"silent:{req.value}")
    await asyncio.sleep(req.steps * 0.05)
    return EchoResult(value=req.value, runs=RUNS[f"silent:{req.value}"])


def _spec(name: str, queue: str = "cpu") -> JobSpec:
    return JobSpec(f"testing.{name}", f"tests.support.jobs:{name}", "tests.support.jobs:EchoRequest", queue)  # type: ignore[arg-type]


TEST_JOBS: dict[str, JobSpec] = {
    **JOBS,
    **{
        spec.name: spec
        for spec in (_spec("echo"), _spec("boom"), _spec("invalid"), _spec("slow", "gpu"), _spec("silent"))
    },
}
