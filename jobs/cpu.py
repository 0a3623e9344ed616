"""The cpu worker pool (webhooks, sweeps, light stage jobs): `python -m jobs.cpu` (jobs.serve)."""

from __future__ import annotations

from jobs.worker import settings_for

# arq reads class attributes; the values come from the typed config composed once here.
WorkerSettings = type("WorkerSettings", (), settings_for("cpu"))

if __name__ == "__main__":
    from jobs.serve import main

    main("cpu")
