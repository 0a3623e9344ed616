"""What the API shows of a task's request: bounded, credentials masked, the stored request untouched."""

from __future__ import annotations

import pytest

from functions.tasks.logic import mask_credentials, public_view, request_view
from tests.unit.tasks.test_logic import task


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        (
            "postgresql://reader:s3cret@db.example.com:5432/books",
            "postgresql://reader:***@db.example.com:5432/books",
        ),
        ("postgres://reader:p@ss@db/books", "postgres://reader:***@db/books"),
        ("postgresql://reader@db/books", "postgresql://reader@db/books"),
        ("postgresql://db/books?sslmode=require", "postgresql://db/books?sslmode=require"),
        ("host=db user=reader password=s3cret dbname=books", "host=db user=reader password=*** dbname=books"),
        ("host=db PASSWORD = 'a b\\'c' dbname=books", "host=db PASSWORD = *** dbname=books"),
        ("SELECT id, title FROM books", "SELECT id, title FROM books"),
    ],
)
def test_credentials_in_urls_and_keyword_strings_are_masked(given: str, shown: str) -> None:
    assert mask_credentials(given) == shown


def test_a_small_request_is_shown_whole() -> None:
    request = {"index": "books", "items": [{"object_id": "a", "content": "x"}], "template": None}
    assert request_view(request) == (request, False)


def test_long_lists_long_texts_and_wide_objects_are_cut() -> None:
    items = [{"object_id": f"id-{i}", "content": "y" * 500, "vector": [0.5] * 384} for i in range(2000)]
    wide = {f"k{i}": i for i in range(30)}
    shown, cut = request_view({"index": "books", "items": items, "payload": wide})
    assert cut is True
    assert [i["object_id"] for i in shown["items"]] == ["id-0", "id-1", "id-2"]
    assert shown["items"][0]["content"] == "y" * 200 + "…"
    assert shown["items"][0]["vector"] == [0.5, 0.5, 0.5]
    assert list(shown["payload"]) == [f"k{i}" for i in range(20)]
    assert shown["index"] == "books"


def test_a_loader_dsn_and_secret_named_fields_are_masked_without_counting_as_cut() -> None:
    request = {
        "index": "books",
        "source": {"type": "postgres", "query": "SELECT 1", "dsn": "postgresql://u:hunter2@db/x"},
        "options": {"password": "hunter2", "api_key": 42, "token": None},
    }
    shown, cut = request_view(request)
    assert cut is False
    assert shown["source"]["dsn"] == "postgresql://u:***@db/x"
    assert shown["options"] == {"password": "***", "api_key": "***", "token": None}
    assert "hunter2" not in repr(shown)


def test_a_password_near_the_cut_is_masked_before_it() -> None:
    text = "x" * 180 + " postgresql://u:" + "p" * 40 + "@db/x"
    shown, cut = request_view({"note": text})
    assert cut is True
    assert "pppp" not in shown["note"]


def test_public_view_keeps_the_stored_task_whole() -> None:
    stored = task(request={"object_ids": [str(i) for i in range(10)]})
    shown = public_view(stored)
    assert shown.request == {"object_ids": ["0", "1", "2"]}
    assert shown.request_truncated is True
    assert len(stored.request["object_ids"]) == 10
    assert stored.request_truncated is False
