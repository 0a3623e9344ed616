"""torch for bf16 query model files (query.bf16.pt, TorchScript): imported by name, only by a process
whose query model chose one (jobs/embedding/query_encoder.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


class TorchRunner:
    """(input_ids, attention_mask) -> the file's normalised float32 vectors, on torch's CPU kernels.
    `threads`: torch's intra-op threads for the process (embedder.torch_threads), or None to keep its
    count."""

    def __init__(self, path: Path, threads: int | None) -> None:
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            self._module = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
        except (RuntimeError, OSError, ValueError) as exc:
            raise RuntimeError(f"torch cannot load {path}: {exc}") from exc

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = self._module(torch.from_numpy(ids), torch.from_numpy(mask))
        return np.asarray(out.numpy(), dtype=np.float32)
