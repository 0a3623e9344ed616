"""The lifecycle demo through the real HTTP API: `python -m scripts.lifecycle` (what `make demo` runs)."""
