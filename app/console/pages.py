"""What the console's routes hand their templates: chart markup, task rows, action forms and their runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote as _quote

import msgspec

from app.console.charts import Series, bar_chart, line_chart
from functions.console.messages import QualityPoint, TrafficView
from functions.context import Context
from functions.deployment import handler as deployment
from functions.deployment.messages import DeploymentList, DeploySubmission
from functions.errors import InvalidInput, NotFound
from functions.experiments import handler as experiments
from functions.experiments.messages import ExperimentView, StartExperiment
from functions.fine_tuning import handler as fine_tuning
from functions.fine_tuning.messages import FineTuningSubmission
from functions.records import Task, TaskQuery
from functions.reindex import handler as reindex
from functions.reindex.messages import ReindexSubmission
from functions.tasks.logic import public_view

HERE = Path(__file__).resolve().parent
# Actions that change what users are served or remove something: the form must be confirmed.
DESTRUCTIVE = ("switch", "rollback", "cleanup", "experiment-stop")


def quote(path: str) -> str:
    return _quote(path, safe="/")


def safe_next(target: str | None) -> str | None:
    """A page of the console to return to after sign-in; anything else (another site) is dropped."""
    if target and target.startswith("/console") and "//" not in target and "\\" not in target:
        return target
    return None


async def deployments(ctx: Context) -> DeploymentList | None:
    """Deployed versions with Triton's state, where this process has the deployment stage wired."""
    if ctx.deployments is None or ctx.models is None:
        return None
    return await deployment.list_deployments(ctx)


# Charts ----------------------------------------------------------------------------------------------


def quality_chart(points: list[QualityPoint]) -> str | None:
    """Held-out metrics of each challenger against the champion it was evaluated beside."""
    if not points:
        return None
    labels = [(p.version and f"v{p.version}") or p.at.strftime("%m-%d %H:%M") for p in points]
    series = [
        Series("challenger nDCG@10", [p.challenger.get("ndcg_at_10") for p in points]),
        Series("champion nDCG@10", [p.champion.get("ndcg_at_10") for p in points]),
        Series("challenger MRR@10", [p.challenger.get("mrr_at_10") for p in points]),
        Series("challenger Recall@100", [p.challenger.get("recall_at_100") for p in points]),
    ]
    return line_chart(labels, series, title="held-out quality per fine-tuned version", y_min=0, y_max=1)


def win_share_chart(experiment: ExperimentView) -> str | None:
    title = f"experiment {experiment.id}: cumulative win share by credited session"
    return _win_share(experiment.tally.win_share_curve, title)


def _win_share(curve: Sequence[Sequence[float]], title: str) -> str | None:
    """The candidate's cumulative win share over credited sessions, against the even line."""
    if not curve:
        return None
    return line_chart(
        [str(int(p[0])) for p in curve],
        [Series("candidate's win share", [p[1] for p in curve])],
        title=title,
        y_min=0,
        y_max=1,
        reference=0.5,
    )


def traffic_charts(view: TrafficView) -> dict[str, str]:
    labels = [h.strftime("%m-%d %H:00") for h in view.hours]
    volume = [Series("searches", view.searches), Series("sessions", view.sessions)]
    feedback = [Series("flagged irrelevant", view.irrelevant), Series("improvements applied", view.applied)]
    ranks = [str(i + 1) for i in range(len(view.clicks_by_rank))]
    return {
        "volume": line_chart(labels, volume, title="searches and sessions per hour", y_min=0, fmt="{:.0f}"),
        "ctr": line_chart(
            labels, [Series("click-through rate", view.ctr)], title="click-through rate", y_min=0, y_max=1
        ),
        "ranks": bar_chart(ranks, view.clicks_by_rank, title="clicks by rank (position bias)"),
        "feedback": line_chart(labels, feedback, title="feedback per hour", y_min=0, fmt="{:.0f}"),
        "drift": line_chart(
            labels,
            [Series("mean change of a moved vector", view.drift)],
            title="drift of moved vectors",
            y_min=0,
            fmt="{:.3f}",
        ),
    }


def report_charts(report: dict[str, Any]) -> list[str]:
    """A lifecycle report's quality per step for each query set, and its experiment's win share."""
    quality: dict[str, dict[str, dict[str, float]]] = report.get("quality") or {}
    stages = list(quality)
    out = []
    for key, label in (("test", "held-out test queries"), ("seen", "clicked train queries")):
        series = [
            Series(metric, [quality[s].get(key, {}).get(metric) for s in stages])
            for metric in ("ndcg10", "mrr10", "recall100")
        ]
        if any(v is not None for s in series for v in s.values):
            out.append(line_chart(stages, series, title=f"lifecycle: {label}", y_min=0, y_max=1))
    curve = (((report.get("figures") or {}).get("experiment") or {}).get("tally") or {}).get(
        "win_share_curve"
    )
    chart = _win_share(curve or [], "lifecycle experiment: cumulative win share")
    return [*out, chart] if chart else out


