"""When an experiment may stop: a mixture sequential probability ratio test on session outcomes, valid
however often it is looked at.

Each decisive session is +1 (the candidate's picks got more clicks) or -1 (the control's); ties carry no
information about which side is better and are left out of the statistic. Under the null hypothesis
(neither side is preferred) the sum S_n of n such steps is a fair ±1 walk, and for any lambda
exp(lambda S_n - n lambda^2 / 2) is a nonnegative supermartingale (E[exp(lambda X)] = cosh lambda <=
exp(lambda^2 / 2)). Averaging it over lambda ~ N(0, tau^2) keeps that property and gives

    Lambda_n = exp(tau^2 S_n^2 / (2 (1 + n tau^2))) / sqrt(1 + n tau^2)

so by Ville's inequality P(Lambda_n >= 1/alpha for some n) <= alpha: stopping at the first session
where Lambda_n crosses 1/alpha keeps the false-positive rate at most alpha under continuous peeking, with
no normal approximation (Robbins 1970; Johari, Koomen, Pekelis and Walsh, "Always valid inference:
continuous monitoring of A/B tests", Operations Research 2022; Howard, Ramdas, McAuliffe and Sekhon,
Annals of Statistics 2021). 1/Lambda_n is an always-valid p-value. It is two-sided: a candidate that is
clearly worse stops the test as early as one that is clearly better.

tau sets which effects the test is quickest on: about the mean step it expects, 2 p - 1 for a win share
p among decisive sessions (0.2: a 60% win share).
"""

from __future__ import annotations

import math
from typing import Literal

from functions.structs import Struct

Verdict = Literal["candidate", "control", "tie"]


class Tally(Struct, frozen=True):
    """Sessions with a credited click, by outcome."""

    candidate: int = 0
    control: int = 0
    ties: int = 0

    @property
    def sessions(self) -> int:
        """Sessions that credited a click to either side (ties included)."""
        return self.candidate + self.control + self.ties

    @property
    def decisive(self) -> int:
        """Sessions one side won."""
        return self.candidate + self.control


def log_mixture_ratio(tally: Tally, tau: float) -> float:
    """log Lambda_n of the tally (0 before any decisive session)."""
    n, s = tally.decisive, tally.candidate - tally.control
    spread = 1.0 + n * tau * tau
    return tau * tau * s * s / (2.0 * spread) - 0.5 * math.log(spread)


def p_value(tally: Tally, tau: float) -> float:
    """The always-valid p-value at this tally, min(1, 1/Lambda_n)."""
    return min(1.0, math.exp(-log_mixture_ratio(tally, tau)))


class Decision(Struct, frozen=True, kw_only=True):
    """What the test says now: a verdict (None: keep going), its statistic and p-value."""

    verdict: Verdict | None
    statistic: float  # log Lambda_n
    p_value: float
    reason: str


def decide(tally: Tally, *, alpha: float, tau: float, min_sessions: int, max_sessions: int) -> Decision:
    """Stop with the winner once Lambda_n >= 1/alpha and at least `min_sessions` sessions credited a
    click; stop with a tie at `max_sessions` without that; otherwise keep going."""
    statistic = log_mixture_ratio(tally, tau)
    p = min(1.0, math.exp(-statistic))  # p_value(tally, tau), from the statistic already in hand
    if tally.sessions >= min_sessions and statistic >= math.log(1.0 / alpha):
        winner: Verdict = "candidate" if tally.candidate > tally.control else "control"
        return Decision(verdict=winner, statistic=statistic, p_value=p, reason=f"p {p:.4f} < alpha {alpha}")
    if tally.sessions >= max_sessions:
        reason = f"no side preferred at alpha {alpha} after {tally.sessions} sessions (p {p:.4f})"
        return Decision(verdict="tie", statistic=statistic, p_value=p, reason=reason)
    return Decision(verdict=None, statistic=statistic, p_value=p, reason="collecting sessions")
