"""The suite's end check: which newly loaded Triton versions are this session's leaks."""

from __future__ import annotations

from tests.support.triton import leaked


def test_only_new_versions_of_this_sessions_models_are_its_leaks() -> None:
    before = {"embedloop-demo_v1"}
    after = {"embedloop-demo_v1", "embedloop-books-1a2b_v1", "embedloop-e2e_9f_v2", "embedloop-other_v1"}
    mine = {"embedloop-books-1a2b", "embedloop-e2e_9f", "embedloop-demo"}
    assert leaked(before, after, mine) == (
        ["embedloop-books-1a2b_v1", "embedloop-e2e_9f_v2"],
        ["embedloop-other_v1"],
    )
    assert leaked(after, after, mine) == ([], [])
    assert leaked(set(), {"not-ours"}, mine) == ([], ["not-ours"])
