"""Secrets come from the environment; on a laptop (env=local) missing ones are generated once."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from functions.config import AppConfig
from jobs.envfile import load_env_file, parse_env_file

GENERATED = ("EMBEDLOOP_ADMIN_KEYS", "EMBEDLOOP_WEBHOOK_SECRET")
REQUIRED_IN_PROD = ("EMBEDLOOP_ADMIN_KEYS", "EMBEDLOOP_WEBHOOK_SECRET")


def ensure_local_secrets(data_dir: Path) -> list[str]:
    """Create `.data/secrets.env` (mode 600) for unset secrets, load it, return what was generated.

    Every process of one checkout (web, both pools, scripts) then shares the same key and signing
    secret, which a per-process random value would not give.
    """
    path = data_dir / "secrets.env"
    load_env_file(path)
    missing = [name for name in GENERATED if not os.environ.get(name)]
    if not missing:
        return []
    data_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"{name}={_token(name)}" for name in missing]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(f"{line}\n" for line in lines))
    tmp.chmod(0o600)
    with path.open("a") as out:  # append: keep anything a user already put there
        out.write(tmp.read_text())
    tmp.unlink()
    load_env_file(path)
    return missing


def require_prod_secrets() -> None:
    """Refuse to start in production without the secrets: never fall back to 'auth off'."""
    missing = [name for name in REQUIRED_IN_PROD if not os.environ.get(name)]
    if missing:
        raise RuntimeError(f"env=prod needs these environment variables set: {', '.join(missing)}")


def _token(name: str) -> str:
    prefix = "el_admin_" if name == "EMBEDLOOP_ADMIN_KEYS" else ""
    return prefix + secrets.token_urlsafe(32)


def generated_admin_key(config: AppConfig) -> str | None:
    """The admin key in force when it is one we generated (env=local), so start-up can print it."""
    if config.env != "local":
        return None
    path = Path(config.data_dir) / "secrets.env"
    stored = parse_env_file(path.read_text()).get("EMBEDLOOP_ADMIN_KEYS") if path.exists() else None
    return stored if stored and stored in config.api.admin_keys else None
