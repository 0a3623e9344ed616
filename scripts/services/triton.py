"""Triton: use TRITON_URL when it answers, else run the tritonserver bundled in nvidia-pytriton.

The bundled server runs from its own virtualenv (`.venv-triton`: nvidia-pytriton pins numpy<2, and the
python backend's stub runs model.py with that venv's python, which has torch). Explicit model control,
loopback only; the deployment stage loads and unloads versions through the repository API.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from scripts.services.common import ServiceError, tail, wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV = REPO_ROOT / ".venv-triton"
STUB_PYTHON = "3.11"  # the stub matching the Triton venv's python
SERVER_FLAGS = REPO_ROOT / "triton" / "server.yaml"


@dataclass(frozen=True)
class TritonSettings:
    """Where our own server listens, what it serves, and where it keeps its pidfile and log."""

    host: str
    http_port: int
    grpc_port: int
    exit_timeout_s: int
    data_dir: Path
    repository: Path
    venv: Path = VENV

    @property
    def http_url(self) -> str:
        """HTTP endpoint of our own server."""
        return f"http://{self.host}:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        """gRPC endpoint of our own server (host:port, as tritonclient wants it)."""
        return f"{self.host}:{self.grpc_port}"

    @property
    def pidfile(self) -> Path:
        """PID of the server we started."""
        return self.data_dir / "triton.pid"

    @property
    def log_file(self) -> Path:
        """Server log."""
        return self.data_dir / "triton.log"

    @property
    def backends(self) -> Path:
        """Our backend folder: python/ with links into the bundle (its own folder lacks the stub)."""
        return self.data_dir / "triton" / "backends"


def live(http_url: str, timeout_s: float = 2.0) -> bool:
    """Whether a Triton server at `http_url` says it is live."""
    try:
        with urllib.request.urlopen(f"{http_url.rstrip('/')}/v2/health/live", timeout=timeout_s) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def our_pid(settings: TritonSettings) -> int | None:
    """PID of the server we started, if its pidfile names a live tritonserver."""
    try:
        pid = int(settings.pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"tritonserver" in cmdline else None


def _bundle(settings: TritonSettings) -> Path:
    python = settings.venv / "bin" / "python"
    if not python.exists():
        raise ServiceError(f"{settings.venv} is missing: run `make venv` (it installs nvidia-pytriton)")
    lib = subprocess.run(
        [str(python), "-c", "import pytriton, pathlib; print(pathlib.Path(pytriton.__file__).parent)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if lib.returncode != 0:
        raise ServiceError(f"nvidia-pytriton is not installed in {settings.venv}: {lib.stderr.strip()}")
    return Path(lib.stdout.strip())


def _backends(settings: TritonSettings, bundle: Path) -> Path:
    folder = settings.backends / "python"
    folder.mkdir(parents=True, exist_ok=True)
    links = {
        "libtriton_python.so": bundle / "tritonserver/backends/python/libtriton_python.so",
        "triton_python_backend_utils.py": bundle
        / "tritonserver/backends/python/triton_python_backend_utils.py",
        "triton_python_backend_stub": bundle / f"tritonserver/python_backend_stubs/{STUB_PYTHON}/"
        "triton_python_backend_stub",
    }
    for name, target in links.items():
        link = folder / name
        if link.is_symlink() and link.resolve() == target.resolve():
            continue
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    return settings.backends


def _environment(settings: TritonSettings, bundle: Path) -> dict[str, str]:
    python = settings.venv / "bin" / "python"
    libdir = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    env = dict(os.environ)
    # The stub finds its python as `python3` on PATH (PYTHONPATH is ignored) and needs libpython.
    env["PATH"] = f"{settings.venv / 'bin'}:{env.get('PATH', '')}"
    libs = [libdir, str(bundle.parent / "nvidia_pytriton.libs"), env.get("LD_LIBRARY_PATH", "")]
    env["LD_LIBRARY_PATH"] = ":".join(p for p in libs if p)
    env.pop("PYTHONPATH", None)
    return env


def server_flags(path: Path = SERVER_FLAGS) -> list[str]:
    """The machine-independent tritonserver flags of triton/server.yaml, as `--key=value`."""
    flags = OmegaConf.to_container(OmegaConf.load(path))
    if not isinstance(flags, dict):
        raise ServiceError(f"{path} must map tritonserver flag names to values")
    argv = []
    for key, value in flags.items():
        # YAML booleans come back as Python's True/False; tritonserver reads true/false.
        text = str(value).lower() if isinstance(value, bool) else str(value)
        argv.append(f"--{key!s}={text}")
    return argv


def command(settings: TritonSettings, bundle: Path, backends: Path) -> list[str]:
    """tritonserver's argv: triton/server.yaml's flags, then this machine's paths and loopback ports."""
    return [
        str(bundle / "tritonserver" / "bin" / "tritonserver"),
        f"--model-repository={settings.repository}",
        *server_flags(),
        f"--exit-timeout-secs={settings.exit_timeout_s}",
        f"--backend-directory={backends}",
        f"--http-address={settings.host}",
        f"--http-port={settings.http_port}",
        f"--grpc-address={settings.host}",
        f"--grpc-port={settings.grpc_port}",
    ]


def start_own(settings: TritonSettings) -> str:
    """Start our server unless one already answers on its port; return what was done."""
    if live(settings.http_url):
        return "already running" if our_pid(settings) else "already answering (not started by us), using it"
    bundle = _bundle(settings)
    backends = _backends(settings, bundle)
    settings.repository.mkdir(parents=True, exist_ok=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.log_file, "ab") as log:
        proc = subprocess.Popen(
            command(settings, bundle, backends),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_environment(settings, bundle),
            cwd="/",
            start_new_session=True,  # survives the `services start` process, like a daemon
        )
    settings.pidfile.write_text(f"{proc.pid}\n")
    if not wait_for(lambda: live(settings.http_url) or proc.poll() is not None, timeout_s=60, interval_s=0.1):
        proc.kill()
    if proc.poll() is not None or not live(settings.http_url):
        settings.pidfile.unlink(missing_ok=True)
        raise ServiceError(
            f"tritonserver did not become live on {settings.http_url}\n{tail(settings.log_file)}"
        )
    return "started bundled tritonserver"


def stop_own(settings: TritonSettings) -> str:
    """Stop the server we started (SIGTERM, then SIGKILL after its exit timeout); never a foreign one."""
    pid = our_pid(settings)
    if pid is None:
        settings.pidfile.unlink(missing_ok=True)
        return "foreign server left running" if live(settings.http_url) else "not running"
    os.kill(pid, signal.SIGTERM)
    if not wait_for(lambda: not _running(pid), timeout_s=settings.exit_timeout_s + 5, interval_s=0.1):
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not _running(pid), timeout_s=5)
    settings.pidfile.unlink(missing_ok=True)
    return "stopped"


def _running(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child (start and stop in one process)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def run_foreground(settings: TritonSettings) -> None:
    """Replace this process by tritonserver (the Procfile's `triton` line: honcho supervises it)."""
    if live(settings.http_url):
        raise ServiceError(f"a Triton server already answers on {settings.http_url}")
    bundle = _bundle(settings)
    argv = command(settings, bundle, _backends(settings, bundle))
    settings.repository.mkdir(parents=True, exist_ok=True)
    os.execve(argv[0], argv, _environment(settings, bundle))


def main() -> int:
    """`python -m scripts.services.triton [hydra overrides]`: run our tritonserver in the foreground."""
    from scripts.services.settings import load_settings  # settings imports this module

    try:
        run_foreground(load_settings(sys.argv[1:]).triton)
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
