"""Offline improvement sweep: simulated clicks on the train queries move vectors by the product's rules;
nDCG@10 of the clicked (train) and the held-out (test) queries before and after.

`python -m experiments.improvement_sweep [--dataset DIR | --sample] [--seeds 7 8 9 10 11 12] [--users 10]
    [--static] [LR,PUSH,DRIFT ...]`

No services: the corpus is chunked as the upsert task chunks it and embedded with the base model; search
is exact best-part cosine (what /search/similar ranks by). Users come in rounds (every train query once per
round, ranked on the vectors as the previous rounds left them: a live stack applies sessions while users
keep searching); each session's clicks come from sim/click_model.py and move part vectors through
functions/feedback/vector_moves.py (session_moves, moved), the online improvement's own code. Each setting
(learning_rate, push_weight, max_drift) runs once per seed; the table shows the mean relative change and
each seed's. This model of the loop leaves out what only the live stack does (personal copies, the timing
of sessions against searches), so a setting it prefers still has to win in the lifecycle
(`make demo`) before it becomes the default.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import msgspec
import numpy as np
import numpy.typing as npt

from functions.config import ImprovementConfig
from functions.feedback.event_weights import EventWeighing, feedback_rules
from functions.feedback.vector_moves import moved, session_moves
from functions.records import FeedbackEvent, SessionFeedback
from jobs.bootstrap import load_config
from jobs.embedding.model_paths import resolve_model_path
from jobs.training.evaluate import encode
from sim import beir, sample_catalog
from sim.click_model import ClickModel, sample_session, session_rng
from sim.corpus import chunks_of, dataset_or_none
from sim.ir_metrics import exact_best_part, mean_ndcg
from sim.sample_catalog import Catalog

# float32 as the product stores vectors (`moved` computes in float64 and returns float32).
Matrix = npt.NDArray[np.float32]


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", nargs="*", default=["0.2,0.5,0.15", "0.2,0.5,0.05"])
    parser.add_argument("--dataset", help="a BEIR-layout folder (default ../shared/data/cranfield)")
    parser.add_argument("--sample", action="store_true", help="the built-in sample catalog instead")
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9, 10, 11, 12])
    parser.add_argument("--users", type=int, default=10, help="users per train query (the lifecycle's 10)")
    parser.add_argument(
        "--static", action="store_true", help="every user sees the base ranking (sessions applied afterwards)"
    )
    return parser.parse_args()


def catalogs(args: argparse.Namespace) -> tuple[Catalog, Catalog]:
    folder = None if args.sample else dataset_or_none(args.dataset)
    if folder is None:
        return sample_catalog.generate(7, "train"), sample_catalog.generate(7, "test")
    return beir.load(Path(folder), "train"), beir.load(Path(folder), "test")


class Sweep:
    """The chunked corpus and both splits' queries, embedded once."""

    def __init__(self, train: Catalog, test: Catalog) -> None:
        from sentence_transformers import SentenceTransformer

        config = load_config()
        model = SentenceTransformer(resolve_model_path(config.model.path), device="cpu")
        model.max_seq_length = config.model.max_seq_length
        chunks, self.owners = chunks_of(train.items)
        size = config.model.batch_size
        self.parts: Matrix = encode(model, chunks, size)
        self.train, self.test = train, test
        self.queries = {
            name: encode(model, list(cat.queries.values()), size)
            for name, cat in (("train", train), ("test", test))
        }
        self.rows: dict[str, list[int]] = {}
        for i, owner in enumerate(self.owners):
            self.rows.setdefault(owner, []).append(i)
        self.rules: EventWeighing = feedback_rules(config)
        self.base_config = config.improvement

    def ranked(self, parts: Matrix, split: str, k: int = 10) -> list[list[str]]:
        return exact_best_part(self.queries[split], parts, self.owners, k)

    def ndcg(self, parts: Matrix, split: str) -> float:
        cat = self.train if split == "train" else self.test
        return mean_ndcg(dict(zip(cat.queries, self.ranked(parts, split), strict=True)), cat.qrels)

    def improved(self, cfg: ImprovementConfig, seed: int, users: int, static: bool = False) -> Matrix:
        """The part vectors after `users` rounds of simulated sessions on every train query (`static`:
        each round shown the base ranking, as when sessions are applied after all were made)."""
        parts, model = self.parts.copy(), ClickModel()
        for user in range(users):
            shown_lists = self.ranked(self.parts if static else parts, "train")
            for (qid, qvec), shown in zip(
                zip(self.train.queries, self.queries["train"], strict=True), shown_lists, strict=True
            ):
                events = sample_session(
                    shown, self.train.qrels.get(qid, {}), model, session_rng(seed, qid, user)
                )
                session = SessionFeedback(
                    session_id=f"{qid}-{user}",
                    index_name="sweep",
                    collection_id=None,
                    user_id=f"user-{user}",
                    query_vector=qvec.tolist(),
                    shown=tuple(shown),
                    irrelevant=False,
                    events=tuple(
                        FeedbackEvent(type=e.type, object_id=e.object_id, rank=e.rank, dwell_ms=e.dwell_ms)
                        for e in events
                    ),
                )
                moves = session_moves(session, self.rules, cfg)
                for move in [] if isinstance(moves, str) else moves:
                    rows = self.rows[move.object_id]
                    parts[rows] = moved(parts[rows], self.parts[rows], qvec, move, cfg)[0]
        return parts


def main() -> None:
    args = arguments()
    sweep = Sweep(*catalogs(args))
    base = {split: sweep.ndcg(sweep.parts, split) for split in ("train", "test")}
    print(f"base nDCG@10: train {base['train']:.4f}, test {base['test']:.4f}")
    for setting in args.settings:
        lr, push, drift = (float(x) for x in setting.split(","))
        cfg = msgspec.structs.replace(sweep.base_config, learning_rate=lr, push_weight=push, max_drift=drift)
        gains: dict[str, list[float]] = {"train": [], "test": []}
        for seed in args.seeds:
            parts = sweep.improved(cfg, seed, args.users, args.static)
            for split in gains:
                gains[split].append(100 * (sweep.ndcg(parts, split) / base[split] - 1))
        print(
            f"lr {lr} push {push} drift {drift}: "
            + ", ".join(
                f"{split} {statistics.mean(g):+.2f}% ({' '.join(f'{x:+.2f}' for x in g)})"
                for split, g in gains.items()
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
