"""Apply the ordered SQL files in jobs/migrations once each, recorded with their checksums."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Any constant works; it only has to be the same in every process that migrates.
LOCK_KEY = 0x656D6264

CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""
SELECT_APPLIED = "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
INSERT_APPLIED = "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """Content hash: an applied file must never change afterwards."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    """An applied migration was edited, or two files share a version."""


def discover(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Migrations in version order, from files named NNN_name.sql."""
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        prefix, _, name = path.stem.partition("_")
        version = int(prefix)
        if version in found:
            raise MigrationError(f"two migrations share version {version}")
        found[version] = Migration(version, name, path.read_text())
    return [found[v] for v in sorted(found)]


@asynccontextmanager
async def schema_lock(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """Hold the schema's advisory lock: processes booting together change the schema one at a time."""
    # A session lock is re-entrant (a holder may take it again), so callers can nest it.
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


async def migrate(conn: asyncpg.Connection, folder: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations in one transaction each; safe to run concurrently and twice."""
    applied_now: list[str] = []
    async with schema_lock(conn):
        await conn.execute(CREATE_LEDGER)
        applied = {r["version"]: r for r in await conn.fetch(SELECT_APPLIED)}
        for mig in discover(folder):
            if mig.version in applied:
                if applied[mig.version]["checksum"] != mig.checksum:
                    raise MigrationError(f"migration {mig.version}_{mig.name} changed after it was applied")
                continue
            async with conn.transaction():
                await conn.execute(mig.sql)
                await conn.execute(INSERT_APPLIED, mig.version, mig.name, mig.checksum)
            applied_now.append(f"{mig.version:03d}_{mig.name}")
    return applied_now
