"""Partitions whose records wait while this worker's consumer delivers none of them.

The watchdog says when a partition's offset stops moving. Some of those stops are Faust's
consumer losing its place in a partition this worker owns: it went past records no stream was
given, and no later record arrives to show the hole (``refill`` and ``inbound_gaps`` read such
records back only when a later one comes); or the records are done but the group's offset was
left behind them. Nothing then moves the partition again: only a restart would, since it starts
from the group's offset.

So, at each of the watchdog's readings outside a pause on purpose (a rebalance and the table
recovery after it, the dossier stage waiting for the catalog at start), every partition
assigned here whose group offset is short of the log end is looked at. Its *next* offset is
the first record not yet done here (the dossier table's position + 1, the validator's next
expected offset), or the group's offset if that is further. When the next offset and the
group's offset have not moved for ``patience_s``:

- records from the next offset on exist: the consumer is sought back to it, and they come
  through the stage again (a record done before is recognised as such there);
- none do: every record is done, and the next offset is committed.

A stage only slow to get there (a long batch) is sought back for nothing: what it is sent
again it drops as done. One WARNING line per action, once per stuck state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from faust.types import TP

from dossierhub.monitoring import PartitionLag

__all__ = ["StuckPartitions"]

_log = logging.getLogger(__name__)

#: readings without progress a partition must stay put for before it is acted on
DEFAULT_PATIENCE_S: Final = 30.0


@dataclass
class StuckPartitions:
    #: the partitions this worker's consumer is assigned now
    assignment: Callable[[], Iterable[TP]]
    #: the first offset of a partition not yet done here (0 when not known yet: the group's
    #: offset counts then); None for a topic no stage here reads
    done_until: Callable[[TP], int | None]
    seek: Callable[[TP, int], Awaitable[None]]
    commit: Callable[[Mapping[TP, int]], Awaitable[None]]
    #: whether the partitions wait on purpose: a rebalance (and the table recovery after it),
    #: the dossier stage waiting for the catalog at start
    paused: Callable[[], bool] = lambda: False
    patience_s: float = DEFAULT_PATIENCE_S
    clock: Callable[[], float] = time.monotonic
    #: seeks asked for so far (one that failed included)
    rewound: int = 0
    #: commits of the records done asked for so far
    recommitted: int = 0
    #: partition → ((next offset, group offset), since when they have not moved)
    _still: dict[TP, tuple[tuple[int, int | None], float]] = field(default_factory=dict)
    #: partition → the state it was acted on in (once: if that moved nothing, the stage itself
    #: is stuck, which seeking again cannot cure; the watchdog says so)
    _acted: dict[TP, tuple[int, int | None]] = field(default_factory=dict)

    async def check(self, lags: Iterable[PartitionLag]) -> None:
        """Look at the partitions of one reading of the group's lag (see the module's doc)."""
        if self.paused():
            self._still.clear()  # the patience starts once the pause is over
            return
        now = self.clock()
        assigned = set(self.assignment())
        behind: dict[TP, PartitionLag] = {}
        for lag in lags:
            tp = TP(lag.topic, lag.partition)
            if tp in assigned and (lag.committed is None or lag.committed < lag.end):
                behind[tp] = lag
        self._still = {tp: s for tp, s in self._still.items() if tp in behind}
        self._acted = {tp: s for tp, s in self._acted.items() if tp in behind}
        for tp, lag in sorted(behind.items()):
            done = self.done_until(tp)
            if done is None:
                continue
            next_offset = max(done, lag.committed or 0)
            state = (next_offset, lag.committed)
            seen = self._still.get(tp)
            if seen is None or seen[0] != state:
                self._still[tp] = (state, now)
            elif now - seen[1] >= self.patience_s and self._acted.get(tp) != state:
                self._acted[tp] = state
                await self._act(tp, lag, next_offset, now - seen[1])

    async def _act(self, tp: TP, lag: PartitionLag, next_offset: int, still_s: float) -> None:
        if next_offset >= lag.end:
            _log.warning(
                "%s[%d]: every record is done (to %d), yet the group's offset stayed at %s for "
                "%.0fs; committing %d",
                tp.topic,
                tp.partition,
                lag.end - 1,
                lag.committed,
                still_s,
                next_offset,
            )
            self.recommitted += 1
            await self._tried(self.commit({tp: next_offset}), tp)
            return
        _log.warning(
            "%s[%d]: records %d..%d wait, and the consumer delivered none of them for %.0fs "
            "(it lost its place); seeking it back to %d",
            tp.topic,
            tp.partition,
            next_offset,
            lag.end - 1,
            still_s,
            next_offset,
        )
        self.rewound += 1
        await self._tried(self.seek(tp, next_offset), tp)

    async def _tried(self, action: Awaitable[None], tp: TP) -> None:
        """Run ``action``; a failure is said and left to the next stuck state (the partition
        may have been given away meanwhile, or the consumer be stopping)."""
        try:
            await action
        except Exception as exc:
            _log.warning(
                "%s[%d]: that failed: %s: %s", tp.topic, tp.partition, type(exc).__name__, exc
            )
