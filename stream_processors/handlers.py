"""What each agent does with one record: the I/O around the pure stages (registry lookups,
the table, the clock, the watermarks). ``app.py`` runs them in Faust agents and sends what they
return.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter, deque
from collections.abc import (
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from dossierhub.errors import HubError
from dossierhub.monitoring import StageMetrics
from schemas import event_type, peek_schema_id
from schemas.errors import UndecodableMessageError
from schemas.topics import (
    CATALOG_EVENTS,
    DEADLETTER,
    DOSSIER_ALERTS,
    DOSSIER_EVENTS,
    DOSSIER_INTAKE,
    DOSSIER_OUTCOMES,
    FEEDBACK_EVENTS,
    REFERENCE_EVENTS,
)
from stream_processors.aggregates import PartialCounts
from stream_processors.dossier import PublishedYear, WorkingCalendar, is_overdue

from .alignment import Alignment
from .config import ProcessorConfig
from .dossiers import Context, Entry, IntakeRecord, encode_fact, encode_slice, next_alarm
from .eventtime import low_watermark_of
from .inbound_gaps import InboundGaps
from .intake import (
    POSITION_PREFIX,
    WATERMARK_PREFIX,
    Alarms,
    IntakeBatch,
    intake_partition,
    read_position,
)
from .levels import ProcedureLevels
from .lookups import Lookups
from .messages import Headers, Outgoing, Source, dead_letter
from .refill import Refill
from .validator import Accepted, Refused, check, read_event, to_outgoing

__all__ = ["PROCESSING_ERROR", "Counters", "Handlers", "Record"]

_log = logging.getLogger(__name__)

#: ``dh.reason`` of a record our own code failed on: kept, so it can be replayed once fixed
PROCESSING_ERROR: Final = "processing_error"
#: the most parsed entries kept (≈1.5 KB each); the dossiers of the last days of event time
_PARSED_ENTRIES: Final = 200_000
#: the most accepted events kept decoded for the dossier stage (a few KB each)
_DECODED_EVENTS: Final = 20_000
_DERIVED_TYPES: Final = (
    "DossierOutcome",
    "DossierBecameOverdue",
    "DossierDueSoon",
    "AggregateUpdated",
)


class Record(Protocol):
    """The parts of a Faust message the handlers read."""

    topic: str
    partition: int
    offset: int
    key: Any
    value: Any
    headers: Any


@dataclass
class Counters:
    """What the agents did since start, for the progress line."""

    inbound: int = 0
    intake: int = 0
    sent: Counter[str] = field(default_factory=Counter)
    #: seconds from the agency's record to its dossier's state and slices being persisted,
    #: for the latest intake records (bench process reads them)
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=200_000))
    #: monotonic times of the first inbound batch taken and of the last intake batch persisted
    first_inbound_at: float | None = None
    last_persisted_at: float | None = None
    #: intake records whose batch was persisted
    intake_persisted: int = 0
    #: intake records the consumer went past without any batch folding them, lost
    skipped: int = 0
    #: such records read back from the topic and folded (``refill``)
    refilled: int = 0
    #: intake records the validator had forwarded before, dropped unfolded (``IntakeBatch``)
    copies: int = 0

    def persisted(self, sources: Sequence[Source], now: float, wall_ms: int) -> None:
        """A batch was persisted: note when, and the latency of each record."""
        self.last_persisted_at = now
        self.intake_persisted += len(sources)
        for source in sources:
            if source.timestamp_ms is not None:
                self.latencies.append((wall_ms - source.timestamp_ms) / 1000)

    def line(self) -> str:
        canonical = sum(self.sent[t] for t in (CATALOG_EVENTS, FEEDBACK_EVENTS, REFERENCE_EVENTS))
        return (
            f"in={self.inbound} dossier_events_in={self.intake}"
            f" accepted={self.sent[DOSSIER_EVENTS] + canonical}"
            f" dead_lettered={self.sent[DEADLETTER]}"
            f" outcomes={self.sent[DOSSIER_OUTCOMES]} alerts={self.sent[DOSSIER_ALERTS]}"
            + (f" refilled={self.refilled}" if self.refilled else "")
            + (f" copies={self.copies}" if self.copies else "")
            + (f" SKIPPED={self.skipped}" if self.skipped else "")
        )


@dataclass
class Census:
    """Open dossiers and overdue ones without an apology letter, per agency holding them, over
    the entries this worker owns: kept up to date from each batch's changed entries."""

    #: dossier_code → (agency, open, overdue without apology)
    of: dict[str, tuple[str, bool, bool]] = field(default_factory=dict)
    open: Counter[str] = field(default_factory=Counter)
    unapologized: Counter[str] = field(default_factory=Counter)
    _touched: set[str] = field(default_factory=set)

    def count(
        self,
        code: str,
        entry: Entry | None,
        watermark: datetime | None,
        calendar: WorkingCalendar,
    ) -> None:
        before = self.of.pop(code, None)
        if before is not None:
            agency, was_open, was_unapologized = before
            self.open[agency] -= was_open
            self.unapologized[agency] -= was_unapologized
            self._touched.add(agency)
        state = None if entry is None else entry.state
        if state is None or not state.is_in_progress:
            return
        agency = state.holding_agency_code or state.receiving_agency_code or "UNKNOWN"
        late = watermark is not None and is_overdue(state, watermark, calendar)
        unapologized = late and not state.apologies
        self.of[code] = (agency, True, unapologized)
        self.open[agency] += 1
        self.unapologized[agency] += unapologized
        self._touched.add(agency)

    def emptied(self) -> Census:
        """An empty census that still zeroes the gauges of every agency counted so far."""
        return Census(_touched={*self.open, *self.unapologized})

    def publish(self, metrics: StageMetrics) -> None:
        for agency in self._touched:
            metrics.open_dossiers.labels(agency).set(self.open[agency])
            metrics.overdue_without_apology.labels(agency).set(self.unapologized[agency])
        self._touched.clear()


