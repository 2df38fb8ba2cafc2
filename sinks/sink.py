"""The sink: Kafka topics → ClickHouse tables, exactly once, in batches by size and time.

One loop, one thread:

1. on start, migrate the warehouse, settle every pending range the last run left
   (:mod:`sinks.ledger`), and assign each partition at the offset after its last confirmed
   range — the warehouse, not Kafka's committed offset, says where to resume;
2. consume into a buffer per partition until ``batch_rows`` messages are buffered or the oldest
   has waited ``batch_seconds``;
3. cut one range per partition (:func:`sinks.ranges.cut`), decode (fastavro) into one columnar
   batch per table plus dead letters, then: record the ranges pending → insert → record them
   confirmed → commit the offsets to Kafka (for lag monitoring only).

ClickHouse unavailable: the sink keeps the decoded batch, backs off (doubling, capped), settles
what the failed attempt may have left, and tries again; it logs when the state changes, not on
every retry. Nothing is committed to Kafka that is not confirmed in the warehouse.

The sink is a single writer per warehouse and topic set: it assigns every partition to itself
(no consumer-group rebalancing, so a restarted sink resumes at once instead of waiting out the
dead member's session).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from dossierhub.endpoints import Endpoints
from dossierhub.errors import HubError
from dossierhub.monitoring import StageMetrics
from dossierhub.settings import Settings
from sinks.decoding import RawWriterSchemas
from sinks.ledger import RangeLedger
from sinks.ranges import OffsetRange, RangeState, cut, pending_ranges, redo_bounds, resume_offsets
from sinks.rows import DeadLetter, SchemaLookup, TableRows, decode_into
from sinks.tables import SINK_TOPICS, TableSpec, table_for
from sinks.warehouse import ColumnBatch, Warehouse, WarehouseError, connect
from sinks.warehouse._chdb import ChdbWarehouse
from sinks.warehouse.loopback import LoopbackServer
from sinks.warehouse.migrate import migrate

__all__ = ["DEFAULT_GROUP", "Sink", "SinkError", "SinkOptions", "SinkStats"]

DEFAULT_GROUP: Final = "dossierhub-sink"
log = logging.getLogger(__name__)
_T = TypeVar("_T")
TopicPartitionKey = tuple[str, int]


class SinkError(HubError):
    """Kafka refused the sink something it cannot retry (e.g. a topic it must read is gone)."""

    def __init__(self, what: str, cause: object) -> None:
        super().__init__(f"sink: {what}: {cause}")
        self.what = what


class _Stopped(Exception):
    """The stop event was set while the sink waited to retry."""


@dataclass(frozen=True, slots=True)
class SinkOptions:
    """What a sink loads and how; :meth:`from_settings` takes the batch limits from settings.

    ``routes`` maps each topic read to the canonical topic whose table it loads into: the
    identity for the hub's topics; tests and replays map a topic of their own onto one.
    """

    batch_rows: int = 50_000
    batch_seconds: float = 1.0
    group_id: str = DEFAULT_GROUP
    routes: Mapping[str, str] = field(default_factory=lambda: {t: t for t in SINK_TOPICS})
    poll_timeout_s: float = 0.1
    max_backoff_s: float = 10.0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        routes: Mapping[str, str] | None = None,
        group_id: str = DEFAULT_GROUP,
    ) -> SinkOptions:
        return cls(
            batch_rows=settings.sink_batch_rows,
            batch_seconds=settings.sink_batch_seconds,
            group_id=group_id,
            routes=dict(routes) if routes else {t: t for t in SINK_TOPICS},
        )


@dataclass(slots=True)
class SinkStats:
    messages: int = 0
    rows: int = 0
    dead_letters: int = 0
    ranges: int = 0
    batches: int = 0
    settled_confirmed: int = 0
    settled_aborted: int = 0
    retries: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class _Buffered:
    messages: list[Any] = field(default_factory=list)


class Sink:
    """``Sink(settings).run(stop)`` until ``stop`` is set, or ``run_until_idle()``."""

    def __init__(
        self,
        settings: Settings,
        options: SinkOptions | None = None,
        *,
        warehouse: Warehouse | None = None,
        schema_lookup: SchemaLookup | None = None,
        metrics: StageMetrics | None = None,
    ) -> None:
        self.settings = settings
        #: batch sizes, insert latency, retries and freshness (``dossierhub.monitoring``)
        self.metrics = metrics or StageMetrics()
        self.options = options or SinkOptions.from_settings(settings)
        self._endpoints = Endpoints.resolve(settings)
        self._warehouse = warehouse
        self._owns_warehouse = warehouse is None
        self._lookup = schema_lookup
        self._specs: dict[str, TableSpec] = {
            source: table_for(canonical) for source, canonical in self.options.routes.items()
        }
        self._buffer: dict[TopicPartitionKey, _Buffered] = {}
        self._buffered = 0
        self._oldest: float | None = None
        #: next offset to read per partition; None until known (a partition read from its start)
        self._next: dict[TopicPartitionKey, int | None] = {}
        self._redo: dict[TopicPartitionKey, int] = {}
        self._idle_checked = 0.0
        #: next offset per partition after its last confirmed range (what is committed)
        self._confirmed: dict[TopicPartitionKey, int] = {}
        self._failing: str | None = None
        self.stats = SinkStats()

    # -- public -----------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> SinkStats:
        """Load until ``stop`` is set; what is buffered then is written before returning."""
        return self._run(stop, until_idle=False, timeout_s=None)

    def run_until_idle(self, *, timeout_s: float | None = None) -> SinkStats:
        """Load until every partition is caught up with its high watermark, then return."""
        return self._run(threading.Event(), until_idle=True, timeout_s=timeout_s)

    # -- the loop ---------------------------------------------------------------------------
    def _run(
        self, stop: threading.Event, *, until_idle: bool, timeout_s: float | None
    ) -> SinkStats:
        started = time.monotonic()
        consumer = self._consumer()
        reads: LoopbackServer | None = None
        try:
            self._retrying(stop, "start", lambda: self._start(consumer))
            if self._owns_warehouse and isinstance(self.warehouse, ChdbWarehouse):
                reads = LoopbackServer(self.warehouse).start()  # chDB: one process per path
            log.info(
                "sink started: %d partition(s) of %d topic(s) into %s",
                len(self._next),
                len(self._specs),
                self.warehouse.backend,
            )
            while not stop.is_set():
                room = max(1, min(10_000, self.options.batch_rows - self._buffered))
                messages = consumer.consume(num_messages=room, timeout=self.options.poll_timeout_s)
                for message in messages:
                    self._take(message)
                if self._due():
                    self._flush(consumer, stop)
                if until_idle and not messages and self._caught_up(consumer):
                    break
                if timeout_s is not None and time.monotonic() - started > timeout_s:
                    raise SinkError("until idle", f"not caught up after {timeout_s:.0f}s")
            if self._buffered:  # one attempt once stopped; unconfirmed offsets are read again
                self._flush(consumer, stop)
        except _Stopped:
            log.info("sink stopped while waiting for the warehouse; nothing more was written")
        finally:
            self._commit_confirmed(consumer)
            consumer.close()
            if reads is not None:
                reads.close()
            if self._owns_warehouse and self._warehouse is not None:
                self._warehouse.close()
                self._warehouse = None
            self.stats.seconds = round(time.monotonic() - started, 3)
        return self.stats

    @property
    def warehouse(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = connect(self._endpoints.warehouse_url)
        return self._warehouse

    def _consumer(self) -> Consumer:
        config: dict[str, Any] = {
            **self._endpoints.kafka_config(),
            "group.id": self.options.group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "fetch.max.bytes": 64 * 1024 * 1024,
            "queued.max.messages.kbytes": 256 * 1024,
        }
        try:
            return Consumer(config)
        except KafkaException as exc:
            raise SinkError("create consumer", exc) from exc

    def _start(self, consumer: Consumer) -> None:
        """Migrate, settle what the last run left, and assign every partition where it resumes."""
        migrate(self.warehouse)
        ledger = RangeLedger(self.warehouse)
        statuses = ledger.statuses(self._specs)
        for status in pending_ranges(statuses):
            verdict = ledger.settle(status, self._specs[status.range.topic].name)
            if verdict is RangeState.CONFIRMED:
                self.stats.settled_confirmed += 1
            else:
                self.stats.settled_aborted += 1
        statuses = ledger.statuses(self._specs)
        resume = resume_offsets(statuses)
        self._redo = redo_bounds(statuses)
        assignment = []
        for topic in self._specs:
            for partition in self._partitions(consumer, topic):
                offset = resume.get((topic, partition))
                assignment.append(
                    TopicPartition(topic, partition, OFFSET_BEGINNING if offset is None else offset)
                )
                self._next[(topic, partition)] = offset
        consumer.assign(assignment)

    def _partitions(self, consumer: Consumer, topic: str) -> list[int]:
        try:
            metadata = consumer.list_topics(topic, timeout=10)
        except KafkaException as exc:
            raise SinkError(f"read metadata of {topic}", exc) from exc
        found = metadata.topics.get(topic)
        if found is None or found.error is not None:
            error = SinkError(f"topic {topic}", found.error if found else "not found")
            error.hint = "create the hub's topics with `dossierhub topics apply`"
            raise error
        return sorted(found.partitions)

    def _watermarks(self, consumer: Consumer, key: TopicPartitionKey) -> tuple[int, int]:
        """(low, high) watermarks: librdkafka's, as of the last fetch response (no request);
        asked of the broker only when no fetch has told them yet."""
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(*key), cached=True)
            if low < 0 or high < 0:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(*key), timeout=10, cached=False
                )
        except KafkaException as exc:
            raise SinkError(f"watermarks of {key[0]}[{key[1]}]", exc) from exc
        return int(low), int(high)

    def _take(self, message: Any) -> None:
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                return
            raise SinkError(f"consume {message.topic()}[{message.partition()}]", error)
        key = (message.topic(), message.partition())
        self._buffer.setdefault(key, _Buffered()).messages.append(message)
        self._buffered += 1
        self._next[key] = message.offset() + 1
        if self._oldest is None:
            self._oldest = time.monotonic()

    def _due(self) -> bool:
        if not self._buffered:
            return False
        if self._buffered >= self.options.batch_rows:
            return True
        return self._oldest is not None and (
            time.monotonic() - self._oldest >= self.options.batch_seconds
        )

    def _caught_up(self, consumer: Consumer) -> bool:
        if self._buffered:
            return False
        now = time.monotonic()
        if now - self._idle_checked < 0.2:
            return False
        self._idle_checked = now
        for key, position in self._next.items():
            low, high = self._watermarks(consumer, key)
            if (low if position is None else position) < high:
                return False
        return True

    # -- one batch ----------------------------------------------------------------------------
    def _flush(self, consumer: Consumer, stop: threading.Event) -> None:
        lookup = self._schema_lookup()
        ranges: list[tuple[OffsetRange, int]] = []
        tables: dict[str, TableRows] = {}
        dead = DeadLetter()
        for key, buffered in sorted(self._buffer.items()):
            messages = buffered.messages
            spec = self._specs[key[0]]
            rows = tables.setdefault(spec.name, TableRows(spec))
            offsets = [m.offset() for m in messages]
            for start, end in cut(key, offsets, self._redo.get(key)):
                count = 0
                for message in messages[start:end]:
                    value = message.value()
                    if value is None:  # a tombstone of a compacted topic: nothing to store
                        continue
                    decode_into(value, (key[0], key[1], message.offset()), lookup, rows, dead)
                    count += 1
                ranges.append(
                    (OffsetRange(key[0], key[1], offsets[start], offsets[end - 1]), count)
                )
        batches = [t.batch() for t in tables.values() if t.rows]
        if dead.rows:
            batches.append(dead.batch())
        attempts = 0

        def attempt() -> None:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                for batch in batches:
                    self.metrics.sink_retried(batch.table)
            self._write(ranges, batches, retry=attempts > 1)

        self._retrying(stop, "write", attempt)
        self.stats.messages += self._buffered
        self.stats.rows += sum(t.rows for t in tables.values())
        self.stats.dead_letters += dead.rows
        self.stats.ranges += len(ranges)
        self.stats.batches += 1
        self.metrics.event_in("sink", self._buffered)
        for key, buffered in self._buffer.items():
            # the Kafka timestamp of the newest record stored: when the event reached the hub
            kind, stamp = buffered.messages[-1].timestamp()
            if kind != TIMESTAMP_NOT_AVAILABLE:
                self.metrics.warehouse_newest(key[0], datetime.fromtimestamp(stamp / 1000, UTC))
        commits = [TopicPartition(r.topic, r.partition, r.last + 1) for r, _ in ranges]
        for offset_range, _ in ranges:
            self._redo.pop(offset_range.key, None)
            self._confirmed[offset_range.key] = offset_range.last + 1
        self._buffer.clear()
        self._buffered = 0
        self._oldest = None
        try:
            consumer.commit(offsets=commits, asynchronous=True)
        except KafkaException as exc:  # only lag monitoring reads it: never fatal
            log.warning("offset commit failed (the warehouse record is what counts): %s", exc)

    def _commit_confirmed(self, consumer: Consumer) -> None:
        """One synchronous commit on the way out: async ones may still be in flight."""
        if not self._confirmed:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in sorted(self._confirmed.items())]
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            log.warning("final offset commit failed (the warehouse record is what counts): %s", exc)

    def _write(
        self, ranges: list[tuple[OffsetRange, int]], batches: list[ColumnBatch], *, retry: bool
    ) -> None:
        """pending → rows → confirmed; a retry first settles what the failed attempt left."""
        ledger = RangeLedger(self.warehouse)
        if retry and self._settled_after_failure(ledger, ranges):
            return
        ledger.record(ranges, RangeState.PENDING)
        timings = []
        for batch in batches:
            started = time.monotonic()
            self.warehouse.insert_columns(batch)
            timings.append((batch, time.monotonic() - started))
        ledger.record(ranges, RangeState.CONFIRMED)
        for batch, seconds in timings:  # counted once confirmed, not per attempt
            self.metrics.sink_inserted(batch.table, rows=batch.rows, seconds=seconds)
            self.metrics.event_out("sink", batch.table, batch.rows)

    def _settled_after_failure(
        self, ledger: RangeLedger, ranges: list[tuple[OffsetRange, int]]
    ) -> bool:
        """After a failed attempt: settle what it left; True if it had in fact completed."""
        wanted = {r for r, _ in ranges}
        statuses = [s for s in ledger.statuses({r.topic for r in wanted}) if s.range in wanted]
        for status in statuses:
            if status.state is RangeState.PENDING:
                verdict = ledger.settle(status, self._specs[status.range.topic].name)
                if verdict is RangeState.CONFIRMED:
                    self.stats.settled_confirmed += 1
                    return True
                self.stats.settled_aborted += 1
            elif status.state is RangeState.CONFIRMED:
                return True
        return False

    def _schema_lookup(self) -> SchemaLookup:
        if self._lookup is None:
            self._lookup = RawWriterSchemas.connect(self._endpoints.registry_url)
        return self._lookup

    # -- retries ----------------------------------------------------------------------------
    def _retrying(self, stop: threading.Event, what: str, action: Callable[[], _T]) -> _T:
        pause = 0.1
        while True:
            try:
                result = action()
            except WarehouseError as exc:
                self.stats.retries += 1
                if self._failing is None:
                    log.warning("warehouse unavailable (%s): %s; retrying", what, exc.one_line())
                self._failing = str(exc)
                if stop.wait(pause):
                    raise _Stopped from exc
                pause = min(pause * 2, self.options.max_backoff_s)
                continue
            if self._failing is not None:
                log.warning("warehouse available again (%s)", what)
                self._failing = None
            return result
