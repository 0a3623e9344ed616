"""Triton naming and config.pbtxt rendering: pure logic, no I/O (the repository adapter writes it).

One Triton model per version (`<model>_v<version>`, holding the single version folder `<version>`):
in explicit model control Triton unloads a model with all its versions, and adding a version folder
changes the model so that every loaded version reloads. A model per version gives each version a load
and unload of its own, so blue and green serve side by side without touching each other.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from msgspec import Meta

from functions.structs import Struct

INPUTS = ("input_ids", "attention_mask")
# libtorch names outputs <name>__<index>; the python backend uses the same name so clients never differ.
OUTPUT = "embedding__0"
_NAME = re.compile(r"^(?P<model>[A-Za-z0-9][A-Za-z0-9_.-]*)_v(?P<version>[0-9]+)$")
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,119}$")


class TritonModelSettings(Struct, frozen=True, kw_only=True):
    """What one version's config.pbtxt says."""

    name: str  # Triton's model name (served_name of the version)
    version: Annotated[int, Meta(ge=1)]
    dim: Annotated[int, Meta(ge=1)]
    backend: Literal["python", "libtorch"] = "python"
    max_batch_size: Annotated[int, Meta(ge=1)] = 64
    preferred_batch_sizes: tuple[int, ...] = ()
    max_queue_delay_us: Annotated[int, Meta(ge=0)] = 0
    instance_kind: Literal["cpu", "gpu"] = "cpu"
    instance_count: Annotated[int, Meta(ge=1)] = 1
    torch_threads: Annotated[int, Meta(ge=1)] = 1


def check_model_name(model: str) -> str:
    """The model name, if Triton and a folder name can both carry it; else ValueError."""
    if not _MODEL.match(model):
        raise ValueError(f"invalid Triton model name {model!r}: letters, digits, '_', '.', '-' only")
    return model


def served_name(model: str, version: int) -> str:
    """Triton's name of one version of `model`: `<model>_v<version>`."""
    if version < 1:
        raise ValueError(f"version must be >= 1, got {version}")
    return f"{check_model_name(model)}_v{version}"


def parse_served_name(name: str) -> tuple[str, int] | None:
    """(model, version) of a name made by served_name; None for any other Triton model."""
    match = _NAME.match(name)
    return (match["model"], int(match["version"])) if match else None


def render_config(s: TritonModelSettings) -> str:
    """config.pbtxt text for one version."""
    if any(size < 1 or size > s.max_batch_size for size in s.preferred_batch_sizes):
        raise ValueError(f"preferred batch sizes {s.preferred_batch_sizes} must lie in 1..{s.max_batch_size}")
    head = 'backend: "python"\n' if s.backend == "python" else 'platform: "pytorch_libtorch"\n'
    inputs = ",\n".join(
        f'  {{\n    name: "{name}"\n    data_type: TYPE_INT64\n    dims: [ -1 ]\n  }}' for name in INPUTS
    )
    sizes = ", ".join(str(size) for size in sorted(set(s.preferred_batch_sizes)))
    batching = (
        f"  preferred_batch_size: [ {sizes} ]\n" if sizes else ""
    ) + f"  max_queue_delay_microseconds: {s.max_queue_delay_us}\n"
    kind = "KIND_CPU" if s.instance_kind == "cpu" else "KIND_GPU"
    parameters = (
        'parameters: {\n  key: "torch_threads"\n  value: { string_value: "'
        + str(s.torch_threads)
        + '" }\n}\n'
        if s.backend == "python"
        else 'parameters: {\n  key: "INFERENCE_MODE"\n  value: { string_value: "true" }\n}\n'
    )
    return (
        f'name: "{s.name}"\n'
        f"{head}"
        f"max_batch_size: {s.max_batch_size}\n"
        f"version_policy: {{ specific: {{ versions: [ {s.version} ] }} }}\n"
        f"input [\n{inputs}\n]\n"
        f'output [\n  {{\n    name: "{OUTPUT}"\n    data_type: TYPE_FP32\n    dims: [ {s.dim} ]\n  }}\n]\n'
        f"dynamic_batching {{\n{batching}}}\n"
        f"instance_group [\n  {{\n    kind: {kind}\n    count: {s.instance_count}\n  }}\n]\n"
        f"{parameters}"
    )
