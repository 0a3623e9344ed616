"""The ranx-backed metrics on hand-checkable rankings, and the guard's paired test."""

from __future__ import annotations

import math

import pytest

from jobs.training import ir_metrics


def dcg(gains: list[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def test_graded_metrics_match_their_definitions() -> None:
    judged = {"q1": {"a": 3.0, "b": 1.0, "z": 0.0}, "q2": {"c": 2.0}, "q3": {"d": 0.0}}
    ranked = {"q1": ["x", "b", "a"], "q2": ["y"] * 0 + [f"n{i}" for i in range(10)] + ["c"]}

    found = ir_metrics.quality(ranked, judged)

    q1 = dcg([0, 1, 3]) / dcg([3, 1])  # q2: c at rank 11, outside the top 10; q3 has no relevant object
    assert found["ndcg@10"] == pytest.approx((q1 + 0.0) / 2)
    assert found["mrr@10"] == pytest.approx((1 / 2 + 0.0) / 2)
    assert found["recall@100"] == pytest.approx((1.0 + 1.0) / 2)
    assert ir_metrics.judged_queries(judged) == 2


def test_click_weights_keep_their_ratios() -> None:
    # Float gains (click rates) are scaled to ranx's integer grades: the ratio 0.37 : 0.12 survives.
    judged = {"q": {"a": 0.37, "b": 0.12}}
    found = ir_metrics.quality({"q": ["b", "a"]}, judged)
    assert found["ndcg@10"] == pytest.approx(dcg([0.12, 0.37]) / dcg([0.37, 0.12]), abs=1e-4)


def test_a_judged_query_missing_from_the_runs_scores_zero() -> None:
    judged = {"q1": {"a": 1.0}, "q2": {"b": 1.0}}
    assert ir_metrics.quality({"q1": ["a"]}, judged)["ndcg@10"] == pytest.approx(0.5)
    assert ir_metrics.quality({"q1": ["a"], "q2": []}, judged)["ndcg@10"] == pytest.approx(0.5)
    assert ir_metrics.quality({}, {"q": {"a": 0.0}}) == dict.fromkeys(ir_metrics.METRICS, 0.0)


def test_the_paired_test_tells_a_consistent_gain_from_a_lucky_one() -> None:
    judged = {f"q{i}": {f"r{i}": 1.0} for i in range(30)}
    champion = {f"q{i}": [f"n{i}", f"m{i}", f"r{i}"] for i in range(30)}  # relevant at rank 3 everywhere
    better = {f"q{i}": [f"r{i}", f"n{i}"] for i in range(30)}  # rank 1 everywhere
    # Rank 1 on 2 queries, rank 6 on 3 others, the rest unchanged: a higher mean, but it could be chance.
    lucky = dict(champion)
    lucky |= {f"q{i}": [f"r{i}"] for i in (0, 1)}
    lucky |= {f"q{i}": [*(f"n{i}-{j}" for j in range(5)), f"r{i}"] for i in (2, 3, 4)}
    assert ir_metrics.quality(lucky, judged)["ndcg@10"] > ir_metrics.quality(champion, judged)["ndcg@10"]

    assert ir_metrics.p_value(champion, better, judged) < 0.001
    assert ir_metrics.p_value(champion, lucky, judged) > 0.2
    assert ir_metrics.p_value(better, champion, judged) > 0.999  # one-sided: worse is never significant
    assert ir_metrics.p_value(champion, champion, judged) >= 0.5
    assert ir_metrics.p_value(champion, better, {"q0": {"r0": 1.0}}) == 1.0  # one query tests nothing


def test_swapped_roles_give_the_p_of_worse() -> None:
    """The guard's "worse" is the same test with the roles swapped: the two one-sided p-values of a pair
    add up to 1 when the means differ (one randomisation distribution, read from both tails; ranx draws
    its 10,000 permutations in parallel threads, so the two draws differ by a little noise)."""
    judged = {f"q{i}": {f"r{i}": 1.0} for i in range(30)}
    champion = {f"q{i}": [f"r{i}"] for i in range(30)}
    # Rank 2 on 6 queries: a lower mean, significant over 30 queries.
    worse = champion | {f"q{i}": [f"n{i}", f"r{i}"] for i in range(6)}
    better_p, worse_p = (
        ir_metrics.p_value(champion, worse, judged),
        ir_metrics.p_value(worse, champion, judged),
    )
    assert worse_p < 0.05
    assert better_p + worse_p == pytest.approx(1.0, abs=0.01)
