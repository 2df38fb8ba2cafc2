"""Offset ranges: how a batch is cut, and what the range record says after a crash (pure).

A range is ``[first, last]`` of one topic partition, inclusive. Its record goes through
``pending`` (written before any of its rows) → ``confirmed`` (all rows stored) or ``aborted``
(the rows of an unfinished attempt deleted). From the records alone:

- the partition resumes after the last confirmed range;
- every range that is pending (more pending records than aborted ones, and none confirmed) has
  to be settled before anything else of that partition is loaded: verified complete (then
  confirmed) or deleted (then aborted) — see :mod:`sinks.ledger`;
- Kafka's committed offsets are never trusted for this: they may belong to another warehouse
  (a rebuild into a fresh database), and they lag behind the record after a crash;
- a redo is cut at the same ``last`` offset as the attempt it replaces, so ranges are
  deterministic: the same offsets always make the same range.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from dossierhub.errors import HubError

__all__ = [
    "OffsetOrderError",
    "OffsetRange",
    "RangeState",
    "RangeStatus",
    "cut",
    "pending_ranges",
    "redo_bounds",
    "resume_offsets",
    "summarize",
]

TopicPartition = tuple[str, int]


class RangeState(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    ABORTED = "aborted"


class OffsetOrderError(HubError):
    """Offsets of one partition that do not strictly increase (a consumer bug, never data)."""

    def __init__(self, partition: TopicPartition, offsets: Sequence[int]) -> None:
        super().__init__(f"{partition[0]}[{partition[1]}]: offsets not increasing: {offsets}")
        self.partition = partition
        self.offsets = offsets


@dataclass(frozen=True, slots=True, order=True)
class OffsetRange:
    topic: str
    partition: int
    first: int
    last: int

    @property
    def key(self) -> TopicPartition:
        return (self.topic, self.partition)

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.first}-{self.last}"


@dataclass(frozen=True, slots=True)
class RangeStatus:
    """What the records of one range say: its latest verdict and the rows it should hold."""

    range: OffsetRange
    state: RangeState
    rows: int


def cut(
    partition: TopicPartition, offsets: Sequence[int], redo_last: int | None = None
) -> list[tuple[int, int]]:
    """Split one partition's buffered offsets into ranges, as ``(start, stop)`` index spans.

    Normally one range; when ``redo_last`` is the end of an aborted attempt, the first range
    ends there so the redo covers the same offsets as the attempt it replaces.
    """
    if any(b <= a for a, b in itertools.pairwise(offsets)):
        raise OffsetOrderError(partition, list(offsets))
    if not offsets:
        return []
    if redo_last is None or redo_last >= offsets[-1] or redo_last < offsets[0]:
        return [(0, len(offsets))]
    split = next(i for i, offset in enumerate(offsets) if offset > redo_last)
    return [(0, split), (split, len(offsets))]


def summarize(records: Iterable[tuple[OffsetRange, str, int]]) -> list[RangeStatus]:
    """Fold range records ``(range, state, rows)`` into one status per range, in offset order.

    Confirmed wins; otherwise a range is pending while it has more pending records than aborted
    ones (each attempt writes one pending record; each settled failure one aborted record).
    """
    pending: dict[OffsetRange, int] = {}
    aborted: dict[OffsetRange, int] = {}
    confirmed: dict[OffsetRange, int] = {}
    rows: dict[OffsetRange, int] = {}
    for offset_range, state, count in records:
        if state == RangeState.CONFIRMED:
            confirmed[offset_range] = count
        elif state == RangeState.PENDING:
            pending[offset_range] = pending.get(offset_range, 0) + 1
            rows[offset_range] = count
        elif state == RangeState.ABORTED:
            aborted[offset_range] = aborted.get(offset_range, 0) + 1
    statuses = []
    for offset_range in sorted({*pending, *aborted, *confirmed}):
        if offset_range in confirmed:
            statuses.append(
                RangeStatus(offset_range, RangeState.CONFIRMED, confirmed[offset_range])
            )
        elif pending.get(offset_range, 0) > aborted.get(offset_range, 0):
            statuses.append(
                RangeStatus(offset_range, RangeState.PENDING, rows.get(offset_range, 0))
            )
        else:
            statuses.append(RangeStatus(offset_range, RangeState.ABORTED, 0))
    return statuses


def pending_ranges(statuses: Iterable[RangeStatus]) -> list[RangeStatus]:
    return [s for s in statuses if s.state is RangeState.PENDING]


def resume_offsets(statuses: Iterable[RangeStatus]) -> dict[TopicPartition, int]:
    """The next offset to load per partition: one past its last confirmed range."""
    positions: dict[TopicPartition, int] = {}
    for status in statuses:
        if status.state is RangeState.CONFIRMED:
            key = status.range.key
            positions[key] = max(positions.get(key, 0), status.range.last + 1)
    return positions


def redo_bounds(statuses: Iterable[RangeStatus]) -> dict[TopicPartition, int]:
    """Per partition, the end of the latest aborted range past the last confirmed one."""
    resume = resume_offsets(statuses := list(statuses))
    bounds: dict[TopicPartition, int] = {}
    for status in statuses:
        key = status.range.key
        if status.state is RangeState.ABORTED and status.range.first >= resume.get(key, 0):
            bounds[key] = max(bounds.get(key, -1), status.range.last)
    return bounds
