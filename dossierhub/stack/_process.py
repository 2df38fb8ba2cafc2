"""Start, find and stop the processes the stack owns, by pid file only — never by name."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

__all__ = ["OwnedProcess", "free_port", "port_in_use", "wait_until"]


class OwnedProcess:
    """A daemon this stack started, recorded in ``pidfile``.

    A pid is only trusted if ``/proc/<pid>/cmdline`` still contains ``marker`` (the service's
    data dir): after a reboot or a crash the pid may belong to someone else by now.
    """

    def __init__(self, pidfile: Path, marker: str) -> None:
        self.pidfile = pidfile
        self.marker = marker
        self._child: subprocess.Popen[bytes] | None = None

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _cmdline_contains(pid, self.marker) else None

    def is_running(self) -> bool:
        return self.pid() is not None

    def start(
        self,
        argv: Sequence[str],
        *,
        log: Path,
        cwd: Path,
        env: Mapping[str, str] | None = None,
    ) -> int:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            # A new session: the daemon outlives this CLI and ignores the terminal's Ctrl-C.
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=None if env is None else dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pidfile.write_text(f"{proc.pid}\n")
        self._child = proc
        return proc.pid

    def alive(self) -> bool:
        """True while the process lives; for our own child, also right after fork, before exec."""
        if self._child is not None:
            return self._child.poll() is None
        return self.is_running()

    def stop(self, timeout_s: float = 30.0) -> bool:
        """SIGTERM, then SIGKILL after ``timeout_s``. Returns False if nothing was running."""
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return False
        _signal(pid, signal.SIGTERM)
        if not wait_until(lambda: not self._alive(pid), timeout_s):
            _signal(pid, signal.SIGKILL)
            wait_until(lambda: not self._alive(pid), 10.0)
        self.pidfile.unlink(missing_ok=True)
        return True

    def kill9(self) -> None:
        """Crash the process on purpose (crash tests): no shutdown hooks run."""
        pid = self.pid()
        if pid is not None:
            _signal(pid, signal.SIGKILL)
            wait_until(lambda: not self._alive(pid), 10.0)

    def _alive(self, pid: int) -> bool:
        # Identity was checked before signalling; now wait until the whole process is gone.
        # Neither an empty cmdline nor a zombie leader is enough: the kernel drops the memory
        # map first, and a JVM's leader thread turns zombie while its other threads are still
        # exiting and still hold the listening sockets that a restart needs free.
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return False
        except ChildProcessError:
            pass
        try:
            threads = len(os.listdir(f"/proc/{pid}/task"))
        except FileNotFoundError:
            return False
        return not (_is_zombie(pid) and threads <= 1)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _cmdline_contains(pid: int, marker: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return marker.encode() in cmdline


def _is_zombie(pid: int) -> bool:
    """True if ``pid`` is a zombie or no longer exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_until(check: Callable[[], bool], timeout_s: float, interval_s: float = 0.2) -> bool:
    """Poll ``check`` until it is true or ``timeout_s`` passes; a bounded readiness wait."""
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
