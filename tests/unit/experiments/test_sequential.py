"""The stopping rule: decisions on literal tallies, and its false-positive rate on simulated A/A runs."""

from __future__ import annotations

import math

import numpy as np

from functions.experiments.sequential import Tally, decide, log_mixture_ratio, p_value

TAU = 0.2


def test_the_statistic_on_literal_tallies() -> None:
    assert log_mixture_ratio(Tally(), TAU) == 0.0
    # n = 100 decisive, S = 40: tau^2 S^2 / (2 (1 + n tau^2)) - log(1 + n tau^2) / 2
    expected = 0.04 * 1600 / (2 * 5) - 0.5 * math.log(5)
    assert math.isclose(log_mixture_ratio(Tally(candidate=70, control=30), TAU), expected)
    # two-sided: the mirror tally weighs the same; ties do not enter it
    assert log_mixture_ratio(Tally(candidate=30, control=70, ties=50), TAU) == log_mixture_ratio(
        Tally(candidate=70, control=30), TAU
    )
    assert math.isclose(p_value(Tally(candidate=70, control=30), TAU), math.exp(-expected))
    assert p_value(Tally(candidate=5, control=5), TAU) == 1.0


def test_decisions_need_min_sessions_and_end_in_a_tie_at_max() -> None:
    strong = Tally(candidate=70, control=30)
    assert decide(strong, alpha=0.05, tau=TAU, min_sessions=50, max_sessions=1000).verdict == "candidate"
    assert decide(strong, alpha=0.05, tau=TAU, min_sessions=200, max_sessions=1000).verdict is None
    losing = Tally(candidate=30, control=70)
    assert decide(losing, alpha=0.05, tau=TAU, min_sessions=50, max_sessions=1000).verdict == "control"
    even = Tally(candidate=260, control=240, ties=500)
    assert decide(even, alpha=0.05, tau=TAU, min_sessions=50, max_sessions=2000).verdict is None
    ended = decide(even, alpha=0.05, tau=TAU, min_sessions=50, max_sessions=1000)
    assert ended.verdict == "tie"
    assert ended.p_value > 0.05


def _switch_rate(win_share: float, runs: int, sessions: int, alpha: float, seed: int) -> tuple[float, float]:
    """Share of runs the rule stops for either side within `sessions` decisive sessions looked at after
    every one, and the median sessions of those that stopped."""
    rng = np.random.default_rng(seed)
    steps = np.where(rng.random((runs, sessions)) < win_share, 1, -1)
    s = np.cumsum(steps, axis=1)
    n = np.arange(1, sessions + 1)
    spread = 1 + n * TAU * TAU
    crossed = TAU * TAU * s * s / (2 * spread) - 0.5 * np.log(spread) >= math.log(1 / alpha)
    stopped = crossed.any(axis=1)
    first = crossed.argmax(axis=1)[stopped] + 1
    return float(stopped.mean()), float(np.median(first)) if len(first) else math.inf


def test_peeking_after_every_session_keeps_a_and_a_false_positives_under_alpha() -> None:
    rate, _ = _switch_rate(0.5, runs=4000, sessions=2000, alpha=0.05, seed=7)
    assert rate <= 0.05  # Ville's inequality: at most alpha, looked at after each of 2,000 sessions
    rate_10, _ = _switch_rate(0.5, runs=4000, sessions=2000, alpha=0.10, seed=8)
    assert rate_10 <= 0.10


def test_a_clear_preference_is_found_in_a_few_hundred_sessions() -> None:
    rate, median = _switch_rate(0.6, runs=1000, sessions=1000, alpha=0.05, seed=9)
    assert rate >= 0.95
    assert median <= 400
