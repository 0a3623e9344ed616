"""The trainer's datasets: click triplets and corpus pairs apart, so no batch mixes them."""

from __future__ import annotations

from functions.records import Example
from jobs.training.trainer import training_datasets


def click(query: str, positives: list[str], negatives: list[str]) -> Example:
    return Example(
        query=query, positives=positives, positive_weights=[1.0] * len(positives), negatives=negatives
    )


def pair(anchor: str, positive: str) -> Example:
    return Example(
        query=anchor, positives=[positive], positive_weights=[1.0], negatives=[], kind="inverse_cloze"
    )


def test_sources_become_separate_datasets() -> None:
    found = training_datasets([click("q", ["a", "b"], ["n"]), pair("span", "rest")], seed=1)
    assert found == {
        "clicks": {"anchor": ["q", "q"], "positive": ["a", "b"], "negative": ["n", "n"]},
        "corpus": {"anchor": ["span"], "positive": ["rest"]},
    }


def test_corpus_pairs_never_lend_or_borrow_negatives() -> None:
    # A click example without negatives borrows from other clicks' negatives only: here there are none.
    found = training_datasets([click("q", ["a"], []), pair("span", "rest")], seed=1)
    assert found["clicks"] == {"anchor": ["q"], "positive": ["a"]}
    assert "negative" not in found["corpus"]


def test_an_empty_source_is_left_out() -> None:
    assert set(training_datasets([pair("span", "rest")], seed=1)) == {"corpus"}
    assert set(training_datasets([click("q", ["a"], ["n"])], seed=1)) == {"clicks"}
