"""The generated sample catalog: deterministic, two disjoint splits, valid graded qrels, realistic shape."""

from __future__ import annotations

import pytest

from sim import sample_catalog
from sim.sample_catalog import Catalog, generate, generate_splits
from sim.sample_vocabulary import CATEGORIES


def test_the_same_seed_gives_the_same_catalog_and_another_seed_another() -> None:
    assert generate_splits(7) == generate_splits(7)
    items, splits = generate_splits(7)
    other_items, other_splits = generate_splits(8)
    assert items != other_items
    assert splits != other_splits


def test_no_query_text_is_in_both_splits_and_every_need_is_in_both() -> None:
    _, splits = generate_splits(7)
    train, test = splits["train"][0], splits["test"][0]
    assert not set(train.values()) & set(test.values())
    assert not set(train) & set(test)
    needs = {(c.name.replace(" ", "-"), n.key) for c in CATEGORIES for n in c.needs}
    for queries in (train, test):
        assert {tuple(q.split("-", 1)[1].rsplit("-", 2)[:2]) for q in queries} == needs


def test_every_judged_id_exists_and_grades_are_1_to_3_with_several_relevant_per_query() -> None:
    items, splits = generate_splits(7)
    ids = [str(i["object_id"]) for i in items]
    assert len(ids) == len(set(ids))
    for queries, qrels in splits.values():
        assert set(qrels) == set(queries)
        for grades in qrels.values():
            assert set(grades) <= set(ids)
            assert set(grades.values()) <= {1, 2, 3}
            assert sum(g == 3 for g in grades.values()) >= sample_catalog.BUILT
            assert 1 in grades.values()


def test_the_size_fits_a_demo_of_a_few_minutes() -> None:
    items, splits = generate_splits(7)
    assert 600 <= len(items) <= 1200
    assert 60 <= len(splits["train"][0]) <= 100
    assert 30 <= len(splits["test"][0]) <= 50
    for item in items:
        content = item["content"]
        assert isinstance(content, dict)
        assert content["title"]
        assert content["body"]
        assert set(item) == {"object_id", "content", "payload"}


def test_generate_returns_one_split_as_a_catalog_over_the_same_items() -> None:
    items, splits = generate_splits(7)
    default = generate(7)
    assert isinstance(default, Catalog)
    assert default.items == items
    assert (default.queries, default.qrels) == splits["test"]
    train = generate(7, "train")
    assert (train.queries, train.qrels) == splits["train"]
    with pytest.raises(ValueError, match="unknown split"):
        generate(7, "dev")


def test_queries_use_users_words_not_the_product_words_of_their_relevant_items() -> None:
    # The difficulty must come from phrasing, not noise: no query repeats a relevant item's lead feature.
    items, splits = generate_splits(7)
    bodies = {str(i["object_id"]): str(i["content"]["body"]).lower() for i in items}  # type: ignore[index]
    for queries, qrels in splits.values():
        for qid, text in queries.items():
            top = [bodies[d] for d, g in qrels[qid].items() if g == 3]
            assert all(text.lower() not in body for body in top)
            assert all(body.split(".")[0] not in text.lower() for body in top)
