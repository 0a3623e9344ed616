"""The simulator against a small in-memory fake of the HTTP API: the calls it makes, in what shape,
and that the clicks do not depend on how many sessions run at once."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from scripts.lifecycle.api_client import ApiError
from scripts.simulate_clicks import Settings, simulate
from sim.click_model import ClickModel
from sim.sample_catalog import Catalog

CONFIG = Path(__file__).resolve().parents[3] / "conf" / "scripts" / "simulate_clicks.yaml"
CATALOG = Catalog(
    items=[],
    queries={"q1": "wing flutter", "q2": "boundary layer"},
    qrels={"q1": {"d1": 4, "d3": 2}, "q2": {"d0": 1}},
)


class FakeApi:
    """Search shows d0..d9 for every query; sessions, events and closes are recorded."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.searches: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.closed: list[str] = []

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        body = kwargs.get("json") or {}
        with self.lock:
            if path == "/search/similar":
                search_id = str(uuid.uuid4())
                self.searches[search_id] = body
                return {"search_id": search_id, "hits": [{"object_id": f"d{i}"} for i in range(10)]}
            if path == "/clickstream/sessions":
                self.events[body["search_id"]] = []
                return {"session_id": body["search_id"]}
            sid, action = path.split("/")[3:5]
            if action == "events":
                self.events[sid].extend(body["events"])
                return {
                    "results": [{"event_id": e["event_id"], "status": "accepted"} for e in body["events"]]
                }
            self.closed.append(sid)
            return {"session_id": sid, "task_id": f"task-{sid}"}


def clicks_by_session(api: FakeApi) -> dict[tuple[str, str], list[tuple[str, str, int]]]:
    """(query, user) → its events as (type, object_id, rank)."""
    return {
        (api.searches[sid]["query"], api.searches[sid]["user_id"]): [
            (e["type"], e["object_id"], e["rank"]) for e in events
        ]
        for sid, events in api.events.items()
    }


def test_every_user_searches_clicks_and_closes_with_deterministic_event_ids() -> None:
    api = FakeApi()
    settings = Settings(users_per_query=3, seed=7, model=ClickModel(abandon_rate=0.0))
    report = simulate(api, CATALOG, settings, index="books")
    assert report.sessions == 6
    assert sorted(api.closed) == sorted(api.searches)
    assert sorted(report.task_ids) == sorted(f"task-{sid}" for sid in api.searches)
    users = {(b["query"], b["user_id"]) for b in api.searches.values()}
    assert users == {(q, f"sim-user-{u}") for q in CATALOG.queries.values() for u in range(3)}
    assert all(b["index"] == "books" and b["limit"] == 10 for b in api.searches.values())
    for sid, events in api.events.items():
        assert [e["event_id"] for e in events] == [f"{sid}:{n}" for n in range(len(events))]
        assert all(e["timestamp"] <= events[-1]["timestamp"] for e in events)
    assert report.clicks == sum(n for n in report.clicks_by_rank.values())
    assert report.statuses["accepted"] == sum(len(e) for e in api.events.values())


def test_clicks_are_the_same_at_any_concurrency_and_change_with_the_seed() -> None:
    runs = {}
    for concurrency, seed in ((1, 7), (4, 7), (4, 8)):
        api = FakeApi()
        settings = Settings(users_per_query=4, seed=seed, concurrency=concurrency)
        simulate(api, CATALOG, settings, index="books")
        runs[(concurrency, seed)] = clicks_by_session(api)
    assert runs[(1, 7)] == runs[(4, 7)]
    assert runs[(4, 7)] != runs[(4, 8)]


def test_settings_come_from_the_hydra_config_or_any_mapping() -> None:
    cfg = OmegaConf.load(CONFIG)
    settings = Settings.from_config(cfg)
    assert settings.users_per_query == cfg.users_per_query
    assert settings.model.click_prob == {1: 0.4, 2: 0.7, 3: 0.9, 4: 0.95}
    assert settings.model.eta == cfg.eta
    # The lifecycle passes its own config: keys it lacks keep their defaults.
    partial = Settings.from_config({"seed": 3, "index": "demo", "dataset": None, "noise_rate": 0.0})
    assert (partial.seed, partial.users_per_query, partial.model.noise_rate) == (3, 3, 0.0)


def test_an_api_error_stops_the_simulation() -> None:
    class Failing(FakeApi):
        def call(self, method: str, path: str, **kwargs: Any) -> Any:
            if path.endswith("/close"):
                raise RuntimeError("POST close -> 500")
            return super().call(method, path, **kwargs)

    with pytest.raises(RuntimeError, match="close -> 500"):
        simulate(Failing(), CATALOG, Settings(), index="books")


def test_a_refused_query_is_skipped_counted_and_the_run_goes_on() -> None:
    class Refusing(FakeApi):
        def call(self, method: str, path: str, **kwargs: Any) -> Any:
            if path == "/search/similar" and kwargs["json"]["query"] == "boundary layer":
                raise ApiError("POST /search/similar -> 422", 422, "422 query")
            return super().call(method, path, **kwargs)

    api = Refusing()
    report = simulate(api, CATALOG, Settings(users_per_query=2), index="books")
    assert report.sessions == 2  # wing flutter, for both users
    assert report.skipped.reasons == {"422 query": 2}
    assert report.skipped.queries == ["q2"]
    assert "2 searches skipped" in report.summary()


def test_an_outage_still_stops_the_simulation() -> None:
    class Down(FakeApi):
        def call(self, method: str, path: str, **kwargs: Any) -> Any:
            raise ApiError("POST /search/similar -> 503", 503, "503")

    with pytest.raises(ApiError, match="503"):
        simulate(Down(), CATALOG, Settings(), index="books")
