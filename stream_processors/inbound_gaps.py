"""The validator's next offset per inbound partition: records its consumer went past are read
back and validated first, and what was validated is committed.

The same hole as the dossier stage's (``commits``): after a restart with a rebalance, Faust's
consumer can resume an inbound partition past records that no stream was given. Nothing ever
acknowledges them, so Faust never commits the partition again (seen in the crash test:
``hub.inbound.000.00.31.H29[1] STALL (lag 304, committed 1777)``), and if the worker had not
validated them before, they would be lost. The dossier stage has its table's positions to go
by; the validator starts from the group's committed offset when it is handed a partition (every
record before it was validated and sent), and from there follows the records it validates. A
record beyond the next expected offset shows a hole: the records in between are read from the
topic (``refill``) and validated before it. Once a batch's records are sent and acknowledged,
the next offset of each of its partitions is committed (``commits``).

A partition whose committed offset could not be read is not followed (Faust's own commits
apply to it) until the next change of assignment.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from dossierhub.errors import HubError

from .eventtime import Partition
from .refill import Refill, RefilledRecord

__all__ = ["InboundGaps"]

_log = logging.getLogger(__name__)


class _Record(Protocol):
    topic: str
    partition: int
    offset: int


R = TypeVar("R", bound=_Record)


@dataclass
class InboundGaps:
    #: the inbound partitions the validator reads now
    assignment: Callable[[], Iterable[Partition]]
    #: blocking: the group's next offset to read of each partition (its commit, or the log start)
    starts: Callable[[Collection[Partition]], Mapping[Partition, int]]
    #: the records of (topic, partition) from start to end (excluded)
    read: Callable[[str, int, int, int], Awaitable[Refill]]
    #: partition → the next offset expected (all before it validated)
    following: dict[Partition, int] = field(default_factory=dict)
    _assigned: frozenset[Partition] = frozenset()

    async def fill(self, records: Sequence[R]) -> list[R | RefilledRecord]:
        """``records`` with the records their consumer went past put before them, in offset
        order."""
        await self._follow_assignment()
        out: list[R | RefilledRecord] = []
        for record in records:
            partition = (record.topic, record.partition)
            expected = self.following.get(partition)
            if expected is None:  # not followed: not assigned now, or no committed offset known
                out.append(record)
                continue
            if record.offset > expected:
                refill = await self.read(record.topic, record.partition, expected, record.offset)
                out.extend(refill.records)
                self._said(record.topic, refill)
            self.following[partition] = max(expected, record.offset + 1)
            out.append(record)
        return out

    def next_offsets(self, partitions: Iterable[Partition]) -> dict[Partition, int]:
        """The next offset of each followed partition of ``partitions`` (to commit once the
        records before it are sent)."""
        return {p: self.following[p] for p in partitions if p in self.following}

    async def _follow_assignment(self) -> None:
        assigned = frozenset(self.assignment())
        if assigned == self._assigned:
            return
        new = assigned - self._assigned
        self._assigned = assigned
        self.following = {p: o for p, o in self.following.items() if p in assigned}
        if not new:
            return
        try:
            starts = await asyncio.to_thread(self.starts, new)
        except HubError as exc:
            _log.warning(
                "validator: committed offsets of %d inbound partitions not read (%s); records "
                "the consumer goes past there are not read back until their next assignment",
                len(new),
                exc.one_line(),
            )
            return
        self.following.update({p: starts[p] for p in new if p in starts})

    def _said(self, topic: str, refill: Refill) -> None:
        _log.warning(
            "%s[%d]: the consumer went past records %d..%d that were not validated; read %d of "
            "them back from the topic and validated them first%s",
            topic,
            refill.partition,
            refill.start,
            refill.end - 1,
            len(refill.records),
            f" ({refill.missing} no longer held)" if refill.missing else "",
        )
