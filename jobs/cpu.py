"""The cpu worker pool: `arq jobs.cpu.WorkerSettings` (webhooks, sweeps, light stage jobs)."""

from __future__ import annotations

from jobs.worker import settings_for

# arq reads class attributes; the values come from the typed config composed once here.
WorkerSettings = type("WorkerSettings", (), settings_for("cpu"))
