"""The tally from credited sessions and the action each verdict takes, on literal values."""

from __future__ import annotations

from datetime import UTC, datetime

from functions.experiments.logic import CURVE_POINTS, action_for, tally
from functions.records import Experiment, InterleavedSession

C, N = "control", "candidate"


def _session(sides: list[str], clicked: list[int]) -> InterleavedSession:
    return InterleavedSession(session_id="s", sides=sides, clicked=clicked)


def test_sessions_credit_the_side_that_picked_the_clicked_positions() -> None:
    sessions = [
        _session([C, N, C, N], [1]),  # candidate
        _session([C, N, C, N], [0, 2, 3]),  # control 2, candidate 1
        _session([N, C], [0, 1]),  # tie
        _session([N, C], []),  # no click: says nothing
        _session([N, C], [5]),  # a click off the page: says nothing
        _session([N, C], [0, 0]),  # one position twice counts once
    ]
    counts, curve = tally(sessions)
    assert (counts.candidate, counts.control, counts.ties) == (2, 1, 1)
    assert curve == [(1, 1.0), (2, 0.5), (3, 0.5), (4, 0.6667)]


def test_a_page_with_an_unknown_side_is_not_credited() -> None:
    counts, _ = tally([_session([C, "other"], [0])])
    assert counts.sessions == 0


def test_a_cap_counts_only_the_first_credited_sessions() -> None:
    sessions = [_session([N, C], [])] + [_session([N, C], [0])] * 3 + [_session([N, C], [1])] * 3
    counts, curve = tally(sessions, cap=4)
    assert (counts.candidate, counts.control, counts.ties) == (3, 1, 0)
    assert curve[-1] == (4, 0.75)


def test_the_curve_is_thinned_and_keeps_its_last_point() -> None:
    counts, curve = tally([_session([N, C], [0])] * 1000 + [_session([N, C], [1])])
    assert counts.sessions == 1001
    assert len(curve) <= CURVE_POINTS + 1
    assert curve[-1] == (1001, round(1000 / 1001, 4))


def test_each_verdict_takes_its_configured_action() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    experiment = Experiment(
        id="e",
        index_name="i",
        control_collection_id="a",
        candidate_collection_id="b",
        candidate_model_version="2",
        share=1.0,
        alpha=0.05,
        tau=0.2,
        min_sessions=1,
        max_sessions=10,
        on_win="switch",
        on_lose="discard",
        on_tie="keep",
        state="running",
        created_at=now,
        updated_at=now,
    )
    assert [action_for(experiment, v) for v in ("candidate", "control", "tie")] == [
        "switch",
        "discard",
        "keep",
    ]
