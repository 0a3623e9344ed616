"""Base message type shared by every stage."""

from __future__ import annotations

import msgspec


class Struct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Immutable message that rejects unknown fields; subclasses restate `kw_only=True`."""
