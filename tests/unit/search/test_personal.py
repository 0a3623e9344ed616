"""Personal vectors in search: a user's objects rank by their own copies, shared ones elsewhere."""

from __future__ import annotations

from functions.records import ObjectHit, PartHit
from functions.search import logic


def part(object_id: str, distance: float, index: int = 0) -> PartHit:
    return PartHit(object_id=object_id, part_index=index, chunk=f"{object_id}#{index}", distance=distance)


def test_personal_parts_replace_the_shared_parts_of_their_objects() -> None:
    shared = [part("a", 0.1), part("b", 0.2), part("b", 0.25, 1), part("c", 0.3)]
    personal = [part("a", 0.4), part("d", 0.05, 2)]
    merged = logic.merge_personal(shared, personal)
    assert [(p.object_id, p.distance) for p in merged] == [("d", 0.05), ("b", 0.2), ("c", 0.3), ("a", 0.4)]
    assert merged[0].part_index == 2


def test_only_hits_within_the_fetched_frontier_are_settled() -> None:
    shared = [part("b", 0.2), part("c", 0.3)]
    merged = logic.merge_personal(shared, [part("a", 0.9)])
    # "a" at 0.9 may be preceded by shared parts not fetched yet (anything between 0.3 and 0.9).
    assert logic.settled(merged, shared) == 2
    assert logic.settled(logic.best_per_object(shared), shared) == 2  # no personal: all of them
    assert logic.settled([part("a", 0.9)], []) == 1  # nothing shared at all: exhausted


def test_personal_averages_replace_shared_objects() -> None:
    shared = [ObjectHit(object_id="a", distance=0.1), ObjectHit(object_id="b", distance=0.2)]
    personal = [ObjectHit(object_id="a", distance=0.5), ObjectHit(object_id="c", distance=0.15)]
    merged = logic.merge_personal_objects(shared, personal)
    assert [(o.object_id, o.distance) for o in merged] == [("c", 0.15), ("b", 0.2), ("a", 0.5)]
