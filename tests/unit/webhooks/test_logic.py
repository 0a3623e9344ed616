"""Webhook signing and URL rules with literal values."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from functions.errors import InvalidInput
from functions.webhooks.logic import is_private_host, signature, signed_headers, validate_callback_url, verify

BODY = b'{"id":"t1","status":"done"}'


def test_signature_is_hmac_sha256_of_timestamp_and_body() -> None:
    # printf '1700000000.{"id":"t1","status":"done"}' | openssl dgst -sha256 -hmac s3cret
    expected = "v1=" + hmac.new(b"s3cret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signature("s3cret", 1700000000, BODY) == expected
    assert signature("s3cret", 1700000000, BODY) != signature("s3cret", 1700000001, BODY)


def test_verify_accepts_fresh_and_refuses_stale_or_tampered() -> None:
    headers = signed_headers("s3cret", 1000, BODY, "task.done")
    assert verify("s3cret", headers, BODY, now=1100, tolerance_s=300)
    lowered = {k.lower(): v for k, v in headers.items()}
    assert verify("s3cret", lowered, BODY, now=1100, tolerance_s=300)
    assert not verify("s3cret", headers, BODY, now=1400, tolerance_s=300)
    assert not verify("s3cret", headers, BODY + b"x", now=1000, tolerance_s=300)
    assert not verify("other", headers, BODY, now=1000, tolerance_s=300)
    assert not verify("s3cret", {}, BODY, now=1000, tolerance_s=300)
    assert not verify("s3cret", {**headers, "X-Embedloop-Timestamp": "soon"}, BODY, 1000, 300)


@pytest.mark.parametrize(
    ("host", "private"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("10.0.0.8", True),
        ("192.168.1.1", True),
        ("169.254.1.1", True),
        ("[::1]", True),
        ("0.0.0.0", True),
        ("api.localhost", True),
        ("8.8.8.8", False),
        ("example.com", False),
    ],
)
def test_private_hosts(host: str, private: bool) -> None:
    assert is_private_host(host) is private


def test_callback_url_rules() -> None:
    assert validate_callback_url("https://example.com/hook", allow_private=False)
    assert validate_callback_url("http://127.0.0.1:9000/hook", allow_private=True)
    for bad in ("ftp://example.com", "example.com/hook", "https://u:p@example.com/"):
        with pytest.raises(InvalidInput) as info:
            validate_callback_url(bad, allow_private=True)
        assert info.value.field == "callback_url"
    with pytest.raises(InvalidInput, match="private"):
        validate_callback_url("http://localhost/hook", allow_private=False)
