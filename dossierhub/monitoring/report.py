"""One lag reading with its statuses — what ``dossierhub lag`` prints and the exporter serves.

The JSON shape (``LagReport.as_dict``) is stable; keys may be added, never renamed::

    {"at": "2026-11-26T22:00:00+00:00", "window_samples": 3,
     "groups": [{"group": "dossierhub-processors", "status": "OK", "lag": 0, "time_lag_s": 0.0,
                 "partitions": [{"topic": "hub.dossier.intake", "partition": 0,
                                 "committed": 42, "end": 42, "lag": 0, "time_lag_s": 0.0,
                                 "start": 0, "status": "OK", "assigned": true}]}]}

``committed`` is null where the group never committed; ``time_lag_s`` is null where the oldest
unconsumed record could not be read and the window is too short to estimate it; a group's
``time_lag_s`` is the largest of its partitions' known ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby

from .lag import PartitionLag
from .status import (
    GroupStatus,
    LagWindow,
    PartitionStatus,
    estimate_time_lag,
    group_status,
)

__all__ = ["GroupReport", "LagReport", "PartitionReport", "build_report"]


@dataclass(frozen=True, slots=True)
class PartitionReport:
    lag: PartitionLag
    time_lag_s: float | None
    status: PartitionStatus

    def as_dict(self) -> dict[str, object]:
        p = self.lag
        return {
            "topic": p.topic,
            "partition": p.partition,
            "committed": p.committed,
            "end": p.end,
            "lag": p.lag,
            "time_lag_s": _round(self.time_lag_s),
            "start": p.start,
            "status": str(self.status),
            "assigned": p.assigned,
        }


@dataclass(frozen=True, slots=True)
class GroupReport:
    group: str
    status: GroupStatus
    partitions: tuple[PartitionReport, ...]

    @property
    def lag(self) -> int:
        return sum(p.lag.lag for p in self.partitions)

    @property
    def time_lag_s(self) -> float | None:
        known = [p.time_lag_s for p in self.partitions if p.time_lag_s is not None]
        return max(known, default=None if self.lag else 0.0)

    def as_dict(self) -> dict[str, object]:
        return {
            "group": self.group,
            "status": str(self.status),
            "lag": self.lag,
            "time_lag_s": _round(self.time_lag_s),
            "partitions": [p.as_dict() for p in self.partitions],
        }


@dataclass(frozen=True, slots=True)
class LagReport:
    at: float  #: epoch seconds of the reading
    window_samples: int  #: samples of the longest partition history behind the statuses
    groups: tuple[GroupReport, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "at": datetime.fromtimestamp(self.at, UTC).isoformat(timespec="seconds"),
            "window_samples": self.window_samples,
            "groups": [g.as_dict() for g in self.groups],
        }


def build_report(lags: Iterable[PartitionLag], window: LagWindow, now: float) -> LagReport:
    """The report of one reading; ``window`` must already hold it (``window.add(lags, now)``)."""
    groups = []
    depth = 0
    ordered = sorted(lags, key=lambda p: (p.group, p.topic, p.partition))
    for group, members in groupby(ordered, key=lambda p: p.group):
        partitions = []
        for p in members:
            samples = window.samples(p.group, p.topic, p.partition)
            depth = max(depth, len(samples))
            time_lag = p.time_lag_s(now)
            if time_lag is None:
                time_lag = estimate_time_lag(samples, now)
            partitions.append(
                PartitionReport(p, time_lag, window.status(p.group, p.topic, p.partition))
            )
        status = group_status(p.status for p in partitions)
        groups.append(GroupReport(group, status, tuple(partitions)))
    return LagReport(now, depth, tuple(groups))


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)
