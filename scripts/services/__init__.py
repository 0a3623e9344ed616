"""Backing services (PostgreSQL, Redis, MLflow, Triton): `python -m scripts.services start|status|stop`."""
