"""Pure rules of deployment: names and ids, and when a version may leave the server."""

from __future__ import annotations

import re
from collections.abc import Iterable

from functions.errors import InvalidInput
from functions.records import Collection

_TRITON_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def deployment_id(model: str, version: str) -> str:
    """The id a deployment is known by in the API: "<model>@<version>"."""
    return f"{model}@{version}"


def parse_id(deployment: str) -> tuple[str, str]:
    """(model, version) of "<model>@<version>"; a malformed id is a 400 naming `deployment_id`."""
    model, sep, version = deployment.rpartition("@")
    if not sep or not model or not version.isdigit() or version.startswith("0"):
        raise InvalidInput(
            "a deployment id reads <model>@<version>, e.g. embedloop-docs@2", field="deployment_id"
        )
    return model, version


def triton_name(model: str) -> str:
    """The model's name in Triton's repository (letters, digits, '_' and '-' only)."""
    return _TRITON_UNSAFE.sub("_", model)


def index_of(model: str, prefix: str) -> str | None:
    """The index a registered model belongs to ("<prefix><index>"), or None for another model."""
    return model[len(prefix) :] if model.startswith(prefix) and len(model) > len(prefix) else None


def blue_users(model_version: str, index: str | None, blues: Iterable[Collection]) -> list[str]:
    """Ids of the blue collections that embed with this version of the index's model."""
    return [
        c.id
        for c in blues
        if index is not None and c.index_name == index and c.model_version == model_version
    ]
