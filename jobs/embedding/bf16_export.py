"""The bf16 query model file: the encoder with its matrix products in bfloat16, traced to TorchScript.

Only the Linear layers change: their weights are stored as bf16 and their inputs cast to bf16, with
float32 outputs, so layer norms, softmax, pooling and normalisation stay float32 (what torch's CPU
autocast does, baked into the file). On CPUs with native bf16 (AVX512-BF16, AMX) the products run
several times faster than float32 and stay within 1e-4 cosine of it on MiniLM; elsewhere they are
slower, so the export only tries this where the CPU has it, and keeps it only where it measured faster.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import torch

from jobs.triton.export import Encoder
from jobs.triton.tokenizer import BatchTokenizer


class Bf16Linear(torch.nn.Module):
    """A Linear layer whose product runs in bf16 and whose output is float32."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(linear.weight.detach().to(torch.bfloat16), requires_grad=False)
        bias = linear.bias
        self.bias = None if bias is None else torch.nn.Parameter(bias.detach().to(torch.bfloat16), False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        product = torch.nn.functional.linear(x.to(torch.bfloat16), self.weight, self.bias)
        return product.to(torch.float32)


def native_bf16() -> bool:
    """Whether torch's CPU kernels have native bf16 here (oneDNN on AVX512-BF16 or AMX)."""
    try:
        available = torch.backends.mkldnn.is_available()  # type: ignore[no-untyped-call]
        return bool(available and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a private probe: a build without it has no fast bf16
        return False


def _bf16_products(module: torch.nn.Module) -> torch.nn.Module:
    for name, child in module.named_children():
        if isinstance(child, torch.nn.Linear):
            setattr(module, name, Bf16Linear(child))
        else:
            _bf16_products(child)
    return module


def write_bf16(model: Any, pooling: str, tokenizer: BatchTokenizer, path: Path) -> None:
    """Trace `model`'s encoder with bf16 products, freeze it (weights become constants: CPU only) and
    save it to `path`; the caller's model is not changed."""
    transformer = _bf16_products(copy.deepcopy(model[0].auto_model)).eval()
    encoder = Encoder(transformer, pooling).eval()
    # Example inputs of two lengths with padding, so the trace keeps the masking path general.
    ids, mask = tokenizer.encode(["a short text", "a somewhat longer text with more tokens in it"])
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # jit.trace's deprecation and tracer warnings
        example = (torch.from_numpy(ids), torch.from_numpy(mask))
        traced = torch.jit.trace(encoder, example, check_trace=False)  # type: ignore[no-untyped-call]
        frozen = torch.jit.freeze(traced.eval())
    torch.jit.save(frozen, str(path))
