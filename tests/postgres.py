"""A PostgreSQL cluster of its own for a test: Debian's binaries (``initdb``, ``pg_ctl``) in a
temp dir, on a free port, trust authentication on loopback; stopped and removed afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dossierhub.stack._process import free_port

__all__ = ["postgres_bindir", "postgres_cluster"]


def postgres_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` holding ``initdb``, or None."""
    found = [
        p / "bin" for p in Path("/usr/lib/postgresql").glob("*") if (p / "bin" / "initdb").exists()
    ]
    return max(found, key=lambda p: int(p.parent.name), default=None) if found else None


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """Start a cluster; yields its DSN (user ``hub``, database ``postgres``)."""
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries: run deploy/local/setup.sh")
    # initdb refuses to run as root: then the cluster runs as Debian's postgres user, in a dir
    # of its own outside pytest's root-only temp tree
    as_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="dossierhub-pg-"))
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(base, "postgres", "postgres")
    data, log, port = base / "data", base / "server.log", free_port()

    def run(*argv: str) -> None:
        done = subprocess.run(
            [*prefix, *argv], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, f"{argv[0]} failed: {done.stderr or done.stdout}"

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "hub", "--auth=trust", "-E", "UTF8")
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1"
        # -w: pg_ctl returns once the server accepts connections (bounded by -t)
        run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        try:
            yield f"postgresql://hub@127.0.0.1:{port}/postgres"
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(base, ignore_errors=True)
