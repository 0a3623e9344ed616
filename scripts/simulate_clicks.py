"""Simulated users search and click through the real HTTP API (`python -m scripts.simulate_clicks`).

For each query of a catalog (a BEIR split, or the built-in sample catalog) and each of
`users_per_query` users: `POST /search/similar` with the user's id → `POST /clickstream/sessions
{search_id}` → the click model's events (sim/click_model.py) → `POST .../close`, which submits the
session's improvement task. Sessions run `concurrency` at a time, user 0 over every query first.

Determinism: a session's clicks come from its own stream, seeded by (seed, query, user), applied to the
list that user was shown, so the same seed and the same lists give the same clicks. The lists
themselves depend on which improvement tasks had finished before each search (a live stack improves
the ranking while the simulation runs); with improvement applied afterwards (the tests drain the cpu
pool after simulating) the whole run is reproducible.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig
from tqdm import tqdm

from jobs.bootstrap import ROOT, load_config
from scripts.lifecycle.api_client import Api, Caller, Skipped
from scripts.services.stack import running_stack
from sim import beir, sample_catalog
from sim.click_model import ClickModel, SimEvent, sample_session, session_rng
from sim.ir_metrics import mean_ndcg


@dataclass(frozen=True)
class Settings:
    """How many users, what they are shown, and how they click."""

    users_per_query: int = 3
    limit: int = 10
    seed: int = 7
    concurrency: int = 4
    max_queries: int | None = None
    user_prefix: str = "sim-user-"
    model: ClickModel = field(default_factory=ClickModel)

    @classmethod
    def from_config(cls, cfg: Any) -> Settings:
        """From a Hydra node, a dict or an object with these keys (and the ClickModel's); missing keys
        keep their defaults, unrelated ones are ignored (the lifecycle passes its own config)."""

        def pick(names: Any) -> dict[str, Any]:
            found = {f.name: _get(cfg, f.name) for f in names}
            return {k: _plain(v) for k, v in found.items() if v is not None}

        own = pick(f for f in dataclasses.fields(cls) if f.name != "model")
        return cls(**own, model=ClickModel(**pick(dataclasses.fields(ClickModel))))


def _get(cfg: Any, key: str) -> Any:
    return cfg.get(key) if isinstance(cfg, Mapping | DictConfig) else getattr(cfg, key, None)


def _plain(value: Any) -> Any:
    return {int(k): v for k, v in value.items()} if isinstance(value, Mapping | DictConfig) else value


@dataclass
class SimulationReport:
    """What the simulated users did; `task_ids` are the improvement tasks their closes submitted."""

    sessions: int = 0
    abandoned: int = 0  # sessions that sent no event
    clicks: int = 0
    relevant_clicks: int = 0
    conversions: Counter[str] = field(default_factory=Counter)
    clicks_by_rank: Counter[int] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)  # per event: accepted/duplicate/rejected
    task_ids: list[str] = field(default_factory=list)
    clicked_queries: set[str] = field(default_factory=set)  # query ids with at least one click
    skipped: Skipped = field(default_factory=Skipped)  # searches the API refused: no session
    seconds: float = 0.0

    def add(self, events: list[SimEvent], grades: Mapping[str, int], statuses: list[str], task: Any) -> None:
        """Count one finished session."""
        self.sessions += 1
        self.abandoned += not events
        clicks = [e for e in events if e.type == "click"]
        self.clicks += len(clicks)
        self.relevant_clicks += sum(grades.get(e.object_id, 0) > 0 for e in clicks)
        self.clicks_by_rank.update(e.rank for e in clicks)
        self.conversions.update(e.type for e in events if e.type != "click")
        self.statuses.update(statuses)
        if task:
            self.task_ids.append(str(task))

    def summary(self) -> str:
        """A few lines for people: totals, then clicks by rank."""
        rate = self.sessions / max(self.seconds, 1e-9)
        share = self.relevant_clicks / max(self.clicks, 1)
        by_rank = "  ".join(f"{r}:{n}" for r, n in sorted(self.clicks_by_rank.items()))
        return (
            f"{self.sessions} sessions in {self.seconds:.1f} s ({rate:.1f}/s), "
            f"{self.abandoned} without clicks; {self.clicks} clicks ({share:.0%} on relevant items)\n"
            f"  conversions {dict(self.conversions)}; events {dict(self.statuses)}; "
            f"{len(self.task_ids)} improvement tasks\n"
            f"  clicks by rank  {by_rank}\n"
            f"  {self.skipped.summary()}"
        )


def simulate(
    api: Caller, catalog: sample_catalog.Catalog, cfg: Any, index: str | None = None
) -> SimulationReport:
    """Run every (user, query) session through the API and return what happened."""
    settings = cfg if isinstance(cfg, Settings) else Settings.from_config(cfg)
    index = index or _get(cfg, "index")
    if not index:
        raise ValueError("simulate needs an index (argument or config key `index`)")
    queries = list(catalog.queries.items())[: settings.max_queries]
    jobs = [(user, qid, text) for user in range(settings.users_per_query) for qid, text in queries]
    report, began = SimulationReport(), time.monotonic()
    pool = ThreadPoolExecutor(max_workers=max(1, settings.concurrency))
    try:
        futures = {
            pool.submit(
                _session, api, index, settings, qid, text, user, catalog.qrels.get(qid, {}), report.skipped
            ): qid
            for user, qid, text in jobs
        }
        with tqdm(total=len(jobs), desc="simulate", unit="session", leave=False) as bar:
            for future in as_completed(futures):
                outcome = future.result()
                bar.update()
                if outcome is None:  # the API refused the query: counted in report.skipped
                    continue
                events, *rest = outcome
                report.add(events, *rest)
                if any(e.type == "click" for e in events):
                    report.clicked_queries.add(futures[future])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # on an error: no new sessions, none left running
    report.seconds = time.monotonic() - began
    return report


def _session(
    api: Caller,
    index: str,
    settings: Settings,
    qid: str,
    text: str,
    user: int,
    grades: Mapping[str, int],
    skipped: Skipped,
) -> tuple[list[SimEvent], Mapping[str, int], list[str], Any] | None:
    """One user's search, clicks and close; None when the API refused the query (counted)."""
    body = {"index": index, "query": text, "limit": settings.limit, "include_payload": False}
    found = skipped.search(api, qid, {**body, "user_id": f"{settings.user_prefix}{user}"})
    if found is None:
        return None
    shown = [hit["object_id"] for hit in found["hits"]]
    events = sample_session(shown, grades, settings.model, session_rng(settings.seed, qid, user))
    session = api.call("POST", "/clickstream/sessions", json={"search_id": found["search_id"]})
    sid = session["session_id"]
    statuses: list[str] = []
    if events:
        # The session happened just now: its last event ends at the present, never in the future.
        start = datetime.now(UTC) - timedelta(milliseconds=max(e.at_ms for e in events))
        payload = [_event(f"{sid}:{n}", e, start) for n, e in enumerate(events)]
        answer = api.call("POST", f"/clickstream/sessions/{sid}/events", json={"events": payload})
        statuses = [r["status"] for r in answer["results"]]
    closed = api.call("POST", f"/clickstream/sessions/{sid}/close")
    return events, grades, statuses, closed.get("task_id")


def _event(event_id: str, event: SimEvent, start: datetime) -> dict[str, Any]:
    body: dict[str, Any] = {"event_id": event_id, "type": event.type, "object_id": event.object_id}
    body |= {"rank": event.rank, "timestamp": (start + timedelta(milliseconds=event.at_ms)).isoformat()}
    if event.dwell_ms is not None:
        body["dwell_ms"] = event.dwell_ms
    return body


def wait_applied(api: Caller, task_ids: list[str], timeout_s: float = 1800) -> Counter[str]:
    """Wait for the improvement tasks to end; how many ended each way. Raises if any failed."""
    deadline, ended = time.monotonic() + timeout_s, Counter[str]()
    for task_id in tqdm(task_ids, desc="improvement", unit="task", leave=False):
        # Tasks run roughly in submission order: one waits here, the ones after it have mostly ended.
        while (task := api.call("GET", f"/tasks/{task_id}"))["status"] not in ("done", "failed", "cancelled"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"improvement task {task_id} still {task['status']} after {timeout_s} s")
            time.sleep(0.1)
        if task["status"] == "failed":
            raise RuntimeError(f"improvement task {task_id} failed: {task.get('error')}")
        ended[task["status"]] += 1
    return ended


def ndcg_through_api(
    api: Caller, index: str, catalog: sample_catalog.Catalog, k: int = 10, skipped: Skipped | None = None
) -> float:
    """Mean nDCG@10 of the catalog's queries over their top `k`, searched as an anonymous user (shared
    vectors only); a query the API refuses is counted in `skipped` and scores 0."""
    skipped = skipped if skipped is not None else Skipped()
    runs = {}
    for qid, text in catalog.queries.items():
        body = {"index": index, "query": text, "limit": k, "include_payload": False}
        found = skipped.search(api, qid, body)
        if found is not None:
            runs[qid] = [hit["object_id"] for hit in found["hits"]]
    return mean_ndcg(runs, catalog.qrels)


def run(cfg: DictConfig, api: Api) -> dict[str, float]:
    """Optionally upsert, measure, simulate, wait for improvement, measure again; the headline figures."""
    catalog = (
        beir.load(Path(cfg.dataset), cfg.split)
        if cfg.dataset
        else sample_catalog.generate(cfg.seed, cfg.split)
    )
    if cfg.upsert:
        api.call("POST", "/indexes", json={"name": cfg.index})
        for start in range(0, len(catalog.items), cfg.batch_size):
            batch = catalog.items[start : start + cfg.batch_size]
            accepted = api.call("POST", "/items/upsert", json={"index": cfg.index, "items": batch})
            api.wait_task(accepted["task_id"], f"upsert {start + len(batch)}/{len(catalog.items)}")
    figures = {}
    measured = Skipped()
    if cfg.evaluate:
        figures["ndcg10_before"] = ndcg_through_api(api, cfg.index, catalog, skipped=measured)
    report = simulate(api, catalog, cfg)
    print(report.summary(), flush=True)
    if cfg.wait_applied or cfg.evaluate:
        print(f"improvement tasks: {dict(wait_applied(api, report.task_ids, cfg.timeout_s))}", flush=True)
    if cfg.evaluate:
        figures["ndcg10_after"] = ndcg_through_api(api, cfg.index, catalog, skipped=measured)
        print(f"measurements: {measured.summary()}", flush=True)
    skipped = report.skipped.count + measured.count
    return {"sessions": report.sessions, "clicks": report.clicks, "skipped_searches": skipped, **figures}


@hydra.main(version_base="1.3", config_path="../conf/scripts", config_name="simulate_clicks")
def main(cfg: DictConfig) -> None:
    """Simulate against a stack started here (or an existing one, `api_url=`)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    key = load_config().api.admin_keys[0]  # also creates the local admin key on first use
    if cfg.api_url:
        api = Api(cfg.api_url, key)
        figures = run(cfg, api)
    else:
        env = {
            k: os.environ[k] for k in ("EMBEDLOOP_ADMIN_KEYS", "EMBEDLOOP_WEBHOOK_SECRET") if k in os.environ
        }
        with running_stack(cfg.port, env, ROOT / ".data" / "logs") as url:
            api = Api(url, key)
            figures = run(cfg, api)
    api.close()
    for name, value in figures.items():
        print(f"simulate_{name}: {value:.4f}" if isinstance(value, float) else f"simulate_{name}: {value}")


if __name__ == "__main__":
    main()
