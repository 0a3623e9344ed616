"""The array type records and ports pass vectors as: float32 rows (one vector, or one per row)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# One name for every vector a port carries, so records, ports and stages agree on the dtype.
Vectors = npt.NDArray[np.float32]
