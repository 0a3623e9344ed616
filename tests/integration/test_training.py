"""The Trainer and ModelRegistry adapters end to end on a tiny synthetic TrainingSet: one trial, one
epoch, a private MLflow store under tmp_path (runs, the registered version, aliases, clean-ups)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from mlflow import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from functions.config import AppConfig, MlflowConfig
from functions.errors import TaskCancelled
from functions.records import Example, SearchSpace
from jobs.bootstrap import build_registry, build_training
from jobs.embedding.model_paths import resolve_model_path
from jobs.training.evaluate import evaluate, evaluate_sets
from jobs.training.guard import guard
from jobs.training.trainer import load_model, training_datasets
from tests.support.fakes import FakeTrainingReporter
from tests.support.training import tiny_plan, training_set

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.model]
MODEL = "embedloop-synthetic"


def private(config: AppConfig, tmp_path: Path) -> tuple[AppConfig, MlflowClient]:
    """The config with its own MLflow store and data dir under tmp_path, and a client on that store."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    mlflow = MlflowConfig(tracking_uri=uri, artifacts_uri=str(tmp_path / "mlartifacts"))
    changed = msgspec.structs.replace(config, mlflow=mlflow, data_dir=str(tmp_path / "data"))
    return changed, MlflowClient(tracking_uri=uri, registry_uri=uri)


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def is_dir(path: Path) -> bool:
    return path.is_dir()


def runs(client: MlflowClient) -> list[object]:
    experiment = client.get_experiment_by_name(MODEL)
    assert experiment is not None
    return list(client.search_runs([experiment.experiment_id]))


