"""The `services` config group (conf/services, conf/deployment) read into paths and ports."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir

from scripts.services.common import same_endpoint
from scripts.services.postgres import PostgresSettings
from scripts.services.redis import RedisSettings
from scripts.services.triton import TritonSettings

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    """The `services` config group, with paths made absolute."""

    data_dir: Path
    postgres: PostgresSettings
    redis: RedisSettings
    mlflow_tracking_uri: str
    mlflow_artifacts_uri: str
    triton: TritonSettings

    @property
    def env_file(self) -> Path:
        """Where `start` records the URLs for other processes."""
        return self.data_dir / "services.env"

    @property
    def test_database(self) -> str:
        """Name of the embedded test database."""
        return f"{self.postgres.database}_test"


def load_settings(overrides: Sequence[str]) -> Settings:
    """Compose conf/config.yaml with Hydra and read its `services` group."""
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides))
    svc = cfg.services
    data_dir = Path(str(svc.data_dir))
    data_dir = data_dir if data_dir.is_absolute() else REPO_ROOT / data_dir
    pg = svc.postgres
    postgres = PostgresSettings(
        str(pg.host),
        int(pg.port),
        str(pg.database),
        str(pg.user),
        str(pg.min_pgvector),
        data_dir,
        tuple((str(k), str(v)) for k, v in (pg.get("server_settings") or {}).items()),
    )
    redis_settings = RedisSettings(str(svc.redis.host), int(svc.redis.port), data_dir)
    mlflow = svc.mlflow
    tracking = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{data_dir / str(mlflow.backend_db)}"
    artifacts = os.environ.get("MLFLOW_ARTIFACTS_URI") or str(data_dir / str(mlflow.artifacts_dir))
    return Settings(
        data_dir, postgres, redis_settings, tracking, artifacts, _triton(cfg.deployment, data_dir)
    )


def _triton(deployment: Any, data_dir: Path) -> TritonSettings:
    server = deployment.server
    repository = Path(str(deployment.repository or data_dir / "triton" / "models"))
    return TritonSettings(
        host=str(server.host),
        http_port=int(server.http_port),
        grpc_port=int(server.grpc_port),
        exit_timeout_s=int(server.exit_timeout_s),
        data_dir=data_dir,
        repository=repository if repository.is_absolute() else REPO_ROOT / repository,
    )


def env_url(name: str, host: str, port: int) -> str | None:
    """The URL in environment variable `name`, unless it is unset or names our own endpoint."""
    # An URL pointing at our own endpoint (e.g. exported from services.env) is not an external service.
    url = os.environ.get(name)
    return None if not url or same_endpoint(url, host, port) else url
