"""One autopilot cycle of the lifecycle with its users: the index's policy set to a preset, searchers
throughout, a live writer during the reindex; and what the report keeps of the cycle and its
experiment."""

from __future__ import annotations

from typing import Any

from scripts.lifecycle.api_client import Api
from scripts.lifecycle.autopilot import CycleWatch, policy_body, run_cycle
from scripts.lifecycle.autopilot import summary as cycle_summary
from scripts.lifecycle.experiment import summary as experiment_summary
from scripts.lifecycle.load import SearchLoad, WriteLoad
from scripts.lifecycle.report import Report
from scripts.simulate_clicks import Settings
from sim import sample_catalog


def autopilot_cycle(
    cfg: Any,
    api: Api,
    url: str,
    key: str,
    items: list[dict[str, Any]],
    catalog: sample_catalog.Catalog,
    settings: Settings,
    report: Report,
    preset: str,
    overrides: Any,
    label: str,
) -> tuple[CycleWatch, WriteLoad]:
    """Set the index's policy to `preset` and run one cycle with searchers throughout and a live
    writer (its own ids) during the reindex; failed searches add up in the report's figures."""
    policy = api.call("PUT", f"/indexes/{cfg.index}/autopilot", json=policy_body(cfg, preset, overrides))
    report.step(
        "autopilot",
        f"on for {cfg.index}: preset {policy['preset']}, experiment {policy['experiment']}, rollback "
        f"window {policy['cleanup_grace_s']} s; {len(policy['history'])} earlier cycles",
    )
    queries = list(catalog.queries.values())
    writer = WriteLoad(url, key, cfg.index, items[: cfg.write_template], prefix=f"live-{label}-")
    with SearchLoad(
        url, key, cfg.index, queries, clients=cfg.searchers, pause_s=cfg.search_pause_s
    ) as searchers:
        watch = run_cycle(api, cfg.index, cfg, catalog, settings, writer, report.step)
    report.step(label, f"{cycle_summary(watch)}; {searchers.ok} searches, {searchers.failed} failed")
    report.figures["failed_searches"] = report.figures.get("failed_searches", 0) + searchers.failed
    if searchers.errors:  # the first few, so a failed search can be told from a slow one
        report.figures.setdefault("search_errors", []).extend(f"{label}: {e}" for e in searchers.errors)
    return watch, writer


def cycle_figures(watch: CycleWatch) -> dict[str, Any]:
    """What the report keeps of a cycle."""
    keys = ("id", "outcome", "failed_step", "error", "facts", "steps", "step_seconds")
    return {k: watch.view.get(k) for k in keys} | {
        "sessions_simulated": watch.sessions_simulated,
        "rounds": watch.rounds,
    }


def experiment_figures(api: Api, experiment_id: str, report: Report) -> dict[str, Any]:
    """The ended experiment's line in the report, and what the report keeps of it."""
    ended = api.call("GET", f"/experiments/{experiment_id}")
    report.step("experiment", experiment_summary(ended))
    return {k: ended.get(k) for k in ("id", "state", "verdict", "action", "reason", "tally", "decided_tally")}


def training_of(api: Api, view: dict[str, Any]) -> dict[str, Any]:
    """The cycle's fine-tuning result as the report keeps it: what it trained on and how it was judged."""
    step = next((s for s in view["steps"] if s["step"] == "fine_tuning"), None)
    if step is None or not step["task_id"]:
        return {}
    result = api.call("GET", f"/tasks/{step['task_id']}").get("result") or {}
    keys = (
        "status",
        "preset",
        "sources",
        "pairs",
        "evaluated_on",
        "champion",
        "challenger",
        "promoted",
        "rule",
    )
    return {k: result.get(k) for k in keys}
