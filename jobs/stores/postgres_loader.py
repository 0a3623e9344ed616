"""Loader of SQL query results: a READ ONLY, repeatable-read transaction with a statement timeout.

The query text is the caller's (admin scope) and is sent as it is, through the extended protocol
(one statement, no parameters), never formatted together with any other value.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from functions.config import UpsertionConfig
from functions.errors import InvalidInput, Unavailable
from functions.records import PostgresSource, SourceBatch, SourceRecord

CONNECT_TIMEOUT_S = 10.0
# SQLSTATE classes that are the query's own fault (syntax, access, data, read-only, timeout): retrying
# cannot help. Others (connection lost, server shutting down) are retried by the runner.
QUERY_FAULTS = ("0A", "21", "22", "25", "2F", "38", "39", "42", "P0", "57014")
# Local to the transaction. The idle timeout is off because the job embeds between two fetches.
SETTINGS = """SELECT set_config('statement_timeout', $1, true),
    set_config('idle_in_transaction_session_timeout', '0', true)"""


def query_fault(exc: asyncpg.PostgresError) -> InvalidInput | None:
    """The query's own error as InvalidInput (the server's message names no other data than its own)."""
    state = str(getattr(exc, "sqlstate", "") or "")
    if state[:2] in QUERY_FAULTS or state in QUERY_FAULTS:
        return InvalidInput(f"the query failed: {exc}", field="source.query")
    return None


class PostgresLoader:
    """Reads query sources from `source.dsn`, or from the app's own database by default."""

    def __init__(self, default_dsn: str) -> None:
        self._default_dsn = default_dsn

    async def check(self, source: PostgresSource, cfg: UpsertionConfig) -> None:
        """Connect, prepare the query without running it, and find the columns the mapping needs."""
        try:
            conn = await asyncpg.connect(source.dsn or self._default_dsn, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
            if source.dsn is None:
                raise Unavailable("the database does not answer; try again shortly") from None
            # The type only: a DSN parse error may quote the DSN, password included.
            raise InvalidInput(
                f"cannot connect with source.dsn ({type(exc).__name__})", field="source.dsn"
            ) from None
        try:
            async with self._transaction(conn, cfg):
                statement = await conn.prepare(source.query)
                parameters = statement.get_parameters()
                columns = [a.name for a in statement.get_attributes()]
        except asyncpg.PostgresError as exc:
            raise InvalidInput(f"the query does not prepare: {exc}", field="source.query") from None
        finally:
            await conn.close()
        if parameters:
            raise InvalidInput("the query must not take parameters ($1, …)", field="source.query")
        missing = [name for name in source.required_fields() if name not in columns]
        if missing:
            raise InvalidInput(
                f"the query returns no column {', '.join(map(repr, missing))} (it returns {columns})",
                field="source.query",
            )

    async def batches(
        self, source: PostgresSource, cfg: UpsertionConfig
    ) -> AsyncGenerator[SourceBatch, None]:
        """Count the rows, then yield them `cfg.source_batch_size` at a time, all in one snapshot."""
        conn = await asyncpg.connect(source.dsn or self._default_dsn, timeout=CONNECT_TIMEOUT_S)
        try:
            # JSON columns as Python values, as the app's pool reads them.
            for name in ("json", "jsonb"):
                await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
            async with self._transaction(conn, cfg):
                # Counting runs the query once more, in the same snapshot: the limit is known before
                # the first write, and progress has a true total.
                total = await (await conn.cursor(source.query)).forward(cfg.max_source_items + 1)
                cursor = await conn.cursor(source.query)
                read = 0
                while rows := await cursor.fetch(cfg.source_batch_size):
                    records = [
                        SourceRecord(where=f"row {read + i}", fields=dict(r)) for i, r in enumerate(rows, 1)
                    ]
                    read += len(rows)
                    yield SourceBatch(records=records, total=total)
        except asyncpg.PostgresError as exc:
            fault = query_fault(exc)
            if fault is None:
                raise
            raise fault from None
        finally:
            await conn.close()

    @asynccontextmanager
    async def _transaction(self, conn: asyncpg.Connection, cfg: UpsertionConfig) -> AsyncIterator[None]:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            await conn.execute(SETTINGS, str(cfg.source_statement_timeout_ms))
            yield
