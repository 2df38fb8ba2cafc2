"""The sliding window kept between runs of the one-shot commands (``dossierhub lag``,
``dossierhub health``), so that running them from cron or a load balancer builds the same trend
``--watch`` and the exporter keep in memory. One file per cluster, under
``$DOSSIERHUB_HOME/monitoring/``, replaced atomically; a missing or unreadable file is an empty
window (the state is a cache of readings, never the truth)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from dossierhub.settings import Settings

from .status import LagWindow, Sample, StatusPolicy

__all__ = ["load_window", "save_window", "window_path"]

_VERSION = 1


def window_path(settings: Settings, bootstrap: str) -> Path:
    cluster = hashlib.sha256(bootstrap.encode()).hexdigest()[:12]
    return settings.home / "monitoring" / f"lag-window-{cluster}.json"


def load_window(path: Path, policy: StatusPolicy) -> LagWindow:
    window = LagWindow(policy)
    try:
        data = json.loads(path.read_text())
        if data.get("version") != _VERSION:
            return window
        for entry in data["partitions"]:
            window.restore(
                (entry["group"], entry["topic"], entry["partition"]),
                [Sample(*values) for values in entry["samples"]],
            )
    except (OSError, ValueError, KeyError, TypeError):
        return LagWindow(policy)
    return window


def save_window(window: LagWindow, path: Path) -> None:
    partitions = [
        {
            "group": group,
            "topic": topic,
            "partition": partition,
            "samples": [[s.at, s.committed, s.end, s.lag, s.assigned] for s in samples],
        }
        for (group, topic, partition), samples in window.items()
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"version": _VERSION, "partitions": partitions}))
    temporary.replace(path)
