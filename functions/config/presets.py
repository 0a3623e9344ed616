"""A fine-tuning preset with a request's overrides laid over it: read by fine-tuning, which trains with
it, and by the autopilot, which checks a policy's preset and overrides when the policy is set."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from functions.config.fine_tuning import FineTuningPreset
from functions.errors import InvalidInput

if TYPE_CHECKING:
    from functions.config import AppConfig

_PATH = re.compile(r"at `\$\.?([^`]*)`")
_UNKNOWN = re.compile(r"unknown field `([^`]*)`")


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` laid over it; nested tables (search_space) merge key by key."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve_preset(config: AppConfig, name: str, overrides: Mapping[str, Any] | None) -> FineTuningPreset:
    """The named preset with `overrides` applied, validated as a whole: an unknown key or a bad value
    is InvalidInput naming "overrides.<key>" (dotted for nested keys)."""
    preset = config.fine_tuning.presets.get(name)
    if preset is None:
        raise InvalidInput(f"unknown preset {name!r}", field="preset")
    if not overrides:
        return preset
    merged = _merge(msgspec.to_builtins(preset), overrides)
    try:
        return msgspec.convert(merged, FineTuningPreset)
    except msgspec.ValidationError as exc:
        message = str(exc)
        path = _PATH.search(message)
        unknown = _UNKNOWN.search(message)
        parts = [path.group(1) if path else "", unknown.group(1) if unknown else ""]
        key = re.sub(r"\[\d+\]", "", ".".join(p for p in parts if p)) or next(iter(overrides))
        raise InvalidInput(f"bad override: {message}", field=f"overrides.{key}") from exc
