"""The lifecycle's default index: named after the dataset folder, `demo` for the sample catalogue."""

from __future__ import annotations

import re

import pytest

from scripts.lifecycle.steps import index_name


@pytest.mark.parametrize(
    ("dataset", "index"),
    [
        (None, "demo"),
        ("", "demo"),
        ("/work/shared/data/cranfield", "cranfield"),
        ("/work/shared/data/cranfield/", "cranfield"),
        ("../shared/data/SciFact", "scifact"),
        ("/data/beir.trec-covid v2", "beir-trec-covid-v2"),
        ("/data/nf_corpus", "nf_corpus"),
        ("/data/2024-msmarco", "ds-2024-msmarco"),
        ("/data/_private", "private"),
        ("/data/" + "x" * 80, "x" * 63),
    ],
)
def test_the_index_is_derived_from_the_dataset_folder(dataset: str | None, index: str) -> None:
    assert index_name(dataset) == index
    assert re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", index)  # what POST /indexes accepts
