"""Sessions → per-query feedback, on literal sessions."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from functions.fine_tuning.pairs import (
    Weighing,
    explored,
    merge_sessions,
    negatives_for,
    normalise_query,
    usable_sessions,
)
from functions.records import FeedbackEvent, FeedbackSession

RULES = Weighing(
    event_weights={"click": 1.0, "add_to_cart": 2.0, "purchase": 3.0}, dwell_full_ms=30_000, dwell_floor=0.25
)
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def session(
    sid: str, query: str, shown: list[str], *events: FeedbackEvent, vector: bool = False
) -> FeedbackSession:
    return FeedbackSession(
        session_id=sid,
        query=query,
        query_vector=np.ones(3, dtype=np.float32) if vector else None,
        shown=tuple(shown),
        events=events,
        created_at=T0,
    )


def click(oid: str, kind: str = "click", dwell_ms: int | None = None) -> FeedbackEvent:
    return FeedbackEvent(type=kind, object_id=oid, dwell_ms=dwell_ms)


def test_skipped_above_the_last_click_are_negatives_below_are_not() -> None:
    [fb] = merge_sessions([session("s1", "roses", ["a", "b", "c", "d", "e"], click("d"), click("b"))], RULES)
    assert fb.positives == {"b": 1.0, "d": 1.0}
    assert fb.skipped == {"a", "c"}  # e was below the last click: the user may never have seen it


def test_an_item_clicked_for_the_same_query_elsewhere_is_never_a_negative() -> None:
    sessions = [
        session("s1", "Rose  Pruning", ["a", "b", "c"], click("c")),
        session("s2", "rose pruning", ["b", "a"], click("a")),  # a was skipped in s1: a false negative
    ]
    [fb] = merge_sessions(sessions, RULES)
    assert fb.positives == {"a": 1.0, "c": 1.0}
    assert fb.skipped == {"b"}
    assert negatives_for(fb, ["a", "x", "c", "y"], cap=10) == ["b", "x", "y"]


def test_weights_follow_event_type_and_dwell_and_add_up_across_sessions() -> None:
    sessions = [
        session("s1", "tulips", ["a", "b"], click("a", dwell_ms=3_000), click("b", "purchase")),
        session("s2", "Tulips", ["a"], click("a", dwell_ms=60_000), click("a", "view")),  # unknown type: 0
    ]
    [fb] = merge_sessions(sessions, RULES)
    assert fb.positives == pytest.approx({"a": 0.25 + 1.0, "b": 3.0})
    assert [oid for oid, _ in fb.ranked_positives()] == ["b", "a"]
    assert fb.sessions == 2


def test_duplicates_merge_by_normalised_query_and_sessions_without_positives_do_not_count() -> None:
    sessions = [
        session("s1", "  Kitchen   HERBS ", ["a"], click("a"), vector=True),
        session("s2", "kitchen herbs", ["b"], click("b")),
        session("s3", "lawn", ["c"]),  # no event: nothing to learn
        session("s4", "veg", ["d"], click("d", "view")),  # only a weightless event
    ]
    feedback = merge_sessions(sessions, RULES)
    assert [fb.key for fb in feedback] == ["kitchen herbs"]
    assert feedback[0].query == "Kitchen   HERBS"
    assert feedback[0].vector is not None
    assert usable_sessions(feedback) == 2
    assert normalise_query("Ｋitchen\tHerbs") == "kitchen herbs"


def test_negatives_are_capped_skipped_first_without_repeats() -> None:
    [fb] = merge_sessions([session("s1", "q", ["a", "b", "c", "d"], click("d"))], RULES)
    assert negatives_for(fb, ["x", "a", "y"], cap=4) == ["a", "b", "c", "x"]
    assert negatives_for(fb, ["x"], cap=0) == []


def test_clicks_on_the_candidates_picks_count_as_explored() -> None:
    plain = session("s1", "roses", ["a", "b"], click("a"))
    mixed = FeedbackSession(
        session_id="s2",
        query="roses",
        query_vector=None,
        shown=("a", "x", "b", "y"),
        sides=("control", "candidate", "control", "candidate"),
        events=(click("x"), click("b"), click("y", "add_to_cart"), click("zz")),
        created_at=T0,
    )
    assert explored([plain, mixed], RULES) == 2  # x and y; b was the control's, zz never shown
