"""DeploymentStore on Postgres: the deployments table, and a lock per model held across a deploy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import msgspec

from functions.records import Deployment, DeploymentState

COLUMNS = (
    "id, model, version, triton_model, triton_version, state, export_parity, served_parity, error, task_id, "
    "created_at, updated_at"
)


def _deployment(row: asyncpg.Record) -> Deployment:
    return msgspec.convert(dict(row), Deployment)


class PostgresDeploymentStore:
    """Rows of the deployments table; `locked` is a session advisory lock on its own connection."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    GET = f"SELECT {COLUMNS} FROM deployments WHERE id = $1"

    async def get(self, deployment_id: str) -> Deployment | None:
        """One deployment by id."""
        row = await self._pool.fetchrow(self.GET, deployment_id)
        return None if row is None else _deployment(row)

    ALL = f"SELECT {COLUMNS} FROM deployments ORDER BY model, triton_version"

    async def all(self) -> list[Deployment]:
        """Every deployment, by model and version."""
        return [_deployment(r) for r in await self._pool.fetch(self.ALL)]

    BEGIN = f"""INSERT INTO deployments (id, model, version, triton_model, triton_version, state, task_id)
        VALUES ($1, $2, $3, $4, $5, 'deploying', $6)
        ON CONFLICT (id) DO UPDATE SET state = 'deploying', task_id = EXCLUDED.task_id, error = NULL,
            export_parity = NULL, served_parity = NULL, updated_at = now()
        RETURNING {COLUMNS}"""

    async def begin(self, new: Deployment) -> Deployment:
        """Record (or restart) a deploy: state deploying."""
        row = await self._pool.fetchrow(
            self.BEGIN, new.id, new.model, new.version, new.triton_model, new.triton_version, new.task_id
        )
        assert row is not None
        return _deployment(row)

    MARK = f"""UPDATE deployments SET state = $2, export_parity = COALESCE($3, export_parity),
            served_parity = COALESCE($4, served_parity), error = $5, updated_at = now()
        WHERE id = $1 RETURNING {COLUMNS}"""

    async def mark(
        self,
        deployment_id: str,
        state: DeploymentState,
        *,
        export_parity: float | None = None,
        served_parity: float | None = None,
        error: str | None = None,
    ) -> Deployment | None:
        """Move a deployment to `state` (with its parity figures or error)."""
        row = await self._pool.fetchrow(self.MARK, deployment_id, state, export_parity, served_parity, error)
        return None if row is None else _deployment(row)

    async def remove(self, deployment_id: str) -> None:
        """Forget an undeployed version."""
        await self._pool.execute("DELETE FROM deployments WHERE id = $1", deployment_id)

    LOCK = "SELECT pg_advisory_lock(hashtextextended('deployment:' || $1, 0))"
    UNLOCK = "SELECT pg_advisory_unlock(hashtextextended('deployment:' || $1, 0))"

    @asynccontextmanager
    async def locked(self, key: str) -> AsyncIterator[None]:
        """Hold the model's lock (a deploy and an undeploy of one model never overlap). A dead holder's
        connection closes, and Postgres frees its lock with it."""
        async with self._pool.acquire() as conn:
            unlocked = False
            try:
                await conn.execute(self.LOCK, key)  # a cancelled wait may still have taken it
                yield
                await conn.execute(self.UNLOCK, key)
                unlocked = True
            finally:
                if not unlocked:
                    # Cancelled or failed: never pool a connection that may hold the lock (pools
                    # skip the reset query, jobs/stores/postgres.py); closing it frees the lock.
                    conn.terminate()