# Tasks -------------------------------------------------------------------------------------------------


async def task_lists(ctx: Context) -> dict[str, list[Task]]:
    """Running and pending tasks (a reindex's batches fold into their parent), failed ones, recent ones."""

    async def page(status: Any, limit: int) -> list[Task]:
        found, _ = await ctx.tasks.page(TaskQuery(status=status, limit=limit))
        return [public_view(t) for t in found if t.parent_id is None]

    return {
        "running": await page("running", 100) + await page("pending", 50),
        "failed": await page("failed", 20),
        "recent": await page(None, 15),
    }


# Actions -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    message: str
    task_id: str | None = None


def confirmed(data: dict[str, str]) -> None:
    if data.get("confirm") != "yes":
        raise InvalidInput(
            "tick the confirmation box: this action changes what users are served", field="confirm"
        )


def _body(data: dict[str, str], kind: type[Any]) -> Any:
    """The form's filled fields as the JSON API's submission (msgspec validates them alike)."""
    fields = {k: v for k, v in data.items() if k not in ("_csrf_token", "confirm") and v.strip()}
    return msgspec.convert(fields, kind, strict=False)


async def run_action(action: str, data: dict[str, str], ctx: Context) -> Outcome:
    """One admin action, through the handler its JSON route calls."""
    if action in DESTRUCTIVE:
        confirmed(data)
    if action == "fine-tune":
        accepted = await fine_tuning.submit(_body(data, FineTuningSubmission), ctx)
        return Outcome(f"fine-tuning task {accepted.task_id}", accepted.task_id)
    if action == "deploy":
        accepted = await deployment.submit_deploy(_body(data, DeploySubmission), ctx)
        return Outcome(f"deployment task {accepted.task_id}", accepted.task_id)
    if action == "reindex":
        accepted = await reindex.submit(_body(data, ReindexSubmission), ctx)
        return Outcome(f"reindex task {accepted.task_id}", accepted.task_id)
    if action == "experiment-start":
        view = await experiments.start(_body(data, StartExperiment), ctx)
        return Outcome(f"experiment {view.id} started on {view.index}")
    if action == "experiment-stop":
        view = await experiments.stop(_required(data, "experiment_id"), ctx)
        return Outcome(f"experiment {view.id} stopped")
    if action == "switch":
        switched = await reindex.switch_to(_required(data, "collection_id"), ctx)
        return Outcome(f"switched: {msgspec.json.encode(switched).decode()}")
    if action == "rollback":
        rolled = await reindex.rollback(_required(data, "index"), ctx)
        return Outcome(f"rolled back: {msgspec.json.encode(rolled).decode()}")
    if action == "cleanup":
        cleaned = await reindex.cleanup(_required(data, "index"), ctx)
        return Outcome(f"cleaned up: dropped {', '.join(cleaned.dropped) or 'nothing'}")
    raise NotFound(f"no console action {action!r}", field="action")


def _required(data: dict[str, str], name: str) -> str:
    value = (data.get(name) or "").strip()
    if not value:
        raise InvalidInput(f"{name} is required", field=name)
    return value


async def action_choices(ctx: Context) -> dict[str, Any]:
    """What the action forms offer: indexes, presets, collections, models, versions, live experiments."""
    indexes = await ctx.collections.list_indexes()
    collections = await ctx.collections.collections_of(None)
    # The stop form needs running experiments' ids alone: their rows, without tallying the clickstream.
    live = await ctx.experiments.of_index(None, 50) if ctx.experiments is not None else []
    done, _ = await ctx.tasks.page(TaskQuery(kind=fine_tuning.RUN_KIND, status="done", limit=50))
    versions = sorted(
        {
            str(t.result["registered_version"])
            for t in done
            if t.result and t.result.get("registered_version")
        },
        key=lambda v: (len(v), v),
    )
    return {
        "indexes": [i.name for i in indexes],
        "models": [f"{ctx.config.fine_tuning.registered_model_prefix}{i.name}" for i in indexes],
        "presets": list(ctx.config.fine_tuning.presets),
        "collections": [c for c in collections if c.status == "active"],
        "versions": versions,
        "running": [e for e in live if e.state == "running"],
    }
