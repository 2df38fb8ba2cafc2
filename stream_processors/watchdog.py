"""The worker watches its own consumer group, because Faust's can stall without a word.

Faust consumers are known to stop committing, or to hang in a rebalance or a table recovery,
while the process looks alive (faust-streaming issues 175, 432, 502, 640). So every
``watch_seconds`` the worker reads its group's lag from the broker, as any operator's tool
would (``dossierhub.monitoring``: Burrow's rules over a sliding window), and:

- logs **one line per change** of the group's status (OK → WARN → ERR and back), naming the
  partitions that stall or stop, their lag and how long their offset has not moved;
- exports the reading on the worker's ``/metrics`` (``kafka_consumergroup_group_lag``,
  ``dossierhub_consumergroup_status`` …) and answers ``/healthz`` with 503 while it is ERR.

A restart is the cure for a stalled Faust consumer; the ops alert rules page for it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dossierhub.errors import HubError
from dossierhub.monitoring import (
    GroupStatus,
    LagMetrics,
    LagMonitor,
    LagReader,
    LagReport,
    PartitionLag,
    PartitionStatus,
    StatusPolicy,
)

__all__ = ["Watchdog"]

_log = logging.getLogger(__name__)


@dataclass
class Watchdog:
    group: str
    monitor: LagMonitor
    metrics: LagMetrics
    status: GroupStatus = GroupStatus.OK
    #: the problem behind a non-OK status, for ``/healthz``
    reason: str = "ok"
    #: every partition of the last reading (none when it failed)
    lags: tuple[PartitionLag, ...] = ()
    _read_failed: bool = field(default=False, repr=False)

    @classmethod
    def build(
        cls, kafka: Mapping[str, Any], group: str, policy: StatusPolicy, metrics: LagMetrics
    ) -> Watchdog:
        reader = LagReader(kafka)
        return cls(group, LagMonitor(reader, policy, groups=[group]), metrics)

    def check(self) -> GroupStatus:
        """One reading (blocking: run it off the event loop)."""
        try:
            report = self.monitor.poll()
        except HubError as exc:
            self.lags = ()
            if not self._read_failed:
                _log.warning("watchdog: cannot read the lag of %s: %s", self.group, exc.one_line())
            self._read_failed = True
            return self.status
        self._read_failed = False
        self.lags = tuple(p.lag for g in report.groups for p in g.partitions)
        self.metrics.update(report)
        self._judge(report)
        return self.status

    @property
    def healthy(self) -> tuple[bool, str]:
        return self.status is not GroupStatus.ERR, self.reason

    def _judge(self, report: LagReport) -> None:
        mine = [g for g in report.groups if g.group == self.group]
        status = mine[0].status if mine else GroupStatus.OK
        if status is self.status:
            return
        self.status = status
        if status is GroupStatus.OK:
            self.reason = "ok"
            _log.info("watchdog: consumer group %s is OK again", self.group)
            return
        problems = [
            f"{p.lag.topic}[{p.lag.partition}] {p.status} (lag {p.lag.lag}, "
            f"committed {p.lag.committed})"
            for g in mine
            for p in g.partitions
            if p.status is not PartitionStatus.OK
        ]
        self.reason = f"{status}: " + ", ".join(problems)
        if status is GroupStatus.ERR:  # some partition stalls or stops
            _log.error(
                "watchdog: consumer group %s is ERR — offsets not moving while records wait: "
                "%s; restart this worker if it does not recover",
                self.group,
                ", ".join(problems),
            )
        else:
            _log.warning("watchdog: consumer group %s is %s: %s", self.group, status, problems)
