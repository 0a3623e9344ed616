"""Helpers shared by the service starters in scripts/services/postgres.py and scripts/services/redis.py."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit


class ServiceError(RuntimeError):
    """A backing service could not be started, stopped or verified."""


def run(argv: Sequence[str], *, what: str) -> subprocess.CompletedProcess[str]:
    """Run a command to completion, raising ServiceError with its output when it fails."""
    # cwd="/" because the repository may be unreadable by the unprivileged user we switch to.
    proc = subprocess.run(list(argv), capture_output=True, text=True, cwd="/", check=False)
    if proc.returncode != 0:
        output = (proc.stderr or proc.stdout).strip()
        raise ServiceError(f"{what} failed (exit {proc.returncode}): {output}")
    return proc


def wait_for(check: Callable[[], bool], *, timeout_s: float, interval_s: float = 0.05) -> bool:
    """Poll `check` until it returns True or `timeout_s` passes; return its last answer."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval_s)
    return True


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, for error messages; empty if it cannot be read."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def redact(url: str) -> str:
    """The URL with any password replaced, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def same_endpoint(url: str, host: str, port: int) -> bool:
    """Whether `url` points at host:port, so an URL exported from our own services.env counts as ours."""
    parts = urlsplit(url)
    return parts.hostname in {host, "localhost"} and parts.port == port


def version_tuple(version: str) -> tuple[int, ...]:
    """'0.8.6' -> (0, 8, 6); '18.6 (Debian ...)' -> (18, 6); a component's non-numeric tail is ignored."""
    numbers = []
    for piece in version.split()[0].split(".") if version.strip() else []:
        match = re.match(r"\d+", piece)
        numbers.append(int(match.group()) if match else 0)
    return tuple(numbers)
