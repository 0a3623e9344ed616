"""Train / eval split by query: deterministic, disjoint, seed-dependent."""

from __future__ import annotations

from functions.fine_tuning.pairs import QueryFeedback
from functions.fine_tuning.split import query_draw, split_by_query


def queries(n: int) -> list[QueryFeedback]:
    return [
        QueryFeedback(key=f"query {i}", query=f"Query {i}", positives={f"d{i}": 1.0}, sessions=1)
        for i in range(n)
    ]


def test_split_is_by_query_deterministic_and_about_the_fraction() -> None:
    feedback = queries(400)
    train, evaluation = split_by_query(feedback, 0.25, seed=7)
    assert {q.key for q in train}.isdisjoint({q.key for q in evaluation})
    assert len(train) + len(evaluation) == 400
    assert 70 <= len(evaluation) <= 130
    again = split_by_query(list(reversed(feedback)), 0.25, seed=7)
    assert {q.key for q in again[1]} == {q.key for q in evaluation}  # order of sessions does not matter
    other = split_by_query(feedback, 0.25, seed=8)
    assert {q.key for q in other[1]} != {q.key for q in evaluation}


def test_each_side_keeps_a_query_when_there_are_two_or_more() -> None:
    for seed in range(20):
        train, evaluation = split_by_query(queries(2), 0.01, seed)
        assert len(train) == 1
        assert len(evaluation) == 1
        train, evaluation = split_by_query(queries(3), 0.99, seed)
        assert len(train) >= 1
        assert len(evaluation) >= 1
    train, evaluation = split_by_query(queries(1), 0.5, seed=1)
    assert len(train) + len(evaluation) == 1


def test_draw_is_stable_across_processes() -> None:
    # sha256-based: a fixed value, unlike hash() which is salted per process.
    assert query_draw(13, "rose pruning") == query_draw(13, "rose pruning")
    assert 0.0 <= query_draw(13, "rose pruning") < 1.0
