"""The guard a fine-tuned challenger passes before an online experiment: it refuses only a challenger that
is broken or significantly worse than the champion, never one that merely failed to look better.

Held-out clicks only judge what the champion showed (its position bias) and a CPU-sized click log holds a
dozen to a few dozen held-out queries, so "significantly better" refused most real gains (challengers
+23…+27% on the sample catalogue's test qrels at p 0.10–0.36, docs/fine-tuning.md). An online
interleaving experiment, which sees both models' results, decides; this guard keeps it from serving a
model that the evidence in hand already shows to be worse.
"""

from __future__ import annotations

from functions.records import ModelScores

PASSED = "not worse: goes to an online experiment"


def worse(champion: ModelScores, challenger: ModelScores, worse_p: float, max_p: float) -> bool:
    """A lower mean nDCG@10 and a one-sided paired p-value of "worse" at most `max_p`."""
    # The lower mean is asked too, so max_p 1.0 refuses any lower mean and an equal one never counts.
    return challenger.ndcg_at_10 < champion.ndcg_at_10 and worse_p <= max_p


def _evidence(champion: ModelScores, challenger: ModelScores, worse_p: float, max_p: float) -> str:
    return f"nDCG@10 {champion.ndcg_at_10:.4f} → {challenger.ndcg_at_10:.4f}, p {worse_p:.3g} ≤ {max_p:g}"


def guard(
    champion: ModelScores,
    challenger: ModelScores,
    worse_p: float,
    max_p: float,
    benchmark: tuple[ModelScores, ModelScores, float] | None = None,
    sanity_problem: str | None = None,
) -> tuple[bool, str]:
    """(passed, the rule that decided): refused when broken, or worse with significance on held-out clicks
    or on `benchmark` (champion's and challenger's scores there and the p that it is worse)."""
    if sanity_problem is not None:
        return False, f"sanity: {sanity_problem}"
    if worse(champion, challenger, worse_p, max_p):
        return False, f"worse on held-out clicks ({_evidence(champion, challenger, worse_p, max_p)})"
    if benchmark is not None and worse(*benchmark, max_p):
        return False, f"worse on the benchmark ({_evidence(*benchmark, max_p)})"
    return True, PASSED
