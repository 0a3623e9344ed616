"""ONNX Runtime for query model files (.onnx): no torch, so a web process can embed queries without it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort


def session(path: Path, threads: int) -> Any:
    """An ORT CPU session: `threads` intra-op threads, one inter-op, sequential, all graph optimisations
    (RuntimeError when the file cannot be loaded)."""
    options = ort.SessionOptions()
    # Sequential with one inter-op thread: a query graph is a chain, and the process's other pools
    # (torch, the event loop) share the same few cores.
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle intra-op threads sleep instead of spinning: a spinning thread burns a core between queries
    # that Postgres and the event loop need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT's own error types (a private module's) derive from Exception only
        raise RuntimeError(f"ONNX Runtime cannot load {path}: {exc}") from exc


class OnnxRunner:
    """(input_ids, attention_mask) -> the file's normalised vectors, on an ORT session."""

    def __init__(self, path: Path, threads: int) -> None:
        self._session = session(path, threads)

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out: np.ndarray = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return out
