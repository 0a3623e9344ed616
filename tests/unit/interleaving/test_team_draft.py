"""Team Draft Interleaving and click credit on literal lists."""

from __future__ import annotations

from collections import Counter

from functions.interleaving.team_draft import credit, interleave, seed_of, stable_unit, takes_part

A = ["a1", "a2", "a3", "a4", "a5"]
B = ["b1", "b2", "b3", "b4", "b5"]


def test_disjoint_lists_alternate_by_rounds_and_keep_each_sides_order() -> None:
    merged = interleave(A, B, 6, seed=1)
    assert len(merged) == 6
    control = [doc for doc, side in merged if side == "control"]
    candidate = [doc for doc, side in merged if side == "candidate"]
    assert control == A[:3]
    assert candidate == B[:3]
    for round_start in (0, 2, 4):  # one pick per side in every round, in either order
        assert {side for _, side in merged[round_start : round_start + 2]} == {"control", "candidate"}


def test_a_shared_result_is_shown_once_and_the_drafter_moves_on() -> None:
    merged = interleave(["x", "a2", "a3"], ["x", "b2", "b3"], 4, seed=3)
    docs = [doc for doc, _ in merged]
    assert docs[0] == "x"
    assert len(set(docs)) == len(docs) == 4
    # whoever did not get "x" picks its own next result, never "x" again
    assert merged[1][0] in {"a2", "b2"}


def test_identical_lists_give_the_control_order_whatever_the_coin() -> None:
    for seed in range(20):
        assert [doc for doc, _ in interleave(A, A, 5, seed)] == A


def test_the_seed_fixes_the_page_and_the_coin_is_fair_over_seeds() -> None:
    assert interleave(A, B, 5, seed=42) == interleave(A, B, 5, seed=42)
    first = Counter(interleave(A, B, 1, seed)[0][1] for seed in range(2000))
    assert 900 < first["control"] < 1100


def test_picks_stay_balanced_within_one() -> None:
    for seed in range(50):
        for limit in range(1, 11):
            sides = Counter(side for _, side in interleave(A, B, limit, seed))
            assert abs(sides["control"] - sides["candidate"]) <= 1


def test_a_short_side_leaves_the_rest_of_the_page_to_the_other() -> None:
    merged = interleave(["a1"], B, 4, seed=0)
    assert len(merged) == 4
    assert [side for doc, side in merged if doc == "a1"] == ["control"]
    assert sum(side == "candidate" for _, side in merged) == 3
    assert interleave([], [], 10, seed=0) == []
    assert interleave(A, B, 0, seed=0) == []


def test_credit_counts_clicks_per_side_once_per_position() -> None:
    sides = ["control", "candidate", "control", "candidate"]
    assert credit(sides, [1]) == "candidate"
    assert credit(sides, [0, 2, 1]) == "control"
    assert credit(sides, [0, 1]) == "tie"
    assert credit(sides, [1, 1, 1, 0]) == "tie"  # a position clicked three times counts once
    assert credit(sides, []) is None
    assert credit(sides, [7, -1]) is None  # clicks outside the page credit nobody


def test_share_and_seed_are_stable_across_processes() -> None:
    assert stable_unit("search-1") == stable_unit("search-1")
    assert 0.0 <= stable_unit("anything") < 1.0
    assert seed_of("k") == seed_of("k") != seed_of("k2")
    keys = [f"search-{i}" for i in range(4000)]
    taking = sum(takes_part(k, 0.25) for k in keys)
    assert 850 < taking < 1150
    assert all(takes_part(k, 1.0) for k in keys[:100])
