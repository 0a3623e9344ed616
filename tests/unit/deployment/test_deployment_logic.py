"""Deployment ids, Triton names, and which blue collections hold a version in use."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from functions.deployment import logic
from functions.errors import InvalidInput
from functions.records import Collection

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def collection(cid: str, index: str, version: str) -> Collection:
    return Collection(
        id=cid,
        index_name=index,
        model_name="m",
        model_version=version,
        dim=3,
        metric="cosine",
        status="active",
        created_at=NOW,
    )


def test_ids_round_trip() -> None:
    assert logic.deployment_id("embedloop-docs", "2") == "embedloop-docs@2"
    assert logic.parse_id("embedloop-docs@2") == ("embedloop-docs", "2")
    assert logic.parse_id("a@b@12") == ("a@b", "12")


@pytest.mark.parametrize("bad", ["embedloop-docs", "embedloop-docs@", "@2", "m@x", "m@02", "m@-1"])
def test_malformed_ids_name_the_field(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        logic.parse_id(bad)
    assert caught.value.field == "deployment_id"


def test_triton_names_keep_safe_characters_only() -> None:
    assert logic.triton_name("embedloop-docs_v2") == "embedloop-docs_v2"
    assert logic.triton_name("team.model/x") == "team_model_x"


def test_index_of_a_registered_model() -> None:
    assert logic.index_of("embedloop-docs", "embedloop-") == "docs"
    assert logic.index_of("embedloop-", "embedloop-") is None
    assert logic.index_of("other", "embedloop-") is None


def test_blue_users_match_index_and_version() -> None:
    blues = [collection("docs-a", "docs", "2"), collection("faq-b", "faq", "2"), collection("x-c", "x", "1")]
    assert logic.blue_users("2", "docs", blues) == ["docs-a"]
    assert logic.blue_users("1", "docs", blues) == []
    assert logic.blue_users("2", None, blues) == []
