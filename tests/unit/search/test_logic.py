"""Search rules with literal values: request checks, candidate sizing, grouping, scores."""

from __future__ import annotations

import re

import msgspec
import pytest

from functions.errors import InvalidInput
from functions.records import PartHit
from functions.search import logic
from functions.search.messages import SearchRequest
from tests.support.config import app_config

CFG = msgspec.structs.replace(app_config().search, default_limit=10, max_limit=100)


def req(**fields: object) -> SearchRequest:
    fields.setdefault("index", "books")
    return SearchRequest(**fields)  # type: ignore[arg-type]


def part(object_id: str, distance: float, index: int = 0) -> PartHit:
    return PartHit(object_id=object_id, part_index=index, chunk=f"{object_id}#{index}", distance=distance)


def test_page_size_defaults_from_config() -> None:
    assert logic.page_size(req(query="dune"), CFG) == 10
    assert logic.page_size(req(vector=[0.1], limit=100), CFG) == 100


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"query": "dune", "vector": [1.0]}, "query", "exactly one of query and vector"),
        ({}, "query", "exactly one of query and vector"),
        ({"query": "   "}, "query", "query is blank"),
        ({"query": "dune", "limit": 101}, "limit", "limit is 101; at most 100"),
        ({"query": "dune", "limit": 10, "offset": 91}, "offset", "offset + limit is 101; at most 100"),
    ],
)
def test_page_size_refusals_name_the_field(fields: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)) as caught:
        logic.page_size(req(**fields), CFG)
    assert caught.value.field == field


def test_query_vector_checks_dimension_and_finiteness() -> None:
    assert logic.query_vector([1.0, 0.5], 2).tolist() == [1.0, 0.5]
    with pytest.raises(InvalidInput, match="vector has 3 dimensions; this index has 2"):
        logic.query_vector([1.0, 0.5, 0.0], 2)
    with pytest.raises(InvalidInput, match=re.escape("vector[1] is not a finite number")):
        logic.query_vector([1.0, float("inf")], 2)


@pytest.mark.parametrize(
    ("vector", "message"),
    [
        ([0.0, 0.0], "vector is all zeros: it has no direction to search by"),
        ([0.5, 1e308], "vector[1] is 1e+308, outside the float32 range (±3.4e38)"),
        ([-1e39, 0.0], "vector[0] is -1e+39, outside the float32 range"),
        ([1e-30, 0.0], "squared length (1e-60) is outside the float32 range"),
        ([2e19, 2e19], "squared length (8e+38) is outside the float32 range"),
    ],
)
def test_query_vector_refuses_what_pgvector_cannot_score(vector: list[float], message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)) as caught:
        logic.query_vector(vector, 2)
    assert caught.value.field == "vector"


def test_query_vector_keeps_small_and_large_but_scorable_vectors() -> None:
    assert logic.query_vector([3e-19, 0.0], 2).tolist() == pytest.approx([3e-19, 0.0])
    assert logic.query_vector([1e19, 0.0], 2).tolist() == pytest.approx([1e19, 0.0])


def test_best_per_object_keeps_each_objects_nearest_part_in_order() -> None:
    found = [part("a", 0.1, 2), part("a", 0.2, 0), part("b", 0.3), part("c", 0.3), part("b", 0.05, 1)]
    best = logic.best_per_object(found)
    assert [(p.object_id, p.part_index, p.distance) for p in best] == [
        ("b", 1, 0.05),
        ("a", 2, 0.1),
        ("c", 0, 0.3),
    ]


def test_candidates_grow_until_enough_objects_or_exhausted() -> None:
    assert logic.first_candidates(10) == 40
    assert logic.first_candidates(0) == 4
    assert logic.first_candidates(10_000) == logic.MAX_CANDIDATE_PARTS
    assert logic.next_candidates(40, fetched=40, distinct=7, needed=10) == 160
    assert logic.next_candidates(40, fetched=40, distinct=10, needed=10) is None  # enough objects
    assert logic.next_candidates(40, fetched=33, distinct=7, needed=10) is None  # no more parts
    assert logic.next_candidates(logic.MAX_CANDIDATE_PARTS, logic.MAX_CANDIDATE_PARTS, 7, 10) is None
    assert logic.next_candidates(8_000, 8_000, 7, 10) == logic.MAX_CANDIDATE_PARTS


def test_scores_are_higher_for_nearer() -> None:
    assert logic.score("cosine", 0.25) == 0.75
    assert logic.score("dot", -0.8) == 0.8
    assert logic.score("l2", 1.0) == 0.5
