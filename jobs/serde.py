"""arq serialisation with msgspec msgpack: small, fast, and never pickle."""

from __future__ import annotations

from typing import Any

import msgspec

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder()


def serialize(obj: dict[str, Any]) -> bytes:
    """Encode an arq job or result envelope."""
    return _encoder.encode(obj)


def deserialize(data: bytes) -> dict[str, Any]:
    """Decode an arq job or result envelope."""
    decoded = _decoder.decode(data)
    assert isinstance(decoded, dict)
    return decoded
