"""The validator's side of event-time alignment (``eventtime``): what it learns from its
consumer before each batch, and the stamp it puts on each record it forwards to the intake.

Before a batch: the inbound partitions assigned now (a new one starts at the group's committed
offset, read from the broker once, off the event loop) and the log ends the consumer's last
fetches reported. Per record: its event time into the partition's clock, and the resulting
low watermark as a header on the intake record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final, Protocol

import faust
from faust.exceptions import ConsumerNotStarted
from faust.types import TP

from dossierhub.errors import HubError
from dossierhub.monitoring.lag import group_lag
from schemas.topics import DOSSIER_INTAKE, inbound_agency

from .dossiers import event_time_or_none
from .eventtime import Partition, SourceClocks, low_watermark_header
from .messages import Outgoing
from .validator import Accepted, Refused

__all__ = ["Alignment", "for_consumer"]

_log = logging.getLogger(__name__)

#: after a failed (or partial) read of partitions' positions, the next try waits this long
_RETRY_S: Final = 5.0
#: the log ends of every assigned partition are looked at this often (see ``prepare``)
_ENDS_EVERY_S: Final = 1.0


class _Record(Protocol):
    topic: str
    partition: int
    offset: int


@dataclass
class Alignment:
    """Keeps :class:`SourceClocks` in step with the validator's consumer."""

    #: the inbound partitions the validator reads now
    assignment: Callable[[], Iterable[Partition]]
    #: the log end of a partition from the consumer's last fetch (None: not fetched yet)
    highwater: Callable[[Partition], int | None]
    #: blocking: (next offset to read, log end) of each partition, for the consumer's group
    positions: Callable[[Collection[Partition]], Mapping[Partition, tuple[int, int]]]
    clocks: SourceClocks = field(default_factory=SourceClocks)
    clock: Callable[[], float] = time.monotonic
    #: partition → when its position was last asked for (a failed or partial answer is asked
    #: again ``_RETRY_S`` later, not at every batch)
    _tried: dict[Partition, float] = field(default_factory=dict)
    _ends_at: float = 0.0

    async def prepare(self, records: Iterable[_Record] = ()) -> None:
        """Before validating ``records``: the assignment, the positions of new partitions, the
        log ends (of the batch's partitions; of all assigned ones at most every second, since
        asking the consumer for a thousand partitions per batch would cost more than it tells:
        a partition not in the batch has, live, seconds-old records at most)."""
        assigned = frozenset(self.assignment())
        missing = (assigned - self.clocks.partitions) | (self.clocks.unpositioned & assigned)
        positions: Mapping[Partition, tuple[int, int]] = {}
        now = self.clock()
        due = {p for p in missing if now >= self._tried.get(p, now - _RETRY_S) + _RETRY_S}
        if due:
            self._tried.update(dict.fromkeys(due, now))
            positions = await self._read_positions(due)
        if assigned != self.clocks.partitions or positions:
            self.clocks.assign(assigned, positions)
        if now >= self._ends_at:
            self._ends_at = now + _ENDS_EVERY_S
            looked_at: Iterable[Partition] = assigned
        else:
            looked_at = {(r.topic, r.partition) for r in records} & assigned
        for partition in looked_at:
            self.clocks.saw_end(partition, self.highwater(partition))

    async def _read_positions(
        self, partitions: Collection[Partition]
    ) -> Mapping[Partition, tuple[int, int]]:
        started = self.clock()
        try:
            found = await asyncio.to_thread(self.positions, partitions)
        except HubError as exc:
            _log.warning(
                "alignment: positions of %d inbound partitions not read (%s); the low "
                "watermark waits for them",
                len(partitions),
                exc.one_line(),
            )
            return {}
        _log.info(
            "alignment: positions of %d inbound partitions read in %.1fs",
            len(partitions),
            self.clock() - started,
        )
        return {p: found[p] for p in partitions if p in found}

    def passed(self, record: _Record) -> None:
        """Note ``record`` as validated without a verdict (our code failed on it)."""
        self.clocks.read((record.topic, record.partition), record.offset, None)

    def stamp(self, record: _Record, verdict: Accepted | Refused | None, out: Outgoing) -> Outgoing:
        """Note ``record`` as validated; an intake record gets the low watermark after it."""
        at = _time_of(verdict)
        bound = self.clocks.read((record.topic, record.partition), record.offset, at)
        if out.topic != DOSSIER_INTAKE:
            return out
        return replace(out, headers=(*out.headers, low_watermark_header(bound)))


def _time_of(verdict: Accepted | Refused | None) -> datetime | None:
    """An accepted event's time: the dossier stage's own (``event_time``) for a dossier event,
    the envelope's ``occurred_at`` for the others; None for a refused record."""
    if not isinstance(verdict, Accepted):
        return None
    event: Mapping[str, Any] = verdict.event
    if verdict.topic == DOSSIER_INTAKE:
        return event_time_or_none(event)
    occurred = (event.get("envelope") or {}).get("occurred_at")
    return occurred if isinstance(occurred, datetime) and occurred.utcoffset() is not None else None


def for_consumer(app: faust.App, kafka: Mapping[str, Any], group: str) -> Alignment:
    """The alignment of ``app``'s validator: its consumer's inbound assignment and fetched log
    ends, and the group's committed positions read from the broker (``group_lag``)."""

    def assignment() -> list[Partition]:
        return [
            (tp.topic, tp.partition)
            for tp in app.consumer.assignment()
            if inbound_agency(tp.topic) is not None
        ]

    def highwater(partition: Partition) -> int | None:
        try:
            end = app.consumer.highwater(TP(*partition))
        except (AssertionError, KeyError, ConsumerNotStarted):  # revoked meanwhile, or stopping
            return None
        return None if end is None else int(end)

    def positions(partitions: Collection[Partition]) -> dict[Partition, tuple[int, int]]:
        topics = sorted({topic for topic, _ in partitions})
        return {
            (lag.topic, lag.partition): (lag.position, lag.end)
            for lag in group_lag(kafka, {group: topics})
        }

    return Alignment(assignment, highwater, positions)
