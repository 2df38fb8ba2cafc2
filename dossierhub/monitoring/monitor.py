"""Reading lag again and again: the reader, the sliding window and the report together, for
``dossierhub lag --watch`` and the exporter."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

from dossierhub.settings import Settings

from .reader import LagReader
from .report import LagReport, build_report
from .status import LagWindow, StatusPolicy

__all__ = ["LagMonitor", "policy_from"]


def policy_from(settings: Settings) -> StatusPolicy:
    return StatusPolicy(
        stall_after_s=settings.lag_stall_after_s, stop_after_s=settings.lag_stop_after_s
    )


class LagMonitor:
    def __init__(
        self,
        reader: LagReader,
        policy: StatusPolicy,
        *,
        groups: Collection[str] | None = None,
        clock: Callable[[], float] = time.time,
        window: LagWindow | None = None,
    ) -> None:
        """``window``: readings of earlier runs (``monitoring.state``), else an empty one."""
        self.reader = reader
        self.window = window if window is not None else LagWindow(policy)
        self.groups = groups
        self._clock = clock

    def poll(self) -> LagReport:
        """Read every partition once, add the reading to the window, and evaluate it."""
        lags = self.reader.read(self.groups)
        now = self._clock()
        self.window.add(lags, now)
        return build_report(lags, self.window, now)
