"""The ranx-backed metrics on hand-checkable rankings, and the gate's paired test."""

from __future__ import annotations

import math

import pytest

from functions.records import ModelScores
from jobs.training import ir_metrics
from jobs.training.study import promotable


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


def test_the_gate_needs_margin_and_significance() -> None:
    champion = ModelScores(ndcg_at_10=0.40, mrr_at_10=0.5, recall_at_100=0.8)
    challenger = ModelScores(ndcg_at_10=0.42, mrr_at_10=0.5, recall_at_100=0.8)
    assert promotable(champion, challenger, margin=0.01, p_value=0.01, max_p=0.05)
    assert not promotable(champion, challenger, margin=0.01, p_value=0.2, max_p=0.05)  # could be chance
    assert not promotable(champion, challenger, margin=0.10, p_value=0.01, max_p=0.05)  # below the margin
    assert not promotable(champion, champion, margin=0.0, p_value=0.0, max_p=1.0)  # equal is not better
    assert promotable(champion, challenger, margin=0.0, p_value=0.9, max_p=1.0)  # the test turned off


def test_a_benchmark_can_only_refuse() -> None:
    champion = ModelScores(ndcg_at_10=0.40, mrr_at_10=0.5, recall_at_100=0.8)
    challenger = ModelScores(ndcg_at_10=0.44, mrr_at_10=0.5, recall_at_100=0.8)
    judged_worse = (ModelScores(ndcg_at_10=0.41, mrr_at_10=0.6, recall_at_100=0.9),) * 2
    worse = (judged_worse[0], ModelScores(ndcg_at_10=0.40, mrr_at_10=0.6, recall_at_100=0.9))
    gate = {"margin": 0.01, "p_value": 0.01, "max_p": 0.05}
    assert not promotable(champion, challenger, **gate, benchmark=worse)  # better on clicks, worse judged
    assert promotable(champion, challenger, **gate, benchmark=judged_worse)  # equal on the benchmark
    assert promotable(champion, challenger, **gate, benchmark=worse[::-1])
    assert not promotable(champion, champion, **gate, benchmark=worse[::-1])  # it never promotes alone
