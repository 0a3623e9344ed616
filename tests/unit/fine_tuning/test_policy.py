"""Positive weighting (sum | ips) and session negatives (skipped_above | unclicked | none), on literal
sessions; and the preset keys that choose them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from functions.config import AppConfig
from functions.errors import InvalidInput
from functions.fine_tuning import logic
from functions.fine_tuning.pairs import Policy, Weighing, merge_sessions, negatives_for
from functions.records import FeedbackEvent, FeedbackSession
from tests.support.config import app_config

RULES = Weighing(event_weights={"click": 1.0, "purchase": 3.0}, dwell_full_ms=30_000, dwell_floor=0.25)
T0 = datetime(2024, 1, 1, tzinfo=UTC)
IPS = Policy(weighting="ips", negatives="none")


def session(sid: str, shown: str, *clicked: str, query: str = "q", offset: int = 0) -> FeedbackSession:
    """A session of `query` that showed the letters of `shown` in order and clicked `clicked`."""
    events = tuple(FeedbackEvent(type="click", object_id=oid) for oid in clicked)
    return FeedbackSession(
        session_id=sid,
        query=query,
        query_vector=None,
        shown=tuple(shown),
        events=events,
        created_at=T0,
        shown_offset=offset,
    )


def test_ips_divides_summed_weight_by_expected_examinations_of_every_session() -> None:
    sessions = [
        session("s1", "abcd", "a"),
        session("s2", "abcd", "d"),
        session("s3", "abcd"),  # no click: still four exposures
        session("s4", "abcd", "d"),
    ]
    [fb] = merge_sessions(sessions, RULES, IPS)
    # a: 1 click / (4 sessions x 1/1); d: 2 clicks / (4 x 1/4) = the rarely seen result rates higher.
    assert fb.positives == pytest.approx({"a": 1 / 4, "d": 2.0})
    assert fb.sessions == 3  # sessions with a positive, what min_sessions counts


def test_ips_ranks_count_from_the_page_offset_and_off_list_clicks_keep_their_sum() -> None:
    sessions = [session(f"s{i}", "ab", "b", offset=0) for i in range(4)]
    sessions += [session("p2", "bx", "x", offset=10)]  # b at rank 11, x at rank 12
    sessions += [session("far", "a", "z")]  # z clicked but never in a shown list
    [fb] = merge_sessions(sessions, RULES, IPS)
    assert fb.positives["b"] == pytest.approx(4 / (4 * 0.5 + 1 / 11))
    assert fb.positives["x"] == pytest.approx(1.0)  # 1/12 of an examination, floored at one
    assert fb.positives["z"] == pytest.approx(1.0)


def test_sum_weighting_adds_up_and_ips_keeps_rates_as_traffic_grows() -> None:
    few = [session("s1", "ab", "b"), session("s2", "ab")]
    many = [session(f"s{i}", "ab", *(["b"] if i % 2 == 0 else [])) for i in range(20)]
    assert merge_sessions(many, RULES)[0].positives["b"] == 10.0
    assert merge_sessions(few, RULES, IPS)[0].positives["b"] == pytest.approx(1.0)  # 1 / max(2 x 0.5, 1)
    assert merge_sessions(many, RULES, IPS)[0].positives["b"] == pytest.approx(1.0)  # 10 / (20 x 0.5)


def test_unclicked_negatives_are_shown_within_depth_and_never_engaged_in_any_session() -> None:
    policy = Policy(negatives="unclicked", negatives_depth=3)
    sessions = [
        session("s1", "abcde", "b"),
        session("s2", "cafe", "a"),  # a was unclicked in s1: clicked here, never a negative
        session("s3", "gbh"),  # no click at all: its top 3 still counts as shown
        session("s4", "bcd", query="other"),  # another query's shown list does not count
    ]
    feedback = {fb.key: fb for fb in merge_sessions(sessions, RULES, policy)}
    # c (rank 3 in s1, 1 in s2), f (2 in s2), g, h (s3); d and e only below rank 3.
    assert feedback["q"].skipped == {"c", "f", "g", "h"}
    assert "other" not in feedback  # no click there: no feedback
    assert negatives_for(feedback["q"], ["x", "c"], cap=3) == ["c", "f", "g"]


def test_an_event_of_any_weight_keeps_an_object_out_of_unclicked_negatives() -> None:
    events = (FeedbackEvent(type="click", object_id="a"), FeedbackEvent(type="view", object_id="b"))
    s = FeedbackSession(
        session_id="s1", query="q", query_vector=None, shown=("a", "b", "c"), events=events, created_at=T0
    )
    [fb] = merge_sessions([s], RULES, Policy(negatives="unclicked"))
    assert fb.positives == {"a": 1.0}  # "view" weighs nothing: not a positive
    assert fb.skipped == {"c"}  # but the user acted on b: not a negative either


def test_unclicked_is_not_limited_to_above_the_last_click_and_none_gives_no_session_negatives() -> None:
    sessions = [session("s1", "abcd", "a")]
    assert merge_sessions(sessions, RULES)[0].skipped == set()  # skipped_above: nothing above rank 1
    assert merge_sessions(sessions, RULES, Policy(negatives="unclicked"))[0].skipped == {"b", "c", "d"}
    [fb] = merge_sessions([session("s1", "abcd", "d")], RULES, Policy(negatives="none"))
    assert fb.skipped == set()
    assert negatives_for(fb, ["x", "d"], cap=4) == ["x"]


def test_ips_weights_meet_the_minimum_positive_weight_as_rates() -> None:
    sessions = [session(f"s{i}", "ab", *(["a"] if i == 0 else []), "b") for i in range(20)]
    [fb] = merge_sessions(sessions, RULES, Policy(weighting="ips", negatives="unclicked"))
    assert fb.positives == pytest.approx({"a": 1 / 20, "b": 20 / 10})
    example = logic.example(fb, sorted(fb.skipped), {"a": "text a", "b": "text b"}, min_weight=0.1)
    assert example is not None
    assert example.positives == ["text b"]  # a: one click in twenty looks, under 0.1
    assert example.negatives == []  # a was clicked once: never a negative


@pytest.fixture(scope="module")
def config() -> AppConfig:
    return app_config()


def test_presets_carry_their_policy_and_overrides_change_it(config: AppConfig) -> None:
    small = logic.resolve_preset(config, "small", None)
    assert logic.policy(small) == Policy(weighting="ips", negatives="unclicked", negatives_depth=10)
    changed = logic.resolve_preset(config, "small", {"weighting": "sum", "negatives": "skipped_above"})
    assert logic.policy(changed) == Policy(weighting="sum", negatives="skipped_above", negatives_depth=10)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"weighting": "idf"}, "overrides.weighting"),
        ({"negatives": "all"}, "overrides.negatives"),
        ({"negatives_depth": 0}, "overrides.negatives_depth"),
        ({"negatives_depth": "deep"}, "overrides.negatives_depth"),
    ],
)
def test_a_bad_policy_override_names_its_key(
    config: AppConfig, overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        logic.resolve_preset(config, "tiny", overrides)
    assert caught.value.field == field
