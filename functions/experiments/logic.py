"""Pure rules of the experiments stage: the tally from credited sessions, and the action a verdict takes."""

from __future__ import annotations

from collections.abc import Sequence

from functions.experiments.sequential import Tally
from functions.interleaving.team_draft import Side, credit
from functions.records import Action, Experiment, InterleavedSession, Verdict

CURVE_POINTS = 100


def tally(
    sessions: Sequence[InterleavedSession], cap: int | None = None
) -> tuple[Tally, list[tuple[int, float]]]:
    """Wins, losses and ties of the sessions (oldest first; with `cap`, of the first `cap` credited
    ones only), and the candidate's cumulative win share among decisive sessions after each credited
    one (thinned to at most CURVE_POINTS points)."""
    counts = {"candidate": 0, "control": 0, "tie": 0}
    curve: list[tuple[int, float]] = []
    for session in sessions:
        if cap is not None and len(curve) >= cap:
            break
        sides: list[Side] = [s for s in session.sides if s in ("control", "candidate")]  # type: ignore[misc]
        outcome = credit(sides, session.clicked) if len(sides) == len(session.sides) else None
        if outcome is None:
            continue
        counts[outcome] += 1
        decisive = counts["candidate"] + counts["control"]
        share = counts["candidate"] / decisive if decisive else 0.5
        curve.append((sum(counts.values()), round(share, 4)))
    step = max(1, -(-len(curve) // CURVE_POINTS))
    thinned = curve[step - 1 :: step]
    if curve and (not thinned or thinned[-1] != curve[-1]):
        thinned.append(curve[-1])
    return Tally(candidate=counts["candidate"], control=counts["control"], ties=counts["tie"]), thinned


def action_for(experiment: Experiment, verdict: Verdict) -> Action:
    """The action the experiment was told to take on this verdict."""
    if verdict == "candidate":
        return experiment.on_win
    if verdict == "control":
        return experiment.on_lose
    return experiment.on_tie
