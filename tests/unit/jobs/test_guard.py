"""The fine-tuning guard: it refuses a broken or significantly worse challenger, and passes the rest on
to an online experiment."""

from __future__ import annotations

from functions.records import ModelScores
from jobs.training.guard import PASSED, guard


def scores(ndcg: float) -> ModelScores:
    return ModelScores(ndcg_at_10=ndcg, mrr_at_10=0.5, recall_at_100=0.8)


CHAMPION, LOWER, HIGHER = scores(0.40), scores(0.36), scores(0.44)


def test_not_better_is_not_refused() -> None:
    # A challenger that is not significantly better (the old gate's refusals) goes on, and so does one
    # below the champion by a difference that could be chance.
    assert guard(CHAMPION, HIGHER, worse_p=0.9, max_p=0.1) == (True, PASSED)
    assert guard(CHAMPION, CHAMPION, worse_p=0.5, max_p=1.0) == (True, PASSED)  # equal is not worse
    assert guard(CHAMPION, LOWER, worse_p=0.2, max_p=0.1) == (True, PASSED)


def test_significantly_worse_on_held_out_clicks_is_refused() -> None:
    passed, rule = guard(CHAMPION, LOWER, worse_p=0.01, max_p=0.1)
    assert not passed
    assert rule == "worse on held-out clicks (nDCG@10 0.4000 → 0.3600, p 0.01 ≤ 0.1)"
    assert guard(CHAMPION, LOWER, worse_p=0.1, max_p=0.1)[0] is False  # at the level refuses
    # A higher mean is never "worse", whatever p is given (max_p 1: any lower mean refuses).
    assert guard(CHAMPION, HIGHER, worse_p=0.01, max_p=1.0) == (True, PASSED)
    assert guard(CHAMPION, LOWER, worse_p=0.9, max_p=1.0)[0] is False


def test_a_benchmark_refuses_only_when_significantly_worse_there() -> None:
    bench_champion = scores(0.41)
    worse_there = (bench_champion, scores(0.39), 0.03)
    passed, rule = guard(CHAMPION, HIGHER, worse_p=0.99, max_p=0.05, benchmark=worse_there)
    assert not passed
    assert rule == "worse on the benchmark (nDCG@10 0.4100 → 0.3900, p 0.03 ≤ 0.05)"
    noisy = (bench_champion, scores(0.39), 0.3)  # lower on the benchmark, but it could be chance
    assert guard(CHAMPION, HIGHER, worse_p=0.99, max_p=0.05, benchmark=noisy) == (True, PASSED)
    above = (bench_champion, scores(0.45), 0.99)
    assert guard(CHAMPION, HIGHER, worse_p=0.99, max_p=0.05, benchmark=above) == (True, PASSED)
    # Held-out clicks are read first: both worse, the clicks' rule decides.
    assert guard(CHAMPION, LOWER, 0.01, 0.05, worse_there)[1].startswith("worse on held-out clicks")


def test_a_broken_model_is_refused_first() -> None:
    problem = "NaN or infinite values in 3 of 64 embeddings"
    passed, rule = guard(CHAMPION, HIGHER, worse_p=0.99, max_p=0.1, sanity_problem=problem)
    assert (passed, rule) == (False, "sanity: NaN or infinite values in 3 of 64 embeddings")
    assert guard(CHAMPION, LOWER, 0.01, 0.1, sanity_problem="x")[1] == "sanity: x"
