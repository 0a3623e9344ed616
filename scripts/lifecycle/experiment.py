"""The lifecycle's report line of an online experiment (the autopilot's experiment step runs it)."""

from __future__ import annotations

from typing import Any


def summary(view: dict[str, Any]) -> str:
    """One line for the report: the tally the decision was taken on (the live one when undecided)."""
    t = view.get("decided_tally") or view["tally"]
    return (
        f"{t['sessions']} sessions with a credited click: candidate {t['candidate_wins']}, champion "
        f"{t['control_wins']}, ties {t['ties']}, p {t['p_value']:.4f}; {view['state']}: "
        f"{view.get('verdict')} → {view.get('action')} ({view.get('reason')}); "
        f"{view['tally']['searches']} interleaved searches in all"
    )
