"""The Optuna study: sample hyper-parameters, train, evaluate each epoch (pruning), keep the best model."""

from __future__ import annotations

import gc
import math
import shutil
import time
from pathlib import Path
from typing import Any

import optuna

from functions.errors import TaskCancelled
from functions.ports import TrainingReporter
from functions.records import SearchSpace, TrainingOutcome, TrainingPlan, TrainingSet
from jobs.stores.mlflow_tracking import TrainingSession, scores_metrics
from jobs.training.evaluate import EncodedCorpus, Evaluation, at_length, encode, evaluations
from jobs.training.guard import guard
from jobs.training.sanity import embedding_problem, sample_texts
from jobs.training.trainer import StudyCallback, load_model, train, training_datasets


def sample(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """One point of the search space (a range whose ends are equal is a fixed value)."""
    low, high = space.learning_rate
    return {
        "learning_rate": trial.suggest_float("learning_rate", low, high, log=True),
        "epochs": trial.suggest_categorical("epochs", space.epochs),
        "batch_size": trial.suggest_categorical("batch_size", space.batch_size),
        "warmup_ratio": trial.suggest_float("warmup_ratio", *space.warmup_ratio),
        "scale": trial.suggest_float("scale", *space.scale),
    }


class Study:
    """One task's study; only the best trial's model stays on disk (under plan.output_dir)."""

    def __init__(
        self, plan: TrainingPlan, data: TrainingSet, reporter: TrainingReporter, session: TrainingSession
    ) -> None:
        self._plan, self._data, self._reporter, self._session = plan, data, reporter, session
        self._datasets = training_datasets(data.train, plan.seed)
        self._best: tuple[float, str, Evaluation, dict[str, Any]] | None = None  # value, dir, eval, params
        self._best_ndcg = 0.0
        # Optuna's own timeout only stops starting trials; a trial in flight stops at this deadline.
        self._deadline = math.inf

    def run(self) -> TrainingOutcome:
        """Evaluate the champion, run the trials, guard and register the best challenger."""
        plan = self._plan
        self._report(0, 0.0, "evaluating the champion")
        sets = [self._data.eval_queries, *([self._data.benchmark] if self._data.benchmark else [])]
        base = load_model(plan.base_model_path, plan.max_seq_length)
        # The collection's stored vectors when the champion embedded it; else embedded here.
        corpus = EncodedCorpus.stored(
            self._data, max_seq_length=plan.eval_max_seq_length
        ) or EncodedCorpus.embedded(base, self._data, max_seq_length=plan.eval_max_seq_length)
        champion_eval, *bench_champion = [corpus.evaluate(base, queries) for queries in sets]
        del base
        champion = champion_eval.scores
        self._best_ndcg = champion.ndcg_at_10
        self._check_cancelled()
        self._deadline = time.monotonic() + plan.timeout_s
        sampler = optuna.samplers.TPESampler(seed=plan.seed)
        # Prune from the second trial on, against the median of earlier trials at the same epoch.
        pruner = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
        study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
        study.optimize(self._objective, n_trials=plan.n_trials, timeout=plan.timeout_s, gc_after_trial=True)
        if self._best is None:
            raise RuntimeError("no fine-tuning trial completed")
        _, model_dir, best_eval, params = self._best
        challenger = best_eval.scores
        states = [t.state for t in study.trials]
        self._report(plan.n_trials, 0.0, "registering the challenger")
        self._check_cancelled()
        p_value = best_eval.p_value_against(champion_eval, plan.seed)
        worse_p = best_eval.worse_p_against(champion_eval, plan.seed)
        metrics = {"gate_p_value": p_value, "guard_worse_p_value": worse_p}
        model = load_model(model_dir, plan.eval_max_seq_length)
        bench_challenger: Evaluation | None = None
        if bench_champion:
            self._report(plan.n_trials, 0.0, "scoring the challenger on the benchmark")
            # Over the parts the best epoch's evaluation embedded with these same weights: only the
            # benchmark's queries are embedded here (the corpus again took a minute on Cranfield).
            corpus = best_eval.corpus or EncodedCorpus.embedded(
                model, self._data, max_seq_length=plan.eval_max_seq_length
            )
            bench_challenger = corpus.evaluate(model, self._data.benchmark)
            metrics |= {
                **scores_metrics("benchmark_champion_", bench_champion[0].scores),
                **scores_metrics("benchmark_challenger_", bench_challenger.scores),
            }
        # The benchmark never picks a trial or a hyper-parameter; it can only refuse the one chosen.
        veto = None
        if bench_challenger is not None and plan.benchmark_veto:
            bench_worse_p = bench_challenger.worse_p_against(bench_champion[0], plan.seed)
            metrics["guard_benchmark_worse_p_value"] = bench_worse_p
            veto = (bench_champion[0].scores, bench_challenger.scores, bench_worse_p)
        # Raw vectors: normalising would hide a zero output. TorchScript parity is checked at deployment.
        sane = embedding_problem(encode(model, sample_texts(self._data), batch_size=64, normalize=False))
        promoted, rule = guard(champion, challenger, worse_p, plan.promotion_max_p, veto, sane)
        self._session.log_metrics(self._session.run_id, metrics)
        version = self._session.register(model, champion, challenger, promoted, rule)
        return TrainingOutcome(
            best_params=params,
            trials_completed=states.count(optuna.trial.TrialState.COMPLETE),
            trials_pruned=states.count(optuna.trial.TrialState.PRUNED),
            champion=champion,
            challenger=challenger,
            promoted=promoted,
            p_value=p_value,
            worse_p_value=worse_p,
            rule=rule,
            model_dir=model_dir,
            registered_version=version,
            mlflow_run_id=self._session.run_id,
            benchmark_champion=bench_champion[0].scores if bench_champion else None,
            benchmark_challenger=bench_challenger.scores if bench_challenger is not None else None,
        )

    def _objective(self, trial: optuna.Trial) -> float:
        params = sample(trial, self._plan.search_space)
        run_id = self._session.start_trial(trial.number, params)
        scores: list[Evaluation] = []
        done = [0.0]  # the trial's share of steps trained: an epoch's evaluation stays at it

        def on_epoch(epoch: int, model: Any) -> bool:
            self._report(trial.number, done[0], f"evaluating epoch {epoch}")
            length = self._plan.eval_max_seq_length
            # Only the last epoch's parts can serve the benchmark: drop the earlier epoch's (on a
            # 50,000-object corpus they are ~100 MB of vectors).
            if scores:
                scores[-1].corpus = None
            scores.append(evaluations(model, self._data, [self._data.eval_queries], max_seq_length=length)[0])
            self._session.log_metrics(run_id, scores_metrics("", scores[-1].scores), step=epoch)
            trial.report(scores[-1].scores.ndcg_at_10, epoch)
            return trial.should_prune()

        def on_step(step: int, steps: int) -> None:
            done[0] = step / max(steps, 1)
            self._report(trial.number, done[0], f"step {step}/{steps}")

        callback = StudyCallback(self._reporter, on_step, on_epoch, self._deadline)
        model = load_model(self._plan.base_model_path, self._plan.max_seq_length)
        try:
            train(model, self._datasets, self._plan, params, callback)
            self._check_cancelled(callback.cancelled)
            if callback.pruned or not scores:
                self._session.tag(run_id, "optuna_state", "pruned")
                self._session.end(run_id, "FINISHED")
                raise optuna.TrialPruned()
            if callback.timed_out:
                self._session.tag(run_id, "stopped", "study timeout")
            value = scores[-1].scores.ndcg_at_10
            self._keep_if_best(trial.number, value, model, scores[-1], params)
            self._session.end(run_id, "FINISHED")
            return value
        except TaskCancelled:
            self._session.end(run_id, "KILLED")
            raise
        except optuna.TrialPruned:
            raise
        except Exception:
            self._session.end(run_id, "FAILED")
            raise
        finally:
            del model
            gc.collect()

    def _keep_if_best(
        self, number: int, value: float, model: Any, scores: Evaluation, params: dict[str, Any]
    ) -> None:
        """Save this trial's model if it is the best so far, deleting the previous best's."""
        if self._best is not None and value <= self._best[0]:
            return
        target = Path(self._plan.output_dir) / f"trial-{number}"
        # Saved (then registered, exported to Triton, loaded by the local embedder) at the serving
        # length it was evaluated at, not the shorter one a preset may train at: a `tiny` challenger
        # saved at 128 tokens served at 128 and scored 0.3985 on the Cranfield test qrels against the
        # 0.4038 its gate measured at 256.
        with at_length(model, self._plan.eval_max_seq_length):
            model.save(str(target))
        if self._best is not None:
            shutil.rmtree(self._best[1], ignore_errors=True)
        self._best = (value, str(target), scores, params)
        self._best_ndcg = max(self._best_ndcg, value)

    def _report(self, trial: int, fraction: float, what: str) -> None:
        n = self._plan.n_trials
        message = f"trial {min(trial + 1, n)} of {n}: {what}; best nDCG@10 so far {self._best_ndcg:.4f}"
        self._reporter.report(min(trial + fraction, n), n, message)

    def _check_cancelled(self, seen: bool = False) -> None:
        if seen or self._reporter.cancelled():
            raise TaskCancelled("fine-tuning cancelled")
