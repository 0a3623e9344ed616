"""Secrets come from the environment; on a laptop (env=local) missing ones are generated once."""

from __future__ import annotations

import logging
import os
import secrets
import sys
from pathlib import Path

from jobs.envfile import load_env_file

log = logging.getLogger("embedloop")

GENERATED = ("EMBEDLOOP_ADMIN_KEYS", "EMBEDLOOP_WEBHOOK_SECRET")
REQUIRED_IN_PROD = ("EMBEDLOOP_ADMIN_KEYS", "EMBEDLOOP_WEBHOOK_SECRET")


def ensure_local_secrets(data_dir: Path) -> dict[str, str]:
    """Create `.data/secrets.env` (mode 600) for unset secrets, load it, return what was generated now.

    Every process of one checkout (web, both pools, scripts) then shares the same key and signing
    secret, which a per-process random value would not give.
    """
    path = data_dir / "secrets.env"
    load_env_file(path)
    missing = [name for name in GENERATED if not os.environ.get(name)]
    if not missing:
        return {}
    data_dir.mkdir(parents=True, exist_ok=True)
    generated = {name: _token(name) for name in missing}
    lines = [f"{name}={value}" for name, value in generated.items()]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(f"{line}\n" for line in lines))
    tmp.chmod(0o600)
    with path.open("a") as out:  # append: keep anything a user already put there
        out.write(tmp.read_text())
    tmp.unlink()
    load_env_file(path)
    return generated


def require_prod_secrets() -> None:
    """Refuse to start in production without the secrets: never fall back to 'auth off'."""
    missing = [name for name in REQUIRED_IN_PROD if not os.environ.get(name)]
    if missing:
        raise RuntimeError(f"env=prod needs these environment variables set: {', '.join(missing)}")


def _token(name: str) -> str:
    prefix = "el_admin_" if name == "EMBEDLOOP_ADMIN_KEYS" else ""
    return prefix + secrets.token_urlsafe(32)


def announce_generated(generated: dict[str, str], data_dir: Path) -> None:
    """Say what this start generated, and print the admin key then only: a key read back from
    secrets.env is never printed, so it lands in one log, not in every start's."""
    for name in generated:
        log.warning("generated %s into %s", name, data_dir / "secrets.env")
    key = generated.get("EMBEDLOOP_ADMIN_KEYS")
    if key:
        print(f"embedloop: no API key configured; generated admin key: {key}", file=sys.stderr)
        print(
            f"embedloop: (stored in {data_dir}/secrets.env; set EMBEDLOOP_ADMIN_KEYS to choose)",
            file=sys.stderr,
        )
