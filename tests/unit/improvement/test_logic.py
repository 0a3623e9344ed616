"""Improvement rules with literal vectors: steps toward and away, the drift cap, sessions to moves."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

from functions.feedback import vector_moves as logic
from functions.feedback.event_weights import EventWeighing as FeedbackRules
from functions.feedback.event_weights import dwell_factor
from functions.feedback.vector_moves import Move
from functions.records import FeedbackEvent, ObjectVectors, SessionFeedback
from tests.support.config import app_config

CFG = msgspec.structs.replace(
    app_config().improvement, shared=True, personal=True, learning_rate=0.2, push_weight=0.5, max_drift=0.15
)
RULES = FeedbackRules(event_weights={"click": 1.0, "purchase": 3.0}, dwell_full_ms=30_000, dwell_floor=0.25)
R = math.sqrt(0.5)


def m(*rows: list[float]) -> np.ndarray:
    return np.array(rows, dtype=np.float64)


def test_toward_moves_a_fraction_of_the_way_then_normalises() -> None:
    moved = logic.step(m([1.0, 0.0]), m([0.0, 1.0]), "toward", 0.5)
    np.testing.assert_allclose(moved, m([R, R]))
    np.testing.assert_allclose(logic.step(m([1.0, 0.0]), m([0.0, 1.0]), "toward", 1.0), m([0.0, 1.0]))


def test_away_moves_the_other_way_and_stays_unit() -> None:
    moved = logic.step(m([1.0, 0.0]), m([0.0, 1.0]), "away", 0.5)
    np.testing.assert_allclose(moved, m([1.5, -0.5]) / math.sqrt(2.5))
    # Already at the query: there is no direction to move away in, and nothing breaks.
    np.testing.assert_allclose(logic.step(m([0.0, 1.0]), m([0.0, 1.0]), "away", 0.5), m([0.0, 1.0]))


def test_drift_cap_moves_back_along_the_great_circle_to_exactly_the_limit() -> None:
    capped = logic.cap_drift(m([0.0, 1.0, 0.0]), m([1.0, 0.0, 0.0]), 0.5)
    np.testing.assert_allclose(capped, m([0.5, math.sqrt(0.75), 0.0]))
    assert 1.0 - float(capped[0] @ np.array([1.0, 0.0, 0.0])) == pytest.approx(0.5)
    within = m([R, R, 0.0])  # cosine distance 0.29 from [1, 0, 0]
    np.testing.assert_array_equal(logic.cap_drift(within, m([1.0, 0.0, 0.0]), 0.5), within)
    np.testing.assert_allclose(logic.cap_drift(m([-1.0, 0.0, 0.0]), m([1.0, 0.0, 0.0]), 0.1), m([1.0, 0, 0]))


def test_average_is_the_normalised_mean() -> None:
    np.testing.assert_allclose(logic.mean_vector(m([1.0, 0.0], [0.0, 1.0])), [R, R])


def test_dwell_scales_linearly_with_a_floor() -> None:
    assert dwell_factor(None, RULES) == 1.0
    assert dwell_factor(60_000, RULES) == 1.0
    assert dwell_factor(15_000, RULES) == 0.5
    assert dwell_factor(0, RULES) == 0.25


def session(*events: FeedbackEvent, **fields: object) -> SessionFeedback:
    values: dict[str, object] = {
        "session_id": "s1",
        "index_name": "books",
        "collection_id": "c1",
        "user_id": "u1",
        "query_vector": np.array([0.0, 1.0], dtype=np.float32),
        "shown": ("a", "b", "c", "d"),
        "irrelevant": False,
        "events": events,
    }
    values.update(fields)
    return SessionFeedback(**values)  # type: ignore[arg-type]


def click(object_id: str, type: str = "click", dwell_ms: int | None = None) -> FeedbackEvent:
    return FeedbackEvent(type=type, object_id=object_id, dwell_ms=dwell_ms)


def test_clicked_moves_toward_and_skipped_above_it_move_away() -> None:
    moves = logic.session_moves(session(click("c")), RULES, CFG)
    assert moves == [
        Move(object_id="c", direction="toward", fraction=pytest.approx(0.2)),
        Move(object_id="a", direction="away", fraction=pytest.approx(0.1)),
        Move(object_id="b", direction="away", fraction=pytest.approx(0.1)),
    ]


def test_events_compound_without_overshooting_and_weigh_by_type_and_dwell() -> None:
    moves = logic.session_moves(
        session(click("b"), click("b"), click("d", "purchase"), click("a", dwell_ms=15_000)), RULES, CFG
    )
    assert isinstance(moves, list)
    toward = {mv.object_id: mv.fraction for mv in moves if mv.direction == "toward"}
    assert toward == pytest.approx({"a": 0.1, "b": 1 - 0.8**2, "d": 0.6})
    assert [mv.object_id for mv in moves if mv.direction == "away"] == ["c"]  # above the last (d), unclicked


def test_no_push_without_push_weight() -> None:
    cfg = msgspec.structs.replace(CFG, push_weight=0.0)
    assert logic.session_moves(session(click("d")), RULES, cfg) == [
        Move(object_id="d", direction="toward", fraction=pytest.approx(0.2))
    ]


@pytest.mark.parametrize(
    ("feedback", "reason"),
    [
        (session(click("a"), irrelevant=True), "irrelevant"),
        (session(click("a"), query_vector=None), "no_query_vector"),
        (session(), "no_feedback"),
        (session(click("a", "hover"), FeedbackEvent(type="click")), "no_feedback"),
    ],
)
def test_sessions_that_change_nothing_say_why(feedback: SessionFeedback, reason: str) -> None:
    assert logic.session_moves(feedback, RULES, CFG) == reason


def test_anonymous_sessions_change_nothing_when_only_personal_is_on() -> None:
    personal_only = msgspec.structs.replace(CFG, shared=False)
    assert logic.session_moves(session(click("a"), user_id=None), RULES, personal_only) == "no_user"


def obj(parts: list[list[float]], **fields: object) -> ObjectVectors:
    vectors = np.array(parts, dtype=np.float32)
    values: dict[str, object] = {
        "object_id": "a",
        "parts": vectors,
        "average": logic.mean_vector(vectors.astype(np.float64)).astype(np.float32),
        "original_parts": None,
        "original_average": None,
    }
    values.update(fields)
    return ObjectVectors(**values)  # type: ignore[arg-type]


QUERY = np.array([0.0, 1.0], dtype=np.float32)
CLICK_A = [Move(object_id="a", direction="toward", fraction=0.2)]


def test_shared_and_personal_changes_start_from_the_same_vectors() -> None:
    changes = logic.changes(CLICK_A, {"a": obj([[1.0, 0.0]])}, QUERY, CFG, "u1")
    assert [c.user_id for c in changes] == [None, "u1"]
    shared, personal = changes
    np.testing.assert_allclose(shared.parts, personal.parts)
    np.testing.assert_allclose(shared.before_parts, [[1.0, 0.0]])
    expected = np.array([0.8, 0.2]) / math.hypot(0.8, 0.2)
    np.testing.assert_allclose(shared.parts[0], expected, rtol=1e-6)
    np.testing.assert_allclose(shared.average, expected, rtol=1e-6)
    assert shared.delta == pytest.approx(float(np.linalg.norm(expected - [1.0, 0.0])), rel=1e-6)


def test_personal_continues_from_the_users_copy_and_the_cap_counts_from_the_original() -> None:
    original = [[1.0, 0.0]]
    start = [[math.cos(0.5), math.sin(0.5)]]  # 1 - cos(0.5) = 0.122 from the original already
    found = {
        "a": obj(
            start,
            original_parts=np.array(original, dtype=np.float32),
            original_average=np.array(original[0], dtype=np.float32),
            personal_parts=np.array([[R, R]], dtype=np.float32),  # at 0.29: over the cap
            personal_average=np.array([R, R], dtype=np.float32),
        )
    }
    shared, personal = logic.changes(CLICK_A, found, QUERY, CFG, "u1")
    for change in (shared, personal):
        drift = 1.0 - float(change.parts[0] @ np.array(original[0], dtype=np.float32))
        assert drift == pytest.approx(CFG.max_drift, abs=1e-6)
    np.testing.assert_allclose(personal.before_parts, [[R, R]], rtol=1e-6)


def test_only_the_kinds_switched_on_and_only_stored_objects() -> None:
    personal_only = msgspec.structs.replace(CFG, shared=False)
    found = {"a": obj([[1.0, 0.0]])}
    missing = [Move(object_id="gone", direction="toward", fraction=0.2)]
    assert logic.changes(missing, found, QUERY, CFG, "u1") == []
    assert [c.user_id for c in logic.changes(CLICK_A, found, QUERY, personal_only, "u1")] == ["u1"]
    assert logic.changes(CLICK_A, found, QUERY, personal_only, None) == []
    at_query = {"a": obj([[0.0, 1.0]])}
    assert logic.changes(CLICK_A, at_query, QUERY, CFG, None) == []  # nothing to move


def test_a_later_page_uses_ranks_as_shown() -> None:
    """shown[i] was rank shown_offset + i + 1; an event outside the list still names its rank."""
    outside = FeedbackEvent(type="click", object_id="z", rank=13)
    moves = logic.session_moves(session(outside, shown_offset=10), RULES, CFG)
    assert isinstance(moves, list)
    assert [(mv.object_id, mv.direction) for mv in moves] == [("z", "toward"), ("a", "away"), ("b", "away")]


def test_only_the_query_direction_counts() -> None:
    unit = logic.changes(CLICK_A, {"a": obj([[1.0, 0.0]])}, QUERY, CFG, None)
    long = logic.changes(CLICK_A, {"a": obj([[1.0, 0.0]])}, QUERY * 7, CFG, None)
    np.testing.assert_allclose(long[0].parts, unit[0].parts)
