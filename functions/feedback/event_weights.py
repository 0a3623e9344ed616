"""How feedback events weigh, shared by online improvement and fine-tuning (one rule, two stages)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from functions.config import AppConfig


@dataclass(frozen=True, slots=True)
class EventWeighing:
    """How events weigh (the clickstream group's settings): per type, scaled by dwell (full weight from
    `dwell_full_ms`, never below `dwell_floor`); types missing from `event_weights` weigh nothing."""

    event_weights: Mapping[str, float]
    dwell_full_ms: int
    dwell_floor: float


def dwell_factor(dwell_ms: int | None, rules: EventWeighing) -> float:
    """1 without a dwell time; otherwise linear up to `dwell_full_ms`, floored at `dwell_floor`."""
    if dwell_ms is None:
        return 1.0
    return min(1.0, max(rules.dwell_floor, dwell_ms / rules.dwell_full_ms))


def feedback_rules(config: AppConfig) -> EventWeighing:
    """Event weights and dwell scaling, as the clickstream stage configures them."""
    clicks = config.clickstream
    return EventWeighing(
        event_weights=clicks.event_weights, dwell_full_ms=clicks.dwell_full_ms, dwell_floor=clicks.dwell_floor
    )
