"""The generic Triton python-backend model: serves the TorchScript `model.pt` beside it, on CPU.

Copied as `model.py` into each version folder by jobs/triton/repository.py and run by Triton's python
stub with the Triton venv's python (which has torch). It imports nothing from embedloop: it must run
alone in that process, and embedloop never imports it (this folder is not a Python package).
"""

# mypy: ignore-errors
from __future__ import annotations

import json
import os

import numpy as np
import torch
import triton_python_backend_utils as pb_utils

INPUTS = ("input_ids", "attention_mask")
OUTPUT = "embedding__0"


class TritonPythonModel:
    """Loads model.pt once per instance; each execute runs its requests as one padded batch."""

    def initialize(self, args: dict) -> None:
        """Load the TorchScript file of this version."""
        config = json.loads(args["model_config"])
        threads = config.get("parameters", {}).get("torch_threads", {}).get("string_value", "1")
        torch.set_num_threads(int(threads))
        folder = os.path.join(args["model_repository"], args["model_version"])
        self.model = torch.jit.load(os.path.join(folder, "model.pt"), map_location="cpu").eval()

    def execute(self, requests: list) -> list:
        """Embed every request: pad all to the longest sequence (masked pooling ignores the padding)."""
        ids, masks = [], []
        for request in requests:
            ids.append(pb_utils.get_input_tensor_by_name(request, INPUTS[0]).as_numpy())
            masks.append(pb_utils.get_input_tensor_by_name(request, INPUTS[1]).as_numpy())
        width = max(a.shape[1] for a in ids)
        sizes = [a.shape[0] for a in ids]
        input_ids = np.concatenate([np.pad(a, ((0, 0), (0, width - a.shape[1]))) for a in ids])
        mask = np.concatenate([np.pad(a, ((0, 0), (0, width - a.shape[1]))) for a in masks])
        with torch.inference_mode():
            out = self.model(torch.from_numpy(input_ids), torch.from_numpy(mask)).numpy()
        responses, start = [], 0
        for size in sizes:
            part = np.ascontiguousarray(out[start : start + size], dtype=np.float32)
            tensor = pb_utils.Tensor(OUTPUT, part)
            responses.append(pb_utils.InferenceResponse(output_tensors=[tensor]))
            start += size
        return responses

    def finalize(self) -> None:
        """Drop the model."""
        self.model = None
