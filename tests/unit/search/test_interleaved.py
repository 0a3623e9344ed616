"""How an interleaved page is drafted from two sides' hits, and what keys a search, on literal values."""

from __future__ import annotations

from functions.records import Eq
from functions.search.interleaved import merge, search_key
from functions.search.messages import Hit, SearchRequest


def _hits(*ids: str) -> list[Hit]:
    return [Hit(object_id=i, score=1.0 - n / 10) for n, i in enumerate(ids)]


def test_the_page_takes_each_hit_from_the_side_that_picked_it_without_duplicates() -> None:
    control, candidate = _hits("a", "b", "c", "d"), _hits("b", "e", "a", "f")
    page, sides = merge(control, candidate, 4, seed=3)
    ids = [h.object_id for h in page]
    assert len(ids) == len(set(ids)) == 4
    assert sorted(sides) == ["candidate", "candidate", "control", "control"]
    for hit, side in zip(page, sides, strict=True):
        source = control if side == "control" else candidate
        assert hit in source  # the side's own Hit (its score and chunk)
    assert merge(control, candidate, 4, seed=3) == (page, sides)


def test_a_short_side_leaves_the_rest_of_the_page_to_the_other() -> None:
    page, sides = merge(_hits("a"), _hits("b", "c", "d"), 4, seed=1)
    assert {h.object_id for h in page} == {"a", "b", "c", "d"}
    assert sides.count("control") == 1


def test_the_key_changes_with_what_changes_the_page() -> None:
    base = SearchRequest(index="i", query="q", user_id="u")
    key = search_key(base, 10)
    assert key == search_key(SearchRequest(index="i", query="q", user_id="u"), 10)
    others = [
        search_key(SearchRequest(index="i", query="q", user_id="v"), 10),
        search_key(SearchRequest(index="i", query="q2", user_id="u"), 10),
        search_key(base, 5),
        search_key(SearchRequest(index="i", query="q", user_id="u", filter=Eq(path="a", value=1)), 10),
        search_key(SearchRequest(index="i", query="q", user_id="u", mode="average"), 10),
    ]
    assert key not in others