async def test_tiny_study_registers_a_challenger(config: AppConfig, tmp_path: Path) -> None:
    cfg, client = private(config, tmp_path)
    trainer, registry = build_training(cfg), build_registry(cfg)
    plain, plan = training_set(), tiny_plan("task-tiny", str(tmp_path / "scratch"))
    # Judged queries of a "benchmark": scored for both models at the end, never during the study.
    benchmark = [msgspec.structs.replace(q, query_id=f"b-{q.query_id}") for q in plain.eval_queries[:3]]
    # Corpus pairs beside the click triplets: two datasets, each batch drawn from one of them.
    corpus = [
        Example(
            query=e.positives[0][:40],
            positives=[e.positives[0]],
            positive_weights=[1.0],
            negatives=[],
            kind="crop",
        )
        for e in plain.train[:8]
    ]
    data = msgspec.structs.replace(plain, benchmark=benchmark, train=[*plain.train, *corpus])
    assert set(training_datasets(data.train, 1)) == {"clicks", "corpus"}
    reporter = FakeTrainingReporter()

    outcome = await trainer.run(plan, data, reporter)

    assert (outcome.trials_completed, outcome.trials_pruned) == (1, 0)
    assert outcome.best_params["epochs"] == 1
    assert outcome.best_params["batch_size"] == 8
    # Evaluated at the serving length, whatever the preset trains at.
    base = load_model(plan.base_model_path, plan.eval_max_seq_length)
    assert outcome.champion == evaluate(base, data)
    assert outcome.benchmark_champion == evaluate_sets(base, data, [benchmark])[0]
    best = load_model(str(outcome.model_dir), plan.eval_max_seq_length)
    # Trained at 64 tokens, saved (so registered and served) at the serving length it was scored at.
    assert (plan.max_seq_length, best.max_seq_length) == (64, plan.eval_max_seq_length)
    assert outcome.benchmark_challenger == evaluate_sets(best, data, [benchmark])[0]
    assert 0 < outcome.challenger.ndcg_at_10 <= 1
    assert 0 < outcome.p_value <= 1
    assert outcome.benchmark_champion is not None
    assert outcome.benchmark_challenger is not None
    assert outcome.worse_p_value is not None
    assert 0 <= outcome.worse_p_value <= 1
    assert outcome.rule
    assert not outcome.rule.startswith("sanity")  # a barely trained MiniLM embeds distinct texts apart
    assert outcome.registered_version == "1"
    assert outcome.model_dir is not None
    assert is_dir(Path(outcome.model_dir))
    assert [p.name for p in files_under(tmp_path / "scratch") if p.name == "modules.json"] == ["modules.json"]
    assert Path(outcome.model_dir).name == "trial-0"  # only the best trial's model is kept
    assert reporter.reports[0][2].startswith("trial 1 of 1")
    assert all(total == 1 for _, total, _ in reporter.reports)

    found = runs(client)
    parents = [r for r in found if MLFLOW_PARENT_RUN_ID not in r.data.tags]  # type: ignore[attr-defined]
    trials = [r for r in found if MLFLOW_PARENT_RUN_ID in r.data.tags]  # type: ignore[attr-defined]
    assert len(parents) == 1
    assert len(trials) == 1
    parent, trial = parents[0], trials[0]
    assert parent.info.run_id == outcome.mlflow_run_id
    assert parent.info.status == trial.info.status == "FINISHED"
    assert parent.data.tags["task_id"] == "task-tiny"
    assert parent.data.tags["index"] == "synthetic"
    assert parent.data.params["corpus_pairs"] == str(len(corpus))
    assert parent.data.params["champion_corpus"] == "embedded"  # the synthetic set holds no stored vectors
    assert parent.data.metrics["champion_ndcg_at_10"] == pytest.approx(outcome.champion.ndcg_at_10)
    assert parent.data.metrics["gate_p_value"] == pytest.approx(outcome.p_value)
    assert parent.data.metrics["guard_worse_p_value"] == pytest.approx(outcome.worse_p_value)
    assert parent.data.tags["guard_rule"] == outcome.rule
    # The guard's verdict from the logged evidence (the benchmark's p of "worse" is logged, not returned).
    bench = (
        outcome.benchmark_champion,
        outcome.benchmark_challenger,
        parent.data.metrics["guard_benchmark_worse_p_value"],
    )
    verdict = guard(outcome.champion, outcome.challenger, outcome.worse_p_value, plan.promotion_max_p, bench)
    assert (outcome.promoted, outcome.rule) == verdict
    assert outcome.benchmark_challenger is not None
    assert parent.data.metrics["benchmark_challenger_ndcg_at_10"] == pytest.approx(
        outcome.benchmark_challenger.ndcg_at_10
    )
    assert not [m for m in trials[0].data.metrics if m.startswith("benchmark")]  # type: ignore[attr-defined]
    assert trial.data.tags[MLFLOW_PARENT_RUN_ID] == parent.info.run_id
    assert float(trial.data.params["learning_rate"]) == pytest.approx(2e-6)
    history = client.get_metric_history(trial.info.run_id, "ndcg_at_10")
    assert [(m.step, m.value) for m in history] == [(1, pytest.approx(outcome.challenger.ndcg_at_10))]

    version = client.get_model_version_by_alias(MODEL, "challenger")
    assert str(version.version) == "1"
    assert version.tags["task_id"] == "task-tiny"
    assert version.tags["base_version"] == "none"
    assert version.tags["session_count"] == "60"
    assert version.tags["dataset_hash"] == "synthetic"
    stored = files_under(tmp_path / "mlartifacts")
    assert stored
    assert len({p.relative_to(tmp_path / "mlartifacts").parts[:3] for p in stored}) == 1  # one model only

    assert await registry.champion(MODEL) is None  # a challenger is not a champion
    client.set_registered_model_alias(MODEL, "champion", "1")
    champion = await registry.champion(MODEL)
    assert champion is not None
    assert champion[0] == "1"
    assert Path(champion[1]) / "modules.json" in files_under(Path(champion[1]))
    # What deployment exports and the local embedder loads embeds at the length the gate scored.
    registered = load_model(champion[1], 512)
    assert registered.max_seq_length == plan.eval_max_seq_length
    assert await registry.champion("embedloop-nothing") is None


