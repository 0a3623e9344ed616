"""How often does an experiment switch a candidate that is no better, over many more seeds than the bench?

`python -m experiments.experiment_false_switch [--seeds 200] [--worse-scale 0.5]`

No services: the sample catalogue's rankings by the base model (the A/A candidate is the champion itself)
and by the bench's worse model are replayed through the product's interleaving, credit and sequential
test at conf/experiments defaults (bench/_experiment_replay.py), one run per seed. Prints, per
condition, the share of runs switched, lost and tied, with the median sessions to a decision.
"""

from __future__ import annotations

import argparse
import os
import statistics

from bench import _experiment_models as models
from bench._experiment_replay import run
from jobs.bootstrap import load_config
from sim import sample_catalog
from sim.click_model import ClickModel
from sim.corpus import chunks_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--worse-scale", type=float, default=0.5)
    args = parser.parse_args()
    threads = os.cpu_count() or 1
    items, splits = sample_catalog.generate_splits(7)
    queries = {**splits["train"][0], **splits["test"][0]}
    qrels = {**splits["train"][1], **splits["test"][1]}
    chunks, owners = chunks_of(items)
    config = load_config()
    base = models.rankings(models.load(config.model.path, threads), chunks, owners, queries)
    worse = models.rankings(
        models.perturbed(config.model.path, args.worse_scale, threads), chunks, owners, queries
    )
    users = ClickModel()  # the click model's defaults, as conf/scripts/simulate_clicks.yaml sets them
    for label, candidate in (("A/A", base), ("worse", worse)):
        outcomes = [
            run(base, candidate, qrels, users, config.experiments, seed) for seed in range(1, args.seeds + 1)
        ]
        share = {
            v: 100 * sum(o.verdict == v for o in outcomes) / len(outcomes)
            for v in ("candidate", "control", "tie")
        }
        median = statistics.median(o.sessions for o in outcomes)
        print(
            f"{label}: switched {share['candidate']:.1f}%, lost {share['control']:.1f}%, "
            f"tied {share['tie']:.1f}% of {len(outcomes)} runs; median {median:.0f} credited sessions"
        )


if __name__ == "__main__":
    main()
