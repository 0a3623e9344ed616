"""The lifecycle's measurements skip a query the API refuses, count it by reason, and go on."""

from __future__ import annotations

import httpx
import pytest

from scripts.lifecycle.api_client import Api, ApiError, Skipped
from scripts.lifecycle.steps import runs_of


def api_answering(refuse: str, status: int) -> Api:
    """The real client over a transport that refuses one query with `status` and answers the rest."""

    def answer(request: httpx.Request) -> httpx.Response:
        if refuse.encode() in request.content:
            problem = {"status": status, "field": "query", "detail": "refused"}
            return httpx.Response(status, json=problem, headers={"content-type": "application/problem+json"})
        return httpx.Response(200, json={"hits": [{"object_id": "d1"}]})

    api = Api("http://api", "key")
    api.http = httpx.Client(base_url="http://api", transport=httpx.MockTransport(answer))
    return api


def test_a_refused_query_is_skipped_and_counted_by_status_and_field() -> None:
    skipped = Skipped()
    queries = {"q1": "wing flutter", "q2": "x" * 50, "q3": "boundary layer"}
    runs = runs_of(api_answering("x" * 50, 422), "books", queries, skipped)
    assert runs == {"q1": ["d1"], "q3": ["d1"]}
    assert skipped.reasons == {"422 query": 1}
    assert skipped.queries == ["q2"]
    assert skipped.summary() == "1 searches skipped, by reason {'422 query': 1}; queries ['q2']"


def test_an_outage_is_not_skipped() -> None:
    with pytest.raises(ApiError, match="503") as caught:
        runs_of(api_answering("wing", 503), "books", {"q1": "wing flutter"}, Skipped())
    assert not caught.value.refused


def test_nothing_skipped_says_so() -> None:
    assert Skipped().summary() == "no query skipped"
    assert Skipped().count == 0
