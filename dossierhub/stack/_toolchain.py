"""What the stack needs from the machine: Java, Maven and artifacts from Maven Central."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from dossierhub.errors import MissingDependencyError, ServiceError

__all__ = ["find_java", "java_major", "maven_fetch", "newest_jdk"]

_JVM_ROOT = Path("/usr/lib/jvm")


def find_java(java: str) -> str:
    path = shutil.which(java)
    if path is None:
        raise MissingDependencyError(
            f"Java not found ({java!r})",
            hint="apt-get install openjdk-17-jre-headless, or set DOSSIERHUB_JAVA",
        )
    return path


def java_major(java: str) -> int:
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        raise MissingDependencyError(f"cannot run {java}: {exc}") from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise MissingDependencyError(f"cannot tell the version of {java}: {out.stderr.strip()}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def newest_jdk(minimum: int) -> str | None:
    """The newest ``java`` under /usr/lib/jvm of at least ``minimum``, if any."""
    best: tuple[int, str] | None = None
    for candidate in sorted(_JVM_ROOT.glob("*/bin/java")):
        if candidate.parent.parent.is_symlink():
            continue
        try:
            major = java_major(str(candidate))
        except MissingDependencyError:
            continue
        if major >= minimum and (best is None or major > best[0]):
            best = (major, str(candidate))
    return best[1] if best else None


def maven_fetch(pom: Path, output_dir: Path, extra_args: Sequence[str] = ()) -> list[Path]:
    """Copy the pom's dependencies (resolved through ~/.m2, the usual cache) into ``output_dir``.

    Idempotent: a stamp keyed on the pom and the arguments skips Maven when nothing changed.
    """
    key = hashlib.sha256(pom.read_bytes() + repr(list(extra_args)).encode()).hexdigest()[:16]
    stamp = output_dir / ".fetched"
    if stamp.exists() and stamp.read_text().strip() == key:
        return sorted(p for p in output_dir.iterdir() if p.name != ".fetched")
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MissingDependencyError(
            "Maven (mvn) not found; it fetches Kafka and the registry from Maven Central",
            hint="apt-get install maven",
        )
    if output_dir.exists():
        shutil.rmtree(output_dir)
    output_dir.mkdir(parents=True)
    argv = [
        mvn,
        "-B",
        "-q",
        "-Dstyle.color=never",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={output_dir}",
        *extra_args,
    ]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = [line for line in result.stdout.splitlines() if "ERROR" in line][:3]
        raise ServiceError(
            "maven",
            f"fetching {pom.parent.name} failed: {' | '.join(tail) or result.stderr.strip()}",
            hint="check that Maven Central is reachable (mvn -X shows the URL tried)",
        )
    stamp.write_text(key + "\n")
    return sorted(p for p in output_dir.iterdir() if p.name != ".fetched")
