"""Triton naming and config.pbtxt rendering (pure logic, literal values)."""

from __future__ import annotations

import pytest

from functions.deployment.triton_config import (
    TritonModelSettings,
    parse_served_name,
    render_config,
    served_name,
)

PYTHON_CPU = """\
name: "embedloop-docs_v2"
backend: "python"
max_batch_size: 64
version_policy: { specific: { versions: [ 2 ] } }
input [
  {
    name: "input_ids"
    data_type: TYPE_INT64
    dims: [ -1 ]
  },
  {
    name: "attention_mask"
    data_type: TYPE_INT64
    dims: [ -1 ]
  }
]
output [
  {
    name: "embedding__0"
    data_type: TYPE_FP32
    dims: [ 384 ]
  }
]
dynamic_batching {
  preferred_batch_size: [ 16, 64 ]
  max_queue_delay_microseconds: 2000
}
instance_group [
  {
    kind: KIND_CPU
    count: 1
  }
]
parameters: {
  key: "torch_threads"
  value: { string_value: "1" }
}
"""


def test_python_backend_on_cpu_renders_exactly() -> None:
    settings = TritonModelSettings(
        name="embedloop-docs_v2",
        version=2,
        dim=384,
        preferred_batch_sizes=(64, 16, 16),
        max_queue_delay_us=2000,
    )
    assert render_config(settings) == PYTHON_CPU


def test_libtorch_on_gpu() -> None:
    text = render_config(
        TritonModelSettings(
            name="m_v1", version=1, dim=768, backend="libtorch", instance_kind="gpu", instance_count=2
        )
    )
    assert text.startswith('name: "m_v1"\nplatform: "pytorch_libtorch"\nmax_batch_size: 64\n')
    assert "backend:" not in text
    assert "kind: KIND_GPU\n    count: 2" in text
    assert "dims: [ 768 ]" in text
    assert "dynamic_batching {\n  max_queue_delay_microseconds: 0\n}" in text
    assert '"INFERENCE_MODE"' in text
    assert "torch_threads" not in text


def test_preferred_sizes_must_fit_max_batch() -> None:
    settings = TritonModelSettings(
        name="m_v1", version=1, dim=8, max_batch_size=8, preferred_batch_sizes=(16,)
    )
    with pytest.raises(ValueError, match="preferred batch sizes"):
        render_config(settings)


def test_one_triton_model_per_version() -> None:
    assert served_name("embedloop-docs", 3) == "embedloop-docs_v3"
    assert parse_served_name("embedloop-docs_v3") == ("embedloop-docs", 3)
    assert parse_served_name("a_v1_v12") == ("a_v1", 12)
    assert parse_served_name("other-model") is None
    assert parse_served_name(".tmp-x_v1-abcd") is None


@pytest.mark.parametrize("bad", ["", "has space", "../up", "a/b", "-lead", "x" * 121])
def test_names_triton_and_folders_cannot_carry_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid Triton model name"):
        served_name(bad, 1)


def test_version_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        served_name("m", 0)
