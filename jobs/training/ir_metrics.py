"""nDCG@10, MRR@10 and Recall@100 of ranked lists against graded judgements, and the paired test the
fine-tuning guard asks: both computed by ranx (linear-gain nDCG, as BEIR and trec_eval report it).

Judgements are `{query_id: {object_id: gain}}`: BEIR grades, or click-derived weights (floats). ranx
judges integer grades, so gains are scaled by GAIN_SCALE and rounded (at least 1 for a positive gain):
linear nDCG is a ratio of gain sums, so the scale changes nothing but the rounding (< 0.1% of a gain).
Only queries with a positive gain count; a judged query missing from the runs scores 0.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

from numba.core.errors import NumbaTypeSafetyWarning
from ranx import Qrels, Run, compare, evaluate

METRICS = ("ndcg@10", "mrr@10", "recall@100")
GAIN_SCALE = 1000
Judgements = Mapping[str, Mapping[str, float]]
Rankings = Mapping[str, Sequence[str]]

# ranx's compiled kernels cast ids' hashes between integer widths (harmless); numba warns on every call.
warnings.filterwarnings("ignore", category=NumbaTypeSafetyWarning)


def qrels(judged: Judgements) -> Qrels:
    """The positive gains as ranx Qrels (scaled integers); queries without one are left out."""
    grades = {
        qid: {doc: max(1, round(gain * GAIN_SCALE)) for doc, gain in gains.items() if gain > 0}
        for qid, gains in judged.items()
    }
    return Qrels.from_dict({qid: g for qid, g in grades.items() if g})


def run(ranked: Rankings, name: str = "run") -> Run:
    """Ranked id lists (best first) as a ranx Run; scores only carry the order."""
    out = Run.from_dict(
        {qid: {doc: float(len(ids) - i) for i, doc in enumerate(ids)} for qid, ids in ranked.items() if ids}
    )
    out.name = name
    return out


def judged_queries(judged: Judgements) -> int:
    """How many queries have a positive gain (the ones every metric here averages over)."""
    return sum(1 for gains in judged.values() if any(g > 0 for g in gains.values()))


def quality(ranked: Rankings, judged: Judgements) -> dict[str, float]:
    """Mean nDCG@10, MRR@10 and Recall@100 over the judged queries (0.0 each when none is)."""
    if not judged_queries(judged):
        return dict.fromkeys(METRICS, 0.0)
    scores = evaluate(qrels(judged), run(ranked), list(METRICS), make_comparable=True)
    return {metric: float(scores[metric]) for metric in METRICS}


def p_value(
    champion: Rankings, challenger: Rankings, judged: Judgements, metric: str = "ndcg@10", seed: int = 42
) -> float:
    """One-sided p-value that `challenger` beats `champion` on `metric` over the same judged queries:
    Fisher's randomisation test of the paired per-query differences (10,000 permutations). ranx answers
    the two-sided p; the randomisation distribution is symmetric, so the one-sided p is half of it when
    the challenger's mean is higher, and 1 - half otherwise. 1.0 with fewer than two judged queries.
    Swap the two rankings for the one-sided p that `champion` beats `challenger` (the guard's "worse"):
    the statistic is symmetric, so the two directions add up to 1 within the permutations' noise."""
    if judged_queries(judged) < 2:
        return 1.0
    report = compare(
        qrels(judged),
        [run(champion, "champion"), run(challenger, "challenger")],
        [metric],
        stat_test="fisher",
        n_permutations=10_000,
        random_seed=seed,
        make_comparable=True,
    )
    found = report.to_dict()
    two_sided = float(found["challenger"]["comparisons"]["champion"][metric])
    higher = found["challenger"]["scores"][metric] > found["champion"]["scores"][metric]
    return two_sided / 2 if higher else 1 - two_sided / 2


def warm_up() -> None:
    """Compile ranx's kernels once into numba's on-disk cache (`make venv` calls this), so the first
    evaluation of a run does not pay ~50 s of JIT compilation; later processes load them in seconds."""
    judged = {"q1": {"a": 1.0}, "q2": {"b": 2.0}}
    quality({"q1": ["a", "c"], "q2": ["c", "b"]}, judged)
    p_value({"q1": ["c", "a"], "q2": ["c", "b"]}, {"q1": ["a"], "q2": ["b"]}, judged)
