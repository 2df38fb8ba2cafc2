"""One batch of intake records, folded: dossier entries, aggregate slices, watermarks and the
records to send. Pure (the table reads come in as functions), so the agent's batch logic is
unit-tested without a broker; ``handlers`` loads and persists, ``app`` sends.

Per record (``offer``): the dossier step (``dossiers.step``); the change of the dossier's tally
counted into the slices of its partition (``aggregates``), each slice skipping a record it has
already counted; and, when the record moves its partition's watermark into a new local day, a
sweep of the partition's entries whose alarm has come (``Alarms``: alerts, held events
expiring, closed dossiers leaving).

The caller persists in this order, waiting for each to be acknowledged before the next:
``messages`` (outputs, slice updates for the aggregates topic), then ``slices``, then
``entries`` and ``watermarks``. A crash between two steps makes the worker read the records
again: outputs are sent again with the same deterministic ids (their consumers drop the
duplicates), a persisted slice refuses what it already counted, and a record whose entry was
persisted is a redelivery (``Entry.last_offset``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property, lru_cache
from typing import Any, Final

from aiokafka.partitioner import murmur2  # type: ignore[import-untyped]

from schemas.topics import DOSSIER_INTAKE
from stream_processors.aggregates import (
    Cell,
    DimensionKind,
    PartialCounts,
    cell_key,
    day_window,
    delta,
    year_window,
)
from stream_processors.dossier import DossierState, local_date

from .dossiers import Context, Entry, IntakeRecord, next_alarm, step, sweep
from .messages import Outgoing, Source

__all__ = [
    "POSITION_PREFIX",
    "WATERMARK_PREFIX",
    "Alarms",
    "IntakeBatch",
    "intake_partition",
    "position_value",
    "read_position",
    "slice_key",
]


#: table key of a partition's watermark, beside the entries: ``~watermark|3``
WATERMARK_PREFIX: Final = "~watermark|"
#: table key of the last intake offset a partition's batches folded and persisted: ``~position|3``
POSITION_PREFIX: Final = "~position|"


def intake_partition(code: str, partitions: int) -> int:
    """The intake partition of a dossier: the one the validator's producer (aiokafka's
    default partitioner, murmur2 of the key) sent its records to."""
    return (int(murmur2(code.encode("utf-8"))) & 0x7FFFFFFF) % partitions


class Alarms:
    """Per partition, the dossiers to visit on each local day (``dossiers.next_alarm``), so a
    sweep costs the entries whose time has come, not the whole table. In memory: rebuilt from
    the table when the worker starts or its partitions change."""

    def __init__(self) -> None:
        self._days: dict[int, dict[date, set[str]]] = {}
        self._of: dict[str, tuple[int, date]] = {}

    def schedule(self, partition: int, code: str, day: date | None) -> None:
        old = self._of.pop(code, None)
        if old is not None:
            codes = self._days[old[0]][old[1]]
            codes.discard(code)
            if not codes:
                del self._days[old[0]][old[1]]
        if day is not None:
            self._of[code] = (partition, day)
            self._days.setdefault(partition, {}).setdefault(day, set()).add(code)

    def pop_due(self, partition: int, day: date) -> set[str]:
        """Codes whose alarm is on or before ``day``, forgotten (the caller sets them again)."""
        days = self._days.get(partition, {})
        due: set[str] = set()
        for alarm in [d for d in days if d <= day]:
            due.update(days.pop(alarm))
        for code in due:
            del self._of[code]
        return due

    def __len__(self) -> int:
        return len(self._of)


def position_value(offset: int, forwarded: Mapping[str, int]) -> dict[str, Any]:
    """The table value of ``~position|n``: the last offset folded and the inbound offsets
    folded up to it, in one value so that a crash never persists one without the other."""
    return {"offset": offset, "forwarded": dict(forwarded)}


def read_position(stored: Any) -> tuple[int, dict[str, int]]:
    """``(offset, forwarded)`` of a ``~position|n`` value (a bare offset before forwarded
    offsets were kept)."""
    if isinstance(stored, dict):
        return int(stored["offset"]), {k: int(v) for k, v in stored["forwarded"].items()}
    return int(stored), {}


def slice_key(partition: int, cell: str) -> str:
    """Table key of one slice: ``3|DAY|2023-03-15|AGENCY|000.00.15.H29``."""
    return f"{partition}|{cell}"


@dataclass
class IntakeBatch:
    #: the per-record context for a partition's watermark
    context: Callable[[datetime | None], Context]
    load_entry: Callable[[str], Entry | None]
    load_slice: Callable[[str], PartialCounts | None]
    #: when each entry next needs a sweep (updated in place, like the watermarks)
    alarms: Alarms
    #: partition → watermark, as persisted before this batch (updated in place)
    watermarks: dict[int, datetime]
    #: partition → the last intake offset folded (updated in place, persisted with the
    #: watermarks; see ``Handlers.dossier_batch`` for what it guards against)
    positions: dict[int, int] = field(default_factory=dict)
    #: partition → inbound partition (``"topic|n"``) → the highest inbound offset folded from
    #: it (updated in place, persisted in the same value as the position: ``position_value``)
    forwarded: dict[int, dict[str, int]] = field(default_factory=dict)

    messages: list[Outgoing] = field(default_factory=list)
    #: dossier_code → new entry, or None to delete it
    entries: dict[str, Entry | None] = field(default_factory=dict)
    #: slice key → slice, for every slice this batch changed (persist and publish these)
    slices: dict[str, PartialCounts] = field(default_factory=dict)
    #: partitions whose watermark this batch moved
    moved: set[int] = field(default_factory=set)
    #: partitions this batch folded records of (their position moved)
    touched: set[int] = field(default_factory=set)
    redelivered: int = 0
    #: records the validator had forwarded already (sent again after it crashed or lost its
    #: partitions): dropped unfolded
    copies: int = 0
    #: the agency's record behind each record offered, in order (for the latency figures)
    sources: list[Source] = field(default_factory=list)
    #: dossier_code → its intake partition, for every entry in ``entries``
    entry_partition: dict[str, int] = field(default_factory=dict)
    _loaded: dict[str, PartialCounts] = field(default_factory=dict)

    def passed(self, partition: int, offset: int) -> None:
        """A record of ``partition`` was dealt with (folded, or refused before folding)."""
        self.positions[partition] = max(self.positions.get(partition, -1), offset)
        self.touched.add(partition)

    def offer(self, partition: int, code: str, record: IntakeRecord) -> None:
        folded = self.positions.get(partition, -1)
        again = record.offset <= folded  # a redelivery (a restart, a rebalance, a seek back)
        copy = not again and self._copy(partition, record.source)
        self.passed(partition, record.offset)
        if copy:
            self.copies += 1
            return
        entry = self._entry(code)
        if again:
            if entry is None:
                # A redelivery whose dossier has left the table since: no entry remembers the
                # record, the partition's position does (else it would open an empty entry).
                entry = Entry(last_offset=record.offset)
            elif record.offset > entry.last_offset:
                # Passed before without reaching its entry: it was dropped as a copy (every
                # other record passed is stored as its entry's last). Folding it now would
                # refuse it as a duplicate_event and move the entry, which a replay never does.
                self.copies += 1
                return
        before = self.watermarks.get(partition)
        result = step(entry, record, self.context(before))
        self.messages.extend(result.messages)
        change: Counter[Cell] = Counter()
        if result.redelivered:
            self.redelivered += 1
        else:
            self._store(partition, code, result.entry)
            change.update(delta(_state(entry), result.entry.state))
        now = result.watermark
        if now is not None and (before is None or now > before):
            self.watermarks[partition] = now
            self.moved.add(partition)
            if before is None or local_date(now) > local_date(before):
                change.update(self._sweep(partition, now))
        self._count(partition, change, record.offset)

    def _copy(self, partition: int, source: Source) -> bool:
        """Whether ``source`` was forwarded into ``partition`` before (and remember it if not).

        The validator forwards an inbound partition's records in order, and one producer's
        records keep their order within an intake partition, so along ``partition`` the
        inbound offsets of one inbound partition only grow: one that does not is a copy, sent
        again by a validator that crashed or lost the partition before committing it.
        (Offsets never folded are not in the map: a redelivery of this partition's own
        records, at or before its position, is told apart by the position.)
        """
        if source.topic == DOSSIER_INTAKE:  # no validator headers: nothing to compare
            return False
        highest = self.forwarded.setdefault(partition, {})
        key = f"{source.topic}|{source.partition}"
        if source.offset <= highest.get(key, -1):
            return True
        highest[key] = source.offset
        return False

    def _sweep(self, partition: int, watermark: datetime) -> Counter[Cell]:
        context = self.context(watermark)
        change: Counter[Cell] = Counter()
        for code in sorted(self.alarms.pop_due(partition, local_date(watermark))):
            entry = self._entry(code)
            if entry is None:
                continue
            result = sweep(entry, watermark, context)
            self.messages.extend(result.messages)
            if not result.changed:
                self._reschedule(partition, code, entry)
                continue
            self._store(partition, code, result.entry)
            if result.entry is not None:  # a dossier leaving the table stays counted
                change.update(delta(entry.state, result.entry.state))
        return change

    def _store(self, partition: int, code: str, entry: Entry | None) -> None:
        self.entries[code] = entry
        self.entry_partition[code] = partition
        self._reschedule(partition, code, entry)

    def _reschedule(self, partition: int, code: str, entry: Entry | None) -> None:
        alarm = None if entry is None else next_alarm(entry, self._alarm_context)
        self.alarms.schedule(partition, code, alarm)

    @cached_property
    def _alarm_context(self) -> Context:
        """``next_alarm`` reads the rules (calendar, hold, retention), not the watermark: one
        context serves the whole batch."""
        return self.context(None)

    def _count(self, partition: int, change: Counter[Cell], offset: int) -> None:
        """Count one record's changes (its own and its sweep's) into the slices, together:
        a slice sealed at ``offset`` holds all of them or none."""
        touched: dict[str, PartialCounts] = {}
        for (dimension, key, day, counter), n in change.items():
            if not n:
                continue
            for name in _slice_keys(partition, dimension, key, day):
                one = self._slice(name, partition)
                if one.add(counter, n, offset):
                    touched[name] = one
        for name, one in touched.items():
            one.seal(offset)
            self.slices[name] = one

    def _entry(self, code: str) -> Entry | None:
        if code in self.entries:
            return self.entries[code]
        return self.load_entry(code)

    def _slice(self, key: str, partition: int) -> PartialCounts:
        found = self.slices.get(key) or self._loaded.get(key)
        if found is None:
            found = self.load_slice(key) or PartialCounts(partition)
            self._loaded[key] = found
        return found


@lru_cache(maxsize=200_000)
def _slice_keys(partition: int, dimension: DimensionKind, key: str, day: date) -> tuple[str, str]:
    """The day and year slice keys of a cell (cached: formatting them was a third of the
    fold's time)."""
    return (
        slice_key(partition, cell_key(day_window(day), dimension, key)),
        slice_key(partition, cell_key(year_window(day), dimension, key)),
    )


def _state(entry: Entry | None) -> DossierState | None:
    return None if entry is None else entry.state
