"""Token windows over character offsets: what both embedders' split() cut."""

from __future__ import annotations

from functions.upsertion.chunking import token_windows

TEXT = "a b c d e"
OFFSETS = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]


def test_a_text_that_fits_is_one_chunk_and_an_empty_one_none() -> None:
    assert token_windows(TEXT, OFFSETS, 5, 1) == [TEXT]
    assert token_windows("   ", [], 5, 1) == []


def test_windows_overlap_and_end_at_the_last_token() -> None:
    assert token_windows(TEXT, OFFSETS, 3, 1) == ["a b c", "c d e"]
    assert token_windows(TEXT, OFFSETS, 2, 0) == ["a b", "c d", "e"]


def test_an_overlap_as_large_as_the_window_still_advances() -> None:
    assert token_windows(TEXT, OFFSETS, 2, 5) == ["a b", "b c", "c d", "d e"]
