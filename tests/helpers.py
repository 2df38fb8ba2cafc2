"""Helpers for tests: run the CLI as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def run_cli(
    *args: str, home: Path, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``dossierhub`` as a user would, with a clean DOSSIERHUB_* environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIERHUB_")}
    clean["DOSSIERHUB_HOME"] = str(home)
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "dossierhub.cli", *args],
        capture_output=True,
        text=True,
        env=clean,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )


def as_json(event: Mapping[str, Any]) -> dict[str, Any]:
    """An Avro-ready event as an agency exports it in JSON lines: ISO strings for instants,
    dates and UUIDs."""
    text = json.dumps(event, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v))
    data: dict[str, Any] = json.loads(text)
    return data