@dataclass
class Handlers:
    config: ProcessorConfig
    lookups: Lookups
    #: dossier_code → ``Entry.to_dict()`` (the Faust table)
    table: MutableMapping[str, Any]
    levels: ProcedureLevels = field(default_factory=ProcedureLevels)
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    counters: Counters = field(default_factory=Counters)
    #: slice key → ``PartialCounts.to_dict()`` (the Faust table of aggregate slices)
    slices: MutableMapping[str, Any] = field(default_factory=dict)
    intake_partitions: int = 6
    #: the intake partitions this worker owns now; None: all of them (no consumer to ask)
    owned: Callable[[], frozenset[int]] | None = None
    #: intake partition → the latest event time seen there (persisted with the entries)
    watermarks: dict[int, datetime] = field(default_factory=dict)
    #: intake partition → the last offset folded and persisted (``IntakeBatch.positions``)
    positions: dict[int, int] = field(default_factory=dict)
    #: intake partition → inbound offsets folded (``IntakeBatch.forwarded``), with the positions
    forwarded: dict[int, dict[str, int]] = field(default_factory=dict)
    alarms: Alarms = field(default_factory=Alarms)
    metrics: StageMetrics = field(default_factory=StageMetrics)
    census: Census = field(default_factory=Census)
    #: the validator's event-time alignment (``eventtime``); None: intake records unstamped
    alignment: Alignment | None = None
    #: the validator's next offset per inbound partition (``inbound_gaps``); None: records its
    #: consumer goes past are not read back
    inbound_gaps: InboundGaps | None = None
    #: dossier_code → (the table's value, the ``Entry`` it holds); see ``_load_entry``
    parsed: dict[str, tuple[Any, Entry]] = field(default_factory=dict)
    #: intake record bytes → the event the validator decoded from them (``_hand_over``)
    decoded: dict[bytes, Mapping[str, Any]] = field(default_factory=dict)
    #: reads back intake records the consumer went past (``refill.IntakeReader.read``);
    #: None: such records are only reported
    refill: Callable[[int, int, int], Awaitable[Refill]] | None = None
    _indexed_for: frozenset[int] | None = None

    async def validate(self, records: Sequence[Record]) -> list[Outgoing]:
        """Each inbound record forwarded or dead-lettered (``validator.check``), after the
        records the consumer went past (``inbound_gaps``)."""
        if self.inbound_gaps is not None:
            filled = await self.inbound_gaps.fill(records)
            self.counters.refilled += len(filled) - len(records)
            records = filled
        self.counters.inbound += len(records)
        self.metrics.event_in("validator", len(records))
        if self.counters.first_inbound_at is None:
            self.counters.first_inbound_at = time.monotonic()
        await self._fetch_writer_schemas(_bytes(r.value) for r in records)
        align = self.alignment
        if align is not None:
            await align.prepare(records)
        now = datetime.now(UTC)
        out = []
        owned = self.assigned()
        for record in records:
            raw = _bytes(record.value)
            try:
                verdict = check(
                    raw,
                    source_topic=record.topic,
                    lookup=self.lookups.cached_schema,
                    now=now,
                    future_tolerance=self.config.future_tolerance,
                )
            except Exception as exc:  # a poison record must not stop the stream
                out.extend(self.failed(record, exc))
                if align is not None:
                    align.passed(record)
                continue
            source = Source(record.topic, record.partition, record.offset, _millis(record))
            message = to_outgoing(verdict, raw, source, _bytes(record.key) or None)
            out.append(message if align is None else align.stamp(record, verdict, message))
            self._hand_over(verdict, raw, owned)
        return out

    async def prepare_dossiers(self) -> None:
        """Fetch the facts' schema ids before the first fact has to be encoded."""
        for name in _DERIVED_TYPES:
            await self.lookups.schema_id(event_type(name))

    async def dossier_batch(self, records: Sequence[Record]) -> IntakeBatch:
        """Fold a batch of intake records (see ``intake``); the caller sends and persists."""
        records = await self._fill_gaps(records)
        self.counters.intake += len(records)
        self.metrics.event_in("dossier", len(records))
        await self._fetch_writer_schemas(_bytes(r.value) for r in records)
        self._index_if_reassigned()
        batch = IntakeBatch(
            context=self._context,
            load_entry=self._load_entry,
            load_slice=self._load_slice,
            alarms=self.alarms,
            watermarks=self.watermarks,
            positions=self.positions,
            forwarded=self.forwarded,
        )
        for record in records:
            self._check_gap(record)
            raw, key = _bytes(record.value), _bytes(record.key)
            source = self.source_of(record)
            batch.sources.append(source)
            if not key:
                batch.passed(record.partition, record.offset)
                why = "intake record without a dossier_code key"
                batch.messages.append(dead_letter(raw, None, "invalid_event", why, source))
                continue
            code = key.decode("utf-8", "replace")
            try:
                bound = low_watermark_of(_headers(record.headers))
                intake = IntakeRecord(raw, key, record.offset, source, bound)
                batch.offer(record.partition, code, intake)
            except Exception as exc:  # a poison record must not stop the stream
                batch.messages.extend(self.failed(record, exc))
        batch.messages.extend(self._slice_messages(batch))
        self.counters.copies += batch.copies
        for code, entry in batch.entries.items():
            mark = self.watermarks.get(batch.entry_partition[code])
            self.census.count(code, entry, mark, self.calendar)
        self.census.publish(self.metrics)
        return batch

    def _hand_over(self, verdict: Accepted | Refused, raw: bytes, owned: frozenset[int]) -> None:
        """Keep an accepted dossier event as decoded for this worker's dossier stage, which
        reads the same bytes back from the intake topic, usually a moment later (it decoded
        each record again: 5% of the worker's time). Bounded: when the dossier stage lags far
        behind (a backlog) the rest is decoded again there; emptied when the worker's intake
        partitions change."""
        if (
            not isinstance(verdict, Accepted)
            or verdict.topic != DOSSIER_INTAKE
            or len(self.decoded) >= _DECODED_EVENTS
        ):
            return
        partitions = self.intake_partitions
        if len(owned) < partitions and intake_partition(verdict.key, partitions) not in owned:
            return  # another worker folds it
        self.decoded[raw] = verdict.event

    async def _fill_gaps(self, records: Sequence[Record]) -> Sequence[Record]:
        """``records``, with the records of their partitions that the consumer went past
        without any batch folding them read back from the topic (``refill``) and put first,
        in offset order, before the record that showed the gap.

        A gap is a record beyond its partition's persisted position + 1 (records at or
        before it are redeliveries, which the fold ignores); for a partition no batch has
        persisted yet, a record beyond the topic's first record. Faust's consumer makes such
        gaps after a crash or a rebalance; see ``refill``.
        """
        if self.refill is None:
            return records
        self._index_if_reassigned()  # the positions of the partitions owned now
        owned = self._indexed_for or frozenset()
        following = {partition: done + 1 for partition, done in self.positions.items()}
        gaps: dict[int, tuple[int, int, int]] = {}
        for index, record in enumerate(records):
            if record.partition not in owned:  # a record fetched before a rebalance took it
                continue
            # 0: nothing of the partition folded yet, so everything from the topic's start
            expected = following.get(record.partition, 0)
            if record.offset > expected:
                gaps[index] = (record.partition, expected, record.offset)
            following[record.partition] = max(expected, record.offset + 1)
        if not gaps:
            return records
        filled: list[Record] = []
        for index, record in enumerate(records):
            if index in gaps:
                refill = await self.refill(*gaps[index])
                filled.extend(refill.records)
                self._refilled(refill, fresh=refill.partition not in self.positions)
            filled.append(record)
        return filled

    def _refilled(self, refill: Refill, *, fresh: bool) -> None:
        """Count and say what a read back found. Of a partition nothing was folded of yet
        (``fresh``), records the topic deleted before are not missing: this app never had
        them to fold (its consumer starts at the topic's first record)."""
        self.counters.refilled += len(refill.records)
        if fresh and not refill.records:
            return
        missing = 0 if fresh else refill.missing
        _log.warning(
            "intake[%d]: the consumer went past records %d..%d that no batch folded; "
            "read %d of them back from the topic and folded them first%s",
            refill.partition,
            max(refill.start, refill.low) if fresh else refill.start,
            refill.end - 1,
            len(refill.records),
            f" ({missing} no longer held: the topic starts at {refill.low})" if missing else "",
        )

    def _check_gap(self, record: Record) -> None:
        """Say so, loudly and once per gap, when ``record`` comes after records of its
        partition that no batch folded and that could not be read back (``_fill_gaps``):
        deleted by the topic's retention, or no reader.

        Those records are missing from the projections (a rebuild cannot bring back what the
        topic no longer holds). The table's own position, persisted with each batch, shows it.
        """
        done = self.positions.get(record.partition)
        if done is None or record.offset <= done + 1:
            return
        self.counters.skipped += record.offset - done - 1
        _log.error(
            "intake[%d]: records %d..%d were never folded, but the consumer went past them "
            "and they could not be read back; the projections miss them",
            record.partition,
            done + 1,
            record.offset - 1,
        )
        self.positions[record.partition] = record.offset - 1  # said once

    def _load_entry(self, code: str) -> Entry | None:
        """The table's entry, parsed once: the ``Entry`` kept beside the very value the table
        holds is reused (parsing the dict form was an eighth of the fold). A value written
        by anyone else, or recovered from the changelog, is another object and parsed anew."""
        stored = self.table.get(code)
        if stored is None:
            return None
        kept = self.parsed.get(code)
        if kept is not None and kept[0] is stored:
            return kept[1]
        entry = Entry.from_dict(stored)
        self._keep(code, stored, entry)
        return entry

    def table_values(self, batch: IntakeBatch) -> Iterator[tuple[int, str, Any]]:
        """(partition, dossier_code, table value or None) for each entry of ``batch``, the
        values remembered with their ``Entry`` for the next batches' reads."""
        for code, entry in batch.entries.items():
            if entry is None:
                self.parsed.pop(code, None)
                yield batch.entry_partition[code], code, None
                continue
            value = entry.to_dict()
            self._keep(code, value, entry)
            yield batch.entry_partition[code], code, value

    def _keep(self, code: str, stored: Any, entry: Entry) -> None:
        if not self.config.store.startswith("memory://"):
            return  # a RocksDB store decodes a new value at every read: never the same object
        parsed = self.parsed
        parsed.pop(code, None)  # re-inserted last: the oldest are evicted first
        parsed[code] = (stored, entry)
        if len(parsed) > _PARSED_ENTRIES:
            for old in list(itertools.islice(parsed, len(parsed) // 4)):
                del parsed[old]

    def _load_slice(self, key: str) -> PartialCounts | None:
        stored = self.slices.get(key)
        return None if stored is None else PartialCounts.from_dict(stored)

    def _slice_messages(self, batch: IntakeBatch) -> list[Outgoing]:
        out = []
        for key, one in batch.slices.items():
            cell = key.split("|", 1)[1]
            at = self.watermarks.get(one.partition) or datetime.now(UTC)
            out.append(encode_slice(cell, one, at=at, schema_id_of=self.lookups.cached_id))
        return out

    def assigned(self) -> frozenset[int]:
        if self.owned is None:
            return frozenset(range(self.intake_partitions))
        return self.owned()

    def _index_if_reassigned(self) -> None:
        """Rebuild the alarms and watermarks from the table when the worker's intake
        partitions changed (start, rebalance): the table then holds other entries."""
        assigned = self.assigned()
        if assigned == self._indexed_for:
            return
        self.alarms = Alarms()
        if self._indexed_for is not None:  # what was kept may be for partitions now elsewhere
            self.decoded.clear()
        self.watermarks.clear()
        self.positions.clear()
        self.forwarded.clear()
        self.census = self.census.emptied()
        context = self._context(None)
        entries = []
        for key, stored in list(self.table.items()):
            if key.startswith(WATERMARK_PREFIX):
                partition = int(key[len(WATERMARK_PREFIX) :])
                if partition in assigned:
                    self.watermarks[partition] = datetime.fromisoformat(stored)
                continue
            if key.startswith(POSITION_PREFIX):
                partition = int(key[len(POSITION_PREFIX) :])
                if partition in assigned:
                    offset, forwarded = read_position(stored)
                    self.positions[partition] = offset
                    self.forwarded[partition] = forwarded
                continue
            partition = intake_partition(key, self.intake_partitions)
            if partition in assigned:
                entry = Entry.from_dict(stored)
                self._keep(key, stored, entry)
                self.alarms.schedule(partition, key, next_alarm(entry, context))
                entries.append((partition, key, entry))
        for partition, key, entry in entries:
            self.census.count(key, entry, self.watermarks.get(partition), self.calendar)
        self.census.publish(self.metrics)
        self._indexed_for = assigned
        _log.info(
            "dossier table indexed for intake partitions %s: %d alarms",
            sorted(assigned),
            len(self.alarms),
        )

    async def reference(self, raw: bytes) -> None:
        """Learn procedure levels and working calendars from one catalog/reference record
        (``reference.ReferenceReader`` feeds every worker all of them)."""
        await self._fetch_writer_schemas([raw])
        try:
            known, event = read_event(raw, self.lookups.cached_schema)
        except HubError as exc:  # the validator let it through: a schema removed since?
            _log.warning("reference: skipped an unreadable record: %s", exc.one_line())
            return
        self.levels.observe(event)
        if known.name == "WorkingCalendarPublished":
            try:
                self.calendar = self.calendar.with_published(PublishedYear.from_event(event))
            except HubError as exc:
                _log.warning("reference: calendar not applied: %s", exc.one_line())

    def failed(self, record: Record, exc: Exception) -> list[Outgoing]:
        """A record our code raised on: dead-lettered with the error, so the stream goes on
        and the record can be replayed once the bug is fixed."""
        _log.exception("processing %s[%d]@%d failed", record.topic, record.partition, record.offset)
        error = f"{type(exc).__name__}: {exc}"
        raw, key = _bytes(record.value), _bytes(record.key) or None
        return [dead_letter(raw, key, PROCESSING_ERROR, error, self.source_of(record))]

    @staticmethod
    def source_of(record: Record) -> Source:
        """The agency's original record: from the validator's headers on an intake record."""
        own = Source(record.topic, record.partition, record.offset)
        return Source.from_headers(_headers(record.headers)) or own

    def _context(self, watermark: datetime | None) -> Context:
        lookups, levels = self.lookups, self.levels

        decoded = self.decoded

        def decode(raw: bytes) -> Mapping[str, Any]:
            # The validator's decoding of the same bytes, when it is at hand: the same function
            # of the bytes and the schemas (no stage changes an event).
            event = decoded.pop(raw, None)
            if event is not None:
                return event
            # A held record read after a restart may name an id not fetched yet: a blocking
            # fetch, rare, instead of dead-lettering a record that is fine.
            return read_event(raw, lookups.schema_now)[1]

        return Context(
            calendar=self.calendar,
            decode=decode,
            due_soon_working_days=self.config.due_soon_working_days,
            retention=self.config.retention,
            encode_fact=lambda fact: encode_fact(
                fact, schema_id_of=lookups.cached_id, authority_level=levels
            ),
            authority_level=levels,
            watermark=watermark,
            max_hold=self.config.max_hold,
            max_held=self.config.max_held_per_dossier,
        )

    async def _fetch_writer_schemas(self, records: Iterable[bytes]) -> None:
        """Bring the records' writer schemas into the cache (waiting out a registry outage),
        so that the pure stages can use the synchronous cache."""
        ids = set()
        for raw in records:
            try:
                ids.add(peek_schema_id(raw))
            except UndecodableMessageError:
                continue  # the stage refuses it as undecodable
        for schema_id in ids:
            await self.lookups.writer_schema(schema_id)


def _millis(record: Record) -> int | None:
    stamp = getattr(record, "timestamp", None)
    return None if stamp is None else int(stamp * 1000)


def _bytes(data: Any) -> bytes:
    return b"" if data is None else bytes(data)


def _headers(headers: Any) -> Headers:
    if not headers:
        return ()
    items = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((str(k), bytes(v)) for k, v in items)
