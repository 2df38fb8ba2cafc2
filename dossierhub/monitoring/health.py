"""The consumer-side checks of ``dossierhub health``: each consumer group's status and the
growth of the dead-letter topic since the previous check. Both keep what they need between runs
under ``$DOSSIERHUB_HOME/monitoring/`` (the lag window, the last dead-letter count)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from dossierhub.errors import ServiceUnreachableError
from dossierhub.settings import Settings

from .monitor import LagMonitor, policy_from
from .reader import LagReader
from .state import load_window, save_window, window_path
from .status import GroupStatus

__all__ = ["Check", "dead_letter_check", "dead_letter_state_path", "group_checks"]


@dataclass(frozen=True, slots=True)
class Check:
    component: str
    target: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {
            "component": self.component,
            "target": self.target,
            "ok": self.ok,
            "detail": self.detail,
        }


def group_checks(
    settings: Settings,
    kafka_config: Mapping[str, Any],
    groups: Collection[str] | None,
    timeout_s: float,
) -> list[Check]:
    """One check per consumer group: failed when its status is ERR (a partition STALL/STOP)."""
    bootstrap = str(kafka_config["bootstrap.servers"])
    policy = policy_from(settings)
    state = window_path(settings, bootstrap)
    monitor = LagMonitor(
        LagReader(kafka_config, timeout_s=timeout_s),
        policy,
        groups=groups,
        window=load_window(state, policy),
    )
    report = monitor.poll()
    save_window(monitor.window, state)
    checks = []
    for group in report.groups:
        time_lag = "?" if group.time_lag_s is None else f"{group.time_lag_s:.1f}s"
        troubled = sorted(
            f"{p.lag.topic}[{p.lag.partition}] {p.status}"
            for p in group.partitions
            if p.status != "OK"
        )
        detail = f"{group.status}, lag {group.lag}, time lag {time_lag}"
        if troubled:
            detail += ": " + ", ".join(troubled)
        checks.append(
            Check(f"group {group.group}", bootstrap, group.status != GroupStatus.ERR, detail)
        )
    return checks


def dead_letter_check(
    settings: Settings,
    kafka_config: Mapping[str, Any],
    topic: str,
    *,
    max_per_minute: float,
    timeout_s: float,
) -> Check:
    """How many records reached ``topic`` since the previous check; failed above
    ``max_per_minute`` on average over that time."""
    bootstrap = str(kafka_config["bootstrap.servers"])
    total = _record_count(kafka_config, topic, timeout_s)
    if total is None:
        return Check("dead letters", topic, True, "topic not created yet")
    now = time.time()
    path = dead_letter_state_path(settings, bootstrap, topic)
    previous = _load(path)
    _save(path, now, total)
    if previous is None:
        return Check("dead letters", topic, True, f"{total} in total (first check)")
    then, before = previous
    added, minutes = max(0, total - before), max(now - then, 1e-9) / 60
    rate = added / minutes
    detail = f"+{added} in {minutes:.1f} min ({rate:.1f}/min), {total} in total"
    if rate > max_per_minute:
        return Check("dead letters", topic, False, f"{detail}: above {max_per_minute:g}/min")
    return Check("dead letters", topic, True, detail)


def _record_count(kafka_config: Mapping[str, Any], topic: str, timeout_s: float) -> int | None:
    """Records ever written to ``topic`` (sum of log ends; retention does not lower it)."""
    consumer = Consumer({**kafka_config, "group.id": "dossierhub-health-probe"})
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return None
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)[1]
            for p in metadata.partitions
        )
    except KafkaException as exc:
        raise ServiceUnreachableError(
            "kafka", str(kafka_config["bootstrap.servers"]), str(exc)
        ) from exc
    finally:
        consumer.close()


def dead_letter_state_path(settings: Settings, bootstrap: str, topic: str) -> Path:
    """Where the previous check's count of ``topic`` is kept."""
    key = hashlib.sha256(f"{bootstrap}/{topic}".encode()).hexdigest()[:12]
    return settings.home / "monitoring" / f"dead-letters-{key}.json"


def _load(path: Path) -> tuple[float, int] | None:
    try:
        data = json.loads(path.read_text())
        return float(data["at"]), int(data["total"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _save(path: Path, at: float, total: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"at": at, "total": total}))
    temporary.replace(path)
