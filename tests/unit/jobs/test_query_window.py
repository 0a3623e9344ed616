"""How much of a long query an embedder tokenises, and when the answer says it was truncated."""

from __future__ import annotations

from jobs.embedding.query_window import CHARS_PER_TOKEN, clip, truncated


def test_a_query_within_the_bound_is_tokenised_whole() -> None:
    text = "x" * (256 * CHARS_PER_TOKEN)
    assert clip(text, 256) == (text, False)


def test_a_query_past_the_bound_is_cut_there() -> None:
    text = "ab" * 5000
    assert clip(text, 100) == (text[: 100 * CHARS_PER_TOKEN], True)
    assert len(clip(text, 100)[0]) == 3200


def test_truncated_when_cut_or_longer_than_the_window() -> None:
    assert not truncated(False, 256, 256)
    assert truncated(False, 257, 256)
    assert truncated(True, 10, 256)
