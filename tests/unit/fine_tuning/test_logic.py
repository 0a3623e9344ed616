"""Presets with overrides, examples, eval queries and the dataset hash."""

from __future__ import annotations

import pytest

from functions.config import AppConfig
from functions.errors import InvalidInput
from functions.fine_tuning import logic
from functions.fine_tuning.messages import Benchmark
from functions.fine_tuning.pairs import QueryFeedback
from functions.records import EvalQuery
from tests.support.config import app_config


@pytest.fixture(scope="module")
def config() -> AppConfig:
    return app_config()


def test_overrides_are_validated_into_the_preset(config: AppConfig) -> None:
    preset = logic.resolve_preset(config, "tiny", {"n_trials": 2, "search_space": {"epochs": [2]}})
    assert preset.n_trials == 2
    assert preset.search_space.epochs == [2]
    assert preset.search_space.batch_size == config.fine_tuning.presets["tiny"].search_space.batch_size


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"n_trials": "many"}, "overrides.n_trials"),
        ({"n_trials": 0}, "overrides.n_trials"),
        ({"learning_rate": 0.1}, "overrides.learning_rate"),
        ({"search_space": {"epochs": ["x"]}}, "overrides.search_space.epochs"),
        ({"search_space": {"bogus": 1}}, "overrides.search_space.bogus"),
    ],
)
def test_a_bad_override_names_its_key(config: AppConfig, overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        logic.resolve_preset(config, "small", overrides)
    assert caught.value.field == field


def test_examples_and_eval_queries_use_stored_texts_only() -> None:
    fb = QueryFeedback(key="q", query="Q", positives={"a": 1.0, "b": 3.0, "gone": 2.0}, skipped={"c"})
    texts = {"a": "text a", "b": "text b", "c": "text c"}
    example = logic.example(fb, ["c", "missing"], texts)
    assert example is not None
    assert example.positives == ["text b", "text a"]
    assert example.positive_weights == [3.0, 1.0]
    assert example.negatives == ["text c"]
    assert logic.example(fb, [], {}) is None
    query = logic.eval_query(fb, {"a": "x", "z": "y"})
    assert query is not None
    assert query.relevant == {"a": 1.0}


def test_light_positives_are_left_out_of_training_but_not_made_negatives() -> None:
    fb = QueryFeedback(key="q", query="Q", positives={"a": 0.25, "b": 1.5, "c": 0.3})
    texts = {"a": "text a", "b": "text b", "c": "text c"}
    example = logic.example(fb, [], texts, min_weight=0.3)
    assert example is not None
    assert example.positives == ["text b", "text c"]
    assert example.positive_weights == [1.5, 0.3]
    assert example.negatives == []
    assert logic.example(fb, [], texts, min_weight=2.0) is None
    assert logic.example(fb, [], texts) is not None  # 0 (the default) keeps every positive


def test_the_dataset_hash_is_canonical() -> None:
    fb = QueryFeedback(key="q", query="Q", positives={"a": 1.0})
    example = logic.example(fb, [], {"a": "A"})
    assert example is not None
    one = logic.training_set([example], [], {"b": ["B"], "a": ["A", "A1"]}, 1)
    two = logic.training_set([example], [], {"a": ["A", "A1"], "b": ["B"]}, 1)
    assert one.dataset_hash == two.dataset_hash
    assert list(one.corpus) == ["a", "b"]
    other = logic.training_set([example], [], {"a": ["A", "A2"], "b": ["B"]}, 1)
    assert other.dataset_hash != one.dataset_hash


def test_benchmark_queries_keep_judged_queries_with_a_text() -> None:
    benchmark = Benchmark(
        queries={"q2": "shock waves", "q1": "wing flutter", "q3": "no judgement"},
        qrels={"q1": {"12": 2, "40": 0, "7": 1}, "q2": {"9": 0}, "q4": {"5": 1}},
    )
    found = logic.benchmark_queries(benchmark)
    # q2 has no relevant object, q3 no qrels, q4 no text; grades become gains, zeros are left out.
    assert found == [EvalQuery(query_id="q1", query="wing flutter", relevant={"12": 2.0, "7": 1.0})]
    assert logic.benchmark_queries(None) == []