@pytest.mark.parametrize(
    ("reporter", "error", "status"),
    [
        (FakeTrainingReporter(cancel_on="step 1/"), TaskCancelled, "KILLED"),
        (FakeTrainingReporter(fail_on="step 2/"), RuntimeError, "FAILED"),
    ],
    ids=["cancelled", "failed"],
)
async def test_a_stopped_run_leaves_no_artifacts(
    config: AppConfig, tmp_path: Path, reporter: FakeTrainingReporter, error: type[Exception], status: str
) -> None:
    cfg, client = private(config, tmp_path)
    trainer = build_training(cfg)
    plan = tiny_plan("task-stopped", str(tmp_path / "scratch"))

    with pytest.raises(error):
        await trainer.run(plan, training_set(), reporter)

    found = runs(client)
    assert len(found) == 2  # the parent and the trial it stopped in
    assert {r.info.status for r in found} == {status}  # type: ignore[attr-defined]
    assert client.search_model_versions(f"name='{MODEL}'") == []
    assert files_under(tmp_path / "mlartifacts") == []
    assert not is_dir(tmp_path / "scratch")


async def test_the_base_model_is_version_one_and_champion(config: AppConfig, tmp_path: Path) -> None:
    cfg, client = private(config, tmp_path)
    registry = build_registry(cfg)

    first = await registry.ensure_base(MODEL, cfg.model.name, cfg.model.path)
    again = await registry.ensure_base(MODEL, cfg.model.name, cfg.model.path)

    assert first == again == "1"
    assert len(client.search_model_versions(f"name='{MODEL}'")) == 1
    base_dir = resolve_model_path(cfg.model.path)
    assert await registry.champion(MODEL) == ("1", base_dir)  # no copy: the configured model's folder
    assert await registry.model_dir(MODEL, "1") == base_dir
    assert await registry.model_dir(MODEL, "7") is None
    assert files_under(tmp_path / "mlartifacts") == []


async def test_the_study_timeout_stops_a_trial_in_flight(config: AppConfig, tmp_path: Path) -> None:
    cfg, client = private(config, tmp_path)
    space = SearchSpace(
        learning_rate=(2e-6, 2e-6), epochs=[3], batch_size=[8], warmup_ratio=(0.0, 0.0), scale=(20.0, 20.0)
    )
    plan = tiny_plan("task-timeout", str(tmp_path / "scratch"), timeout_s=0.5, search_space=space)
    reporter = FakeTrainingReporter()

    outcome = await build_training(cfg).run(plan, training_set(), reporter)

    # Stopped after its first step, well before 3 epochs; the partial model was evaluated and kept.
    steps = [m for _, _, m in reporter.reports if "step " in m]
    last, total = (int(n) for n in steps[-1].split("step ")[1].split(";")[0].split("/"))
    assert last < total, steps[-1]
    assert (outcome.trials_completed, outcome.registered_version) == (1, "1")
    trial = next(r for r in runs(client) if MLFLOW_PARENT_RUN_ID in r.data.tags)  # type: ignore[attr-defined]
    assert trial.data.tags["stopped"] == "study timeout"  # type: ignore[attr-defined]


async def test_progress_never_goes_back_between_epochs(config: AppConfig, tmp_path: Path) -> None:
    # An epoch's evaluation once reported the whole trial as done (100%, ETA 0), then training went on
    # at 50%: a watcher saw the task finish and start again.
    cfg, _ = private(config, tmp_path)
    space = SearchSpace(
        learning_rate=(2e-6, 2e-6), epochs=[2], batch_size=[8], warmup_ratio=(0.0, 0.0), scale=(20.0, 20.0)
    )
    plan = tiny_plan("task-progress", str(tmp_path / "scratch"), search_space=space)
    reporter = FakeTrainingReporter()

    await build_training(cfg).run(plan, training_set(), reporter)

    done = [d for d, _, _ in reporter.reports]
    assert done == sorted(done), done
    first_epoch = next(d for d, _, m in reporter.reports if "evaluating epoch 1" in m)
    assert 0 < first_epoch < 1
