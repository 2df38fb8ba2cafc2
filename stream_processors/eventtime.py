"""Event-time alignment of the validator's inputs: the *low watermark* it stamps on each intake
record, and the rule by which the dossier stage's partition watermark follows it. Pure.

Why: an intake partition's watermark (the event time that drives sweeps: alerts, held events
expiring, closed dossiers leaving the table) was the latest event time it had seen. In a replay
the validator reads hundreds of inbound partitions at different speeds, so that watermark ran
months ahead of the slower agencies, and their facts arrived after their dossier had left.

How (the idea of Kafka Streams' ``max.task.idle.ms`` and of Flink's per-source watermarks):

- :class:`SourceClocks`, in the validator: per inbound partition, the next offset to validate,
  the log end last seen, and its *clock* — the latest event time read from it. A partition is
  *pending* while records wait below its end. After each record the low watermark is the
  earliest clock of the pending partitions; a caught-up partition holds nothing back (live,
  every partition is caught up within a batch, so the stamp is the latest event time read).
  It never goes back, and while a pending partition has no clock yet (nothing read from it
  since the worker started) it stays where it was (:data:`HOLD` before anything is known).
- The stamp travels as the header :data:`HEADER_LOW_WATERMARK` (epoch milliseconds).
- :func:`advance`, in the dossier stage: a record of event time ``t`` stamped ``b`` moves the
  partition's watermark to ``max(watermark, min(t, b))``. The stamp is part of the intake log,
  so a redelivery after a crash and ``run --rebuild`` (no validator) move the watermark exactly
  as the original run did. A record without the header (written before alignment existed) is
  unbounded: the watermark is its event time, as before.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from .messages import Headers

__all__ = [
    "HEADER_LOW_WATERMARK",
    "HOLD",
    "Partition",
    "SourceClocks",
    "advance",
    "low_watermark_header",
    "low_watermark_of",
]

#: header of an intake record: the validator's low watermark when it forwarded the record
HEADER_LOW_WATERMARK: Final = "dh.low_watermark"
#: the low watermark before any is known: the record must not move the watermark
HOLD: Final = datetime.min.replace(tzinfo=UTC)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

#: an inbound topic-partition
Partition = tuple[str, int]


def low_watermark_header(bound: datetime) -> tuple[str, bytes]:
    """The header stamping ``bound`` (``HOLD`` is an empty value)."""
    if bound == HOLD:
        return (HEADER_LOW_WATERMARK, b"")
    return (HEADER_LOW_WATERMARK, str((bound - _EPOCH) // timedelta(milliseconds=1)).encode())


def low_watermark_of(headers: Headers) -> datetime | None:
    """The stamp of an intake record: ``HOLD``, an instant, or None when it carries none (or
    one this code cannot read: the record is then treated as before alignment)."""
    for key, value in headers:
        if key != HEADER_LOW_WATERMARK:
            continue
        if not value:
            return HOLD
        try:
            return _EPOCH + timedelta(milliseconds=int(value))
        except (ValueError, OverflowError):
            return None
    return None


def advance(
    watermark: datetime | None, at: datetime | None, bound: datetime | None
) -> datetime | None:
    """A partition's watermark after a record of event time ``at`` (None: it has none) stamped
    with the low watermark ``bound`` (None: unbounded)."""
    if at is None or bound == HOLD:
        return watermark
    candidate = at if bound is None or at <= bound else bound
    return candidate if watermark is None or candidate > watermark else watermark


@dataclass(slots=True)
class _Source:
    #: the next offset to validate; None while unknown (no position read, no record seen)
    next: int | None = None
    #: one past the last record known to exist; None when no end was seen
    end: int | None = None
    #: the latest event time read from this partition since the worker started
    clock: datetime | None = None

    @property
    def pending(self) -> bool:
        if self.next is None:
            return self.end is None or self.end > 0  # unknown position: assume records wait
        return self.end is not None and self.next < self.end


class SourceClocks:
    """The validator's inbound partitions and the low watermark over them (module docstring).

    Per record, O(log n) in the number of partitions: the pending clocks sit in a heap whose
    stale entries are dropped when they reach the top (and the heap is rebuilt when they pile
    up behind a slow partition).
    """

    def __init__(self) -> None:
        self._sources: dict[Partition, _Source] = {}
        #: pending partitions whose clock is unknown: while any, the low watermark cannot move
        self._blind: set[Partition] = set()
        self._heap: list[tuple[datetime, Partition]] = []
        self._latest: datetime | None = None
        self._floor: datetime | None = None

    @property
    def partitions(self) -> frozenset[Partition]:
        return frozenset(self._sources)

    @property
    def unpositioned(self) -> frozenset[Partition]:
        """Partitions whose next offset is unknown (their position could not be read)."""
        return frozenset(p for p, s in self._sources.items() if s.next is None)

    @property
    def low_watermark(self) -> datetime:
        """The last low watermark computed (``HOLD`` before any)."""
        return HOLD if self._floor is None else self._floor

    def assign(
        self, partitions: Iterable[Partition], positions: Mapping[Partition, tuple[int, int]]
    ) -> None:
        """The partitions the validator reads now: others are forgotten; a new one starts at
        ``positions[p] = (next offset, log end)``, or unknown when missing."""
        keep = set(partitions)
        for gone in set(self._sources) - keep:
            del self._sources[gone]
            self._blind.discard(gone)
        for partition in keep:
            source = self._sources.get(partition)
            if source is None:
                source = self._sources[partition] = _Source()
            if source.next is None and partition in positions:
                source.next, end = positions[partition]
                source.end = end if source.end is None else max(source.end, end)
            self._refresh(partition, source)
        self._heap = [(t, p) for t, p in self._heap if p in self._sources]
        heapq.heapify(self._heap)

    def saw_end(self, partition: Partition, end: int | None) -> None:
        """The log end of ``partition`` as the consumer last saw it (it only grows)."""
        source = self._sources.get(partition)
        if source is None or end is None or (source.end is not None and end <= source.end):
            return
        source.end = end
        self._refresh(partition, source)

    def read(self, partition: Partition, offset: int, at: datetime | None) -> datetime:
        """Record ``offset`` of ``partition`` was validated (``at``: its event time, None if
        it has none, e.g. refused): the low watermark after it."""
        source = self._sources.get(partition)
        if source is None:  # delivered before the assignment was seen: it starts here
            source = self._sources[partition] = _Source()
        if source.next is None or offset + 1 > source.next:
            source.next = offset + 1
        if at is not None:
            if source.clock is None or at > source.clock:
                source.clock = at
            if self._latest is None or at > self._latest:
                self._latest = at
        self._refresh(partition, source)
        return self._low_watermark()

    def _refresh(self, partition: Partition, source: _Source) -> None:
        if not source.pending:
            self._blind.discard(partition)
        elif source.clock is None:
            self._blind.add(partition)
        else:
            self._blind.discard(partition)
            heapq.heappush(self._heap, (source.clock, partition))
            if len(self._heap) > 4 * len(self._sources) + 64:
                self._heap = [(t, p) for t, p in self._heap if self._valid(t, p)]
                heapq.heapify(self._heap)

    def _valid(self, clock: datetime, partition: Partition) -> bool:
        source = self._sources.get(partition)
        return source is not None and source.pending and source.clock == clock

    def _low_watermark(self) -> datetime:
        if not self._blind:
            heap = self._heap
            while heap and not self._valid(*heap[0]):
                heapq.heappop(heap)
            # Nothing pending: every record read so far is behind us, as live.
            candidate = heap[0][0] if heap else self._latest
            if candidate is not None and (self._floor is None or candidate > self._floor):
                self._floor = candidate
        return self.low_watermark
