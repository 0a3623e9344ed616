"""One training run with sentence-transformers' own trainer and MNRL loss."""

from __future__ import annotations

import itertools
import math
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from functions.ports import TrainingReporter
from functions.records import Example, TrainingPlan
from jobs.embedding.model_paths import resolve_model_path

# epoch number (1-based) and the model being trained → True to stop training (pruned)
EpochHook = Callable[[int, Any], bool]
StepHook = Callable[[int, int], None]  # global step, max steps


Columns = dict[str, list[str]]


def training_datasets(train: list[Example], seed: int) -> dict[str, Columns]:
    """One dataset per source: "clicks" (triplets) and "corpus" (anchor/positive pairs, in-batch
    negatives only); an empty source is left out. They train in separate batches (each batch is drawn
    from one dataset), so a clicked object never serves as an in-batch negative of its own query
    through a corpus pair, and corpus pairs never borrow a click's negative."""
    clicks = [e for e in train if e.kind == "clicks"]
    corpus = [e for e in train if e.kind != "clicks"]
    out: dict[str, Columns] = {}
    if clicks:
        out["clicks"] = triplets(clicks, seed)
    if corpus:
        out["corpus"] = {
            "anchor": [e.query for e in corpus for _ in e.positives],
            "positive": [p for e in corpus for p in e.positives],
        }
    return out


def triplets(train: list[Example], seed: int) -> Columns:
    """anchor/positive/negative columns: one row per (query, positive), its negative cycling through
    the example's negatives. An example without negatives borrows one from the others' pool (a text
    judged irrelevant for another query: a random negative, never one of its own positives)."""
    pool = sorted({n for e in train for n in e.negatives})
    rng = random.Random(seed)
    rows: dict[str, list[str]] = {"anchor": [], "positive": [], "negative": []}
    for example in train:
        own = example.negatives or [
            n for n in rng.sample(pool, min(4, len(pool))) if n not in example.positives
        ]
        negatives = itertools.cycle(own) if own else None
        for positive in example.positives:
            rows["anchor"].append(example.query)
            rows["positive"].append(positive)
            rows["negative"].append(next(negatives) if negatives else "")
    if not all(rows["negative"]):
        del rows["negative"]  # no negative anywhere to borrow: pairs, with in-batch negatives only
    return rows


class StudyCallback(TrainerCallback):
    """Reports steps, stops on cancel or at the study's deadline, and hands each finished epoch to the
    study (pruning)."""

    def __init__(
        self,
        reporter: TrainingReporter,
        on_step: StepHook,
        on_epoch: EpochHook,
        deadline: float = math.inf,
    ) -> None:
        self._reporter, self._on_step, self._on_epoch = reporter, on_step, on_epoch
        self._deadline = deadline  # time.monotonic() value
        self.cancelled = False
        self.pruned = False
        self.timed_out = False

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        """Progress after each optimizer step; a cancel stops training at the next step, and so does
        the deadline (the partial epoch is then evaluated like a whole one: the trial keeps its model)."""
        self._on_step(state.global_step, state.max_steps)
        if self._reporter.cancelled():
            self.cancelled = control.should_training_stop = True
        elif time.monotonic() > self._deadline:
            self.timed_out = control.should_training_stop = True

    def on_epoch_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        """Evaluate the epoch (unless cancelled) and stop when the study prunes the trial."""
        if self.cancelled or self._reporter.cancelled():
            self.cancelled = control.should_training_stop = True
            return
        if self._on_epoch(round(state.epoch or 0), kwargs["model"]):
            self.pruned = control.should_training_stop = True


def load_model(path: str, max_seq_length: int) -> Any:
    """A sentence-transformers model on the CPU (or the accelerator, when there is one)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(resolve_model_path(path))
    model.max_seq_length = min(max_seq_length, model.max_seq_length or max_seq_length)
    return model


def train(
    model: Any,
    datasets: dict[str, Columns],
    plan: TrainingPlan,
    params: dict[str, Any],
    callback: StudyCallback,
) -> None:
    """Fine-tune `model` in place with the library's trainer (no hub, no checkpoints, seeded). Several
    datasets train in batches of one dataset each, drawn in proportion to their sizes."""
    from datasets import Dataset, DatasetDict
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer import losses
    from sentence_transformers.sentence_transformer.training_args import (
        BatchSamplers,
        MultiDatasetBatchSamplers,
    )

    if plan.loss == "cached_mnrl":
        loss: Any = losses.CachedMultipleNegativesRankingLoss(
            model, scale=params["scale"], mini_batch_size=16
        )
    else:
        loss = losses.MultipleNegativesRankingLoss(model, scale=params["scale"])
    scratch = Path(plan.output_dir)
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch, prefix="hf-") as out:
        args = SentenceTransformerTrainingArguments(
            output_dir=out,
            num_train_epochs=params["epochs"],
            per_device_train_batch_size=params["batch_size"],
            learning_rate=params["learning_rate"],
            warmup_steps=params["warmup_ratio"],  # a float below 1 is a share of the steps
            seed=plan.seed,
            data_seed=plan.seed,
            # Duplicate texts in one batch would be false in-batch negatives for MNRL.
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            multi_dataset_batch_sampler=MultiDatasetBatchSamplers.PROPORTIONAL,
            report_to="none",
            save_strategy="no",
            eval_strategy="no",
            logging_strategy="no",
            disable_tqdm=True,
            push_to_hub=False,
            dataloader_num_workers=0,
            dataloader_pin_memory=False,  # no accelerator here; pinning only warns
        )
        trainer = SentenceTransformerTrainer(
            model=model,
            args=args,
            train_dataset=(
                Dataset.from_dict(next(iter(datasets.values())))
                if len(datasets) == 1
                else DatasetDict({name: Dataset.from_dict(rows) for name, rows in datasets.items()})
            ),
            loss=loss,
            callbacks=[callback],
        )
        trainer.train()
