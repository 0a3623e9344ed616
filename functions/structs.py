"""Base message type shared by every stage, and the text type every free-text and id field uses."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

# Postgres text and jsonb cannot hold U+0000, and UTF-8 cannot encode a lone surrogate (U+D800-U+DFFF):
# refused at decoding, so such text never reaches a store. The pattern is in the OpenAPI schema too.
STORABLE_PATTERN = r"^[^\x00\ud800-\udfff]*$"
Text = Annotated[str, Meta(pattern=STORABLE_PATTERN, description="text without U+0000 or lone surrogates")]


class Struct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Immutable message that rejects unknown fields; subclasses restate `kw_only=True`."""


def unstorable(value: object, path: str) -> str | None:
    """The path of the first string (key or value) inside a JSON-like value that Postgres cannot
    store (U+0000 or a lone surrogate), or None; `path` names `value` itself."""
    if isinstance(value, str):
        return path if not _storable(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and not _storable(key):
                return f"{path}.{key.encode('unicode_escape').decode()}"
            found = unstorable(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = unstorable(item, f"{path}[{i}]")
            if found:
                return found
    return None


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
