"""Schema migrations against the real database: ordered, recorded, idempotent, tamper-evident."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from functions.config import AppConfig
from jobs.stores.migrations import MigrationError, discover, migrate

pytestmark = pytest.mark.integration


async def test_all_migrations_are_recorded_and_rerun_is_a_noop(
    config: AppConfig, fresh_database: str
) -> None:
    conn = await asyncpg.connect(fresh_database)
    try:
        await migrate(conn)
        assert await migrate(conn) == []
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
    finally:
        await conn.close()
    expected = discover()
    assert [(r["version"], r["name"], r["checksum"]) for r in rows] == [
        (m.version, m.name, m.checksum) for m in expected
    ]


async def test_custom_folder_applies_in_order_and_detects_edits(tmp_path: Path, config: AppConfig) -> None:
    conn = await asyncpg.connect(config.database.url)
    schema = "migtest"
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
        await conn.execute(f"SET search_path TO {schema}")
        (tmp_path / "002_more.sql").write_text("INSERT INTO t VALUES (2);")
        (tmp_path / "001_first.sql").write_text("CREATE TABLE t (v int);")
        assert await migrate(conn, tmp_path) == ["001_first", "002_more"]
        assert await migrate(conn, tmp_path) == []
        assert await conn.fetchval("SELECT count(*) FROM t") == 1
        (tmp_path / "001_first.sql").write_text("CREATE TABLE t (v bigint);")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, tmp_path)
        (tmp_path / "001_first.sql").write_text("CREATE TABLE t (v int);")
        (tmp_path / "003_broken.sql").write_text("INSERT INTO missing_table VALUES (1);")
        with pytest.raises(asyncpg.UndefinedTableError):
            await migrate(conn, tmp_path)
        versions = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in versions] == [1, 2]  # the broken one left no trace
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()


def test_duplicate_versions_are_refused(tmp_path: Path) -> None:
    (tmp_path / "001_a.sql").write_text("SELECT 1;")
    (tmp_path / "001_b.sql").write_text("SELECT 2;")
    with pytest.raises(MigrationError, match="share version 1"):
        discover(tmp_path)
