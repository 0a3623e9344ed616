"""The simulated users' click model with literal values: examination, click rates, streams, sessions."""

from __future__ import annotations

import numpy as np
import pytest

from sim.click_model import (
    ClickModel,
    SimEvent,
    median_dwell_ms,
    p_click,
    p_exam,
    sample_session,
    session_rng,
)

SHOWN = [f"d{i}" for i in range(10)]
GRADES = {"d0": 3, "d2": 1, "d5": 4, "d9": 2}


def test_examination_falls_with_rank_as_one_over_rank_to_the_eta() -> None:
    assert p_exam(1, 1.0) == 1.0
    assert p_exam(2, 1.0) == 0.5
    assert p_exam(4, 0.5) == 0.5
    assert p_exam(10, 2.0) == pytest.approx(0.01)
    assert p_exam(7, 0.0) == 1.0  # eta 0: no position bias
    with pytest.raises(ValueError, match="ranks start at 1"):
        p_exam(0, 1.0)


def test_click_probability_comes_from_the_grade_and_the_noise_rate() -> None:
    model = ClickModel(click_prob={1: 0.4, 2: 0.7, 3: 0.9, 4: 0.95}, noise_rate=0.05)
    assert [p_click(g, model) for g in (0, 1, 2, 3, 4)] == [0.05, 0.4, 0.7, 0.9, 0.95]
    assert p_click(5, model) == 0.95  # above the highest known grade: its probability
    assert p_click(-1, model) == 0.05
    sparse = ClickModel(click_prob={2: 0.6}, noise_rate=0.1)
    assert [p_click(g, sparse) for g in (0, 1, 2, 3)] == [0.1, 0.1, 0.6, 0.6]


def test_dwell_medians_grow_with_the_grade() -> None:
    model = ClickModel(dwell_ms={0: 4000, 2: 20000, 4: 45000})
    assert [median_dwell_ms(g, model) for g in (0, 1, 2, 3, 4, 9)] == [4000, 4000, 20000, 20000, 45000, 45000]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"noise_rate": 1.5}, r"noise_rate must lie in \[0, 1\]"),
        ({"abandon_rate": -0.1}, r"abandon_rate must lie in \[0, 1\]"),
        ({"click_prob": {1: 2.0}}, r"click_prob\[1\] must lie in \[0, 1\]"),
        ({"click_prob": {0: 0.5}}, "grade 0 clicks at noise_rate"),
        ({"eta": -1.0}, "must not be negative"),
        ({"dwell_ms": {}}, "dwell_ms needs at least one grade"),
    ],
)
def test_bad_parameters_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClickModel(**fields)  # type: ignore[arg-type]


def test_the_same_seed_query_and_user_give_the_same_session() -> None:
    model = ClickModel(eta=0.5, abandon_rate=0.0, cart_rate=0.5, purchase_rate=0.5)
    first = [sample_session(SHOWN, GRADES, model, session_rng(7, "1", user)) for user in range(4)]
    again = [sample_session(SHOWN, GRADES, model, session_rng(7, "1", user)) for user in range(4)]
    assert first == again
    # Pinned: PCG64 streams are stable, so these clicks must not change between runs or machines.
    assert [[(e.type, e.object_id, e.rank) for e in s] for s in first] == [
        [("click", "d0", 1), ("click", "d5", 6)],
        [("click", "d0", 1)],
        [("click", "d0", 1), ("click", "d5", 6), ("add_to_cart", "d5", 6), ("purchase", "d5", 6)],
        [("click", "d0", 1), ("add_to_cart", "d0", 1), ("click", "d5", 6), ("add_to_cart", "d5", 6),
         ("click", "d9", 10)],
    ]  # fmt: skip
    assert first[0][0] == SimEvent("click", "d0", 1, at_ms=2000, dwell_ms=26959)


def test_users_and_queries_get_different_streams() -> None:
    draws = {
        (seed, query, user): session_rng(seed, query, user).random()
        for seed in (7, 8)
        for query in ("1", "2")
        for user in (0, 1)
    }
    assert len(set(draws.values())) == len(draws)


def test_events_are_in_time_order_and_conversions_follow_their_click() -> None:
    model = ClickModel(eta=0.0, abandon_rate=0.0, noise_rate=0.0, cart_rate=1.0, purchase_rate=1.0)
    events = sample_session(SHOWN, GRADES, model, session_rng(3, "q", 0))
    times = [e.at_ms for e in events]
    assert times == sorted(times)
    for i, event in enumerate(events):
        if event.type != "click":
            assert event.dwell_ms is None
            assert any(c.type == "click" and c.object_id == event.object_id for c in events[:i])
    # Only grades >= convert_grade (3) convert: d0 (3) and d5 (4), never d2 (1) or d9 (2).
    assert {e.object_id for e in events if e.type != "click"} <= {"d0", "d5"}


def test_no_bias_certain_clicks_and_no_noise_click_exactly_the_relevant_items() -> None:
    model = ClickModel(eta=0.0, click_prob={1: 1.0}, noise_rate=0.0, abandon_rate=0.0, cart_rate=0.0)
    events = sample_session(SHOWN, GRADES, model, session_rng(1, "q", 0))
    assert [(e.object_id, e.rank) for e in events] == [("d0", 1), ("d2", 3), ("d5", 6), ("d9", 10)]


def test_noise_only_users_click_only_non_relevant_items() -> None:
    model = ClickModel(eta=0.0, click_prob={1: 0.0}, noise_rate=1.0, abandon_rate=0.0)
    events = sample_session(SHOWN, GRADES, model, session_rng(1, "q", 0))
    assert [e.object_id for e in events] == ["d1", "d3", "d4", "d6", "d7", "d8"]


def test_abandoning_users_never_click() -> None:
    model = ClickModel(abandon_rate=1.0, noise_rate=1.0, click_prob={1: 1.0})
    assert sample_session(SHOWN, GRADES, model, session_rng(1, "q", 0)) == []
    assert sample_session([], GRADES, ClickModel(), session_rng(1, "q", 0)) == []


def test_click_rates_over_many_sessions_match_examination_times_click_probability() -> None:
    model = ClickModel(eta=1.0, abandon_rate=0.2, noise_rate=0.05, cart_rate=0.0)
    n = 20_000
    clicks = np.zeros(len(SHOWN))
    dwell: dict[int, list[int]] = {1: [], 4: []}
    for s in range(n):
        for event in sample_session(SHOWN, GRADES, model, session_rng(11, "q", s)):
            clicks[event.rank - 1] += 1
            grade = GRADES.get(event.object_id, 0)
            if grade in dwell and event.dwell_ms is not None:
                dwell[grade].append(event.dwell_ms)
    expected = [0.8 * p_exam(r + 1, 1.0) * p_click(GRADES.get(d, 0), model) for r, d in enumerate(SHOWN)]
    assert clicks / n == pytest.approx(expected, abs=0.01)
    assert np.median(dwell[4]) == pytest.approx(45_000, rel=0.05)
    assert np.median(dwell[1]) == pytest.approx(12_000, rel=0.05)
