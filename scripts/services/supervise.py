"""Run Procfile processes and restart any that dies, with backoff (`make up`); honcho stops them all.

Usage: python -m scripts.services.supervise [-f Procfile] [-e .data/services.env] [name ...]

Each process runs in its own session under /bin/sh, its output prefixed with its name. A process that
exits is started again after 1, 2, 4 ... up to --max-backoff seconds (back to 1 once it stayed up
--healthy seconds). SIGINT/SIGTERM go to every process group; whatever still runs after --grace
seconds is killed, then the supervisor exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from jobs.envfile import parse_env_file


def parse_procfile(text: str) -> dict[str, str]:
    """`name: command` lines, in order; blank lines and `#` comments are skipped."""
    processes: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, command = line.partition(":")
        if not sep or not name.strip() or not command.strip():
            raise ValueError(f"Procfile line {number} is not `name: command`: {raw!r}")
        processes[name.strip()] = command.strip()
    return processes


def restart_delay(failures: int, uptime_s: float, base_s: float, cap_s: float, healthy_s: float) -> float:
    """Seconds to wait before starting a process again: doubling per quick exit, reset after a healthy run."""
    if uptime_s >= healthy_s:
        return base_s
    return float(min(cap_s, base_s * 2 ** max(0, failures - 1)))


class Supervisor:
    """Keeps each named command running until told to stop."""

    def __init__(self, commands: dict[str, str], env: dict[str, str], args: argparse.Namespace) -> None:
        self.commands, self.env, self.args = commands, env, args
        self.stopping = asyncio.Event()
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self.width = max(len(name) for name in [*commands, "system"])

    def say(self, name: str, text: str) -> None:
        """One prefixed line on stdout, honcho style."""
        sys.stdout.write(f"{time.strftime('%H:%M:%S')} {name.ljust(self.width)} | {text}\n")
        sys.stdout.flush()

    async def keep(self, name: str) -> None:
        """Run `name` again and again until stopping."""
        failures = 0
        while not self.stopping.is_set():
            began = time.monotonic()
            proc = await asyncio.create_subprocess_shell(
                self.commands[name],
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=self.env,
                start_new_session=True,  # its own process group: a signal reaches the shell's children
                limit=1 << 20,  # a long log line (a traceback with locals) must not break the reader
            )
            self.procs[name] = proc
            self.say("system", f"{name} started (pid {proc.pid})")
            assert proc.stdout is not None
            async for line in proc.stdout:
                self.say(name, line.decode(errors="replace").rstrip())
            code = await proc.wait()
            if self.stopping.is_set():
                self.say("system", f"{name} stopped (exit {code})")
                return
            uptime = time.monotonic() - began
            failures = 1 if uptime >= self.args.healthy else failures + 1
            delay = restart_delay(failures, uptime, 1.0, self.args.max_backoff, self.args.healthy)
            self.say("system", f"{name} exited with {code} after {uptime:.1f} s; restarting in {delay:.0f} s")
            try:
                await asyncio.wait_for(self.stopping.wait(), delay)
            except TimeoutError:
                continue

    def signal_all(self, signum: int) -> None:
        """Send `signum` to every running process group."""
        for proc in self.procs.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):  # it just exited
                    os.killpg(proc.pid, signum)

    def stop(self, signum: int) -> None:
        """SIGINT/SIGTERM: stop restarting and pass the signal on."""
        self.say("system", f"{signal.Signals(signum).name} received: stopping every process")
        self.stopping.set()
        self.signal_all(signum)

    async def run(self) -> int:
        """Start everything, restart what dies, return 0 once told to stop and all have exited."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stop, signum)
        keepers = [asyncio.create_task(self.keep(name)) for name in self.commands]
        await self.stopping.wait()
        _, pending = await asyncio.wait(keepers, timeout=self.args.grace)
        if pending:
            self.say("system", f"still running after {self.args.grace:.0f} s: killing")
            self.signal_all(signal.SIGKILL)
            await asyncio.wait(pending)
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, read the Procfile and the env file, supervise."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("names", nargs="*", help="processes to run (default: every Procfile line)")
    parser.add_argument("-f", "--procfile", type=Path, default=Path("Procfile"))
    parser.add_argument("-e", "--env", type=Path, action="append", default=[], help="env file (repeatable)")
    parser.add_argument("--max-backoff", type=float, default=30.0, help="longest wait before a restart (s)")
    parser.add_argument("--healthy", type=float, default=30.0, help="uptime that resets the backoff (s)")
    parser.add_argument(
        "--grace", type=float, default=20.0, help="wait after a stop signal before SIGKILL (s)"
    )
    args = parser.parse_args(argv)
    every = parse_procfile(args.procfile.read_text())
    unknown = [name for name in args.names if name not in every]
    if unknown:
        parser.error(f"not in {args.procfile}: {', '.join(unknown)}")
    env = dict(os.environ)
    for path in args.env:
        if path.exists():
            env = {**parse_env_file(path.read_text()), **env}  # the caller's environment wins
    commands = {name: every[name] for name in args.names or every}
    return asyncio.run(Supervisor(commands, env, args).run())


if __name__ == "__main__":
    sys.exit(main())
