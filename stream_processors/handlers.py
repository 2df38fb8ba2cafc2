"""What each agent does with one record: the I/O around the pure stages (registry lookups,
the table, the clock, the watermarks). ``app.py`` runs them in Faust agents and sends what they
return.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from dossierhub.errors import HubError
from schemas import event_type, peek_schema_id
from schemas.errors import UndecodableMessageError
from schemas.topics import (
    CATALOG_EVENTS,
    DEADLETTER,
    DOSSIER_ALERTS,
    DOSSIER_EVENTS,
    DOSSIER_OUTCOMES,
    FEEDBACK_EVENTS,
    REFERENCE_EVENTS,
)
from stream_processors.dossier import PublishedYear, WorkingCalendar

from .config import ProcessorConfig
from .dossiers import Context, Entry, IntakeRecord, encode_fact, step
from .levels import ProcedureLevels
from .lookups import Lookups
from .messages import Headers, Outgoing, Source, dead_letter
from .validator import check, read_event, to_outgoing

__all__ = ["PROCESSING_ERROR", "Counters", "Handlers", "Record"]

_log = logging.getLogger(__name__)

#: ``dh.reason`` of a record our own code failed on: kept, so it can be replayed once fixed
PROCESSING_ERROR: Final = "processing_error"
_FACT_TYPES: Final = ("DossierOutcome", "DossierBecameOverdue", "DossierDueSoon")


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

    def line(self) -> str:
        canonical = sum(self.sent[t] for t in (CATALOG_EVENTS, FEEDBACK_EVENTS, REFERENCE_EVENTS))
        return (
            f"in={self.inbound} dossier_events_in={self.intake}"
            f" accepted={self.sent[DOSSIER_EVENTS] + canonical}"
            f" dead_lettered={self.sent[DEADLETTER]}"
            f" outcomes={self.sent[DOSSIER_OUTCOMES]} alerts={self.sent[DOSSIER_ALERTS]}"
        )


@dataclass
class Handlers:
    config: ProcessorConfig
    lookups: Lookups
    #: dossier_code → ``Entry.to_dict()`` (the Faust table)
    table: MutableMapping[str, Any]
    levels: ProcedureLevels = field(default_factory=ProcedureLevels)
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    counters: Counters = field(default_factory=Counters)
    #: intake partition → the latest event time seen there
    watermarks: dict[int, datetime] = field(default_factory=dict)

    async def validate(self, record: Record) -> list[Outgoing]:
        raw = _bytes(record.value)
        self.counters.inbound += 1
        await self._fetch_writer_schemas([raw])
        verdict = check(
            raw,
            source_topic=record.topic,
            lookup=self.lookups.cached_schema,
            now=datetime.now(UTC),
            future_tolerance=self.config.future_tolerance,
        )
        source = Source(record.topic, record.partition, record.offset)
        return [to_outgoing(verdict, raw, source, _bytes(record.key) or None)]

    async def prepare_dossiers(self) -> None:
        """Fetch the facts' schema ids before the first fact has to be encoded."""
        for name in _FACT_TYPES:
            await self.lookups.schema_id(event_type(name))

    async def dossier(self, record: Record) -> list[Outgoing]:
        raw, key = _bytes(record.value), _bytes(record.key)
        self.counters.intake += 1
        source = self.source_of(record)
        if not key:
            why = "intake record without a dossier_code key"
            return [dead_letter(raw, None, "invalid_event", why, source)]
        code = key.decode("utf-8", "replace")
        stored = self.table.get(code)
        entry = None if stored is None else Entry.from_dict(stored)
        held = [h.raw for h in entry.held] if entry is not None else []
        await self._fetch_writer_schemas([raw, *held])
        result = step(
            entry,
            IntakeRecord(raw, key, record.offset, source),
            self._context(self.watermarks.get(record.partition)),
        )
        if not result.redelivered:
            self.table[code] = result.entry.to_dict()
        if result.watermark is not None:
            self.watermarks[record.partition] = result.watermark
        return list(result.messages)

    async def reference(self, record: Record) -> list[Outgoing]:
        raw = _bytes(record.value)
        await self._fetch_writer_schemas([raw])
        try:
            known, event = read_event(raw, self.lookups.cached_schema)
        except HubError as exc:  # the validator let it through: a schema removed since?
            _log.warning("reference: skipped an unreadable record: %s", exc.one_line())
            return []
        self.levels.observe(event)
        if known.name == "WorkingCalendarPublished":
            try:
                self.calendar = self.calendar.with_published(PublishedYear.from_event(event))
            except HubError as exc:
                _log.warning("reference: calendar not applied: %s", exc.one_line())
        return []

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

        def decode(raw: bytes) -> Mapping[str, Any]:
            return read_event(raw, lookups.cached_schema)[1]

        return Context(
            calendar=self.calendar,
            decode=decode,
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
        for raw in records:
            try:
                schema_id = peek_schema_id(raw)
            except UndecodableMessageError:
                continue  # the stage refuses it as undecodable
            await self.lookups.writer_schema(schema_id)


def _bytes(data: Any) -> bytes:
    return b"" if data is None else bytes(data)


def _headers(headers: Any) -> Headers:
    if not headers:
        return ()
    items = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((str(k), bytes(v)) for k, v in items)
