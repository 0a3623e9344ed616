"""The gpu worker pool: `arq jobs.gpu.WorkerSettings` (embedding, training, reindex batches)."""

from __future__ import annotations

from jobs.worker import settings_for

# arq reads class attributes; the values come from the typed config composed once here.
WorkerSettings = type("WorkerSettings", (), settings_for("gpu"))
