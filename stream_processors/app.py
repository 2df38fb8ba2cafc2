"""The Faust app of the hub's stream processors: the validator, the dossier agent and the
catalog/reference reader, wired to the pure stages in ``validator`` and ``dossiers``.

Topology (one consumer group, the app id)::

    hub.inbound.<agency> ──validate──▶ hub.dossier.intake ──dossiers──▶ hub.dossier.events
                              │   └──▶ hub.catalog/feedback/reference.events   ├─▶ outcomes, alerts
                              └──▶ hub.deadletter ◀─────────────────────────────┤
                                                                hub.aggregates ◀┘
    hub.catalog.events + hub.reference.events ──every worker, outside the group (``reference``)
                                                  ──▶ procedure levels, working calendar

Built without inbound topics (``dossierhub run --rebuild``) the app has no validator: it folds
the already validated intake log from its start, which is how the projections are rebuilt.

The inbound topics are those that exist when the app is built: faust-streaming's aiokafka
driver cannot subscribe by pattern (it subscribes to topic names only; its source says "pattern
does not work"), so an agency added later is read after the next restart.

Every record is read and written as raw bytes (``value_serializer="raw"``): the hub forwards the
agencies' bytes unchanged and encodes its own facts with ``schemas.serde``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import weakref
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, NoReturn, cast

import faust
import orjson
from faust.streams import _current_event
from faust.types import TP, StoreT, TableT

from dossierhub.monitoring import LagMetrics, StageMetrics
from dossierhub.monitoring.faust_views import register_metrics_views
from schemas.topics import (
    CATALOG_EVENTS,
    DEADLETTER,
    DOSSIER_INTAKE,
    REFERENCE_EVENTS,
    TopicKind,
    TopicSpec,
    inbound_agency,
)
from stream_processors.dossier import WorkingCalendar

from .alignment import for_consumer
from .commits import commit_folded, commit_next
from .config import ProcessorConfig
from .handlers import Counters, Handlers
from .inbound_gaps import InboundGaps
from .intake import POSITION_PREFIX, WATERMARK_PREFIX, IntakeBatch, position_value
from .lookups import Lookups
from .messages import HEADER_REASON, Outgoing, Source
from .produce import Record, produce
from .reference import ReferenceReader
from .refill import IntakeReader
from .stuck import StuckPartitions
from .views import register_views
from .watchdog import Watchdog

__all__ = ["SLICES_TABLE", "TABLE_NAME", "Processors", "build_app", "changelog_topics"]

_log = logging.getLogger(__name__)

TABLE_NAME: Final = "dossier_state"
SLICES_TABLE: Final = "aggregate_slices"
#: partitions of the intake topic, the table and its changelog (schemas/topics.py)
_DOSSIER_PARTITIONS: Final = 6
#: the most bytes the producer puts in one partition's batch (under the 1,000,000-byte request
#: limit, which a request of several partitions' batches is split to respect)
_PRODUCER_BATCH_BYTES: Final = 512 * 1024


@dataclass
class Processors:
    """The app and what its agents share."""

    app: faust.App
    config: ProcessorConfig
    inbound_topics: tuple[str, ...]
    handlers: Handlers
    watchdog: Watchdog
    #: acts on the watchdog's readings (set once the agents are defined)
    stuck: StuckPartitions | None = None

    @property
    def counters(self) -> Counters:
        return self.handlers.counters

    @property
    def metrics(self) -> StageMetrics:
        return self.handlers.metrics

    @property
    def group_topics(self) -> dict[str, tuple[str, ...]]:
        """Consumer group → the topics it reads (for the lag check)."""
        return {self.config.app_id: (*self.inbound_topics, DOSSIER_INTAKE)}


def changelog_topics(config: ProcessorConfig) -> tuple[TopicSpec, ...]:
    """The changelogs of the processors' tables, as Faust names and shapes them.

    Created before the worker starts, like every other topic: on a fresh cluster the topic
    Faust creates at start-up shows up in its consumer's metadata with 0 partitions for a
    moment, and the table then refuses every write (PartitionsMismatch).
    """
    replicas = config.replication_factor
    return tuple(
        TopicSpec(
            name=f"{config.app_id}-{name}-changelog",
            kind=TopicKind.STATE,
            partitions=_DOSSIER_PARTITIONS,
            replication_factor=replicas,
            config={
                "cleanup.policy": "compact",
                "min.insync.replicas": "2" if replicas >= 3 else "1",
            },
            description=f"changelog of the {name} table of {config.app_id}",
        )
        for name in (TABLE_NAME, SLICES_TABLE)
    )


def _credentials(config: ProcessorConfig) -> faust.SASLCredentials | None:
    """Faust's (aiokafka's) form of the SASL settings, or None on a plaintext broker."""
    security = config.kafka_security
    if not security:
        return None
    return faust.SASLCredentials(
        username=security["sasl.username"],
        password=security["sasl.password"],
        mechanism=security["sasl.mechanism"],
    )


def build_app(
    config: ProcessorConfig,
    inbound_topics: Sequence[str],
    *,
    lookups: Lookups | None = None,
    calendar: WorkingCalendar | None = None,
) -> Processors:
    """The app for ``config``; reads the given inbound topics (which must exist)."""
    config.datadir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    app = faust.App(
        config.app_id,
        env={},  # no settings from the environment: the hub's Settings decided everything
        broker=config.broker_urls,
        store=config.store,
        datadir=str(config.datadir),
        processing_guarantee="at_least_once",
        topic_replication_factor=config.replication_factor,
        topic_partitions=_DOSSIER_PARTITIONS,
        consumer_auto_offset_reset="earliest",
        # web_host only names the URL; web_bind is the address the server listens on
        # (loopback unless DOSSIERHUB_HTTP_HOST says otherwise).
        web_bind=config.web_host,
        web_host=config.web_host,
        broker_credentials=_credentials(config),
        web_port=config.web_port,
        autodiscover=False,
        # A single worker has no one to keep standby copies of the tables for.
        table_standby_replicas=0,
        broker_session_timeout=config.session_timeout_s,
        broker_heartbeat_interval=config.session_timeout_s / 5,
        # One request in flight per broker (aiokafka): with Faust's 16 KiB batches a batch of
        # 2,000 records took dozens of sequential round trips before its acknowledgement.
        producer_max_batch_size=_PRODUCER_BATCH_BYTES,
    )
    # key_type=str: a key recovered from the changelog is the str it was written as.
    table = app.Table(TABLE_NAME, default=None, partitions=_DOSSIER_PARTITIONS, key_type=str)
    slices = app.Table(SLICES_TABLE, default=None, partitions=_DOSSIER_PARTITIONS, key_type=str)

    def assigned() -> frozenset[int]:
        return frozenset(
            tp.partition for tp in app.consumer.assignment() if tp.topic == DOSSIER_INTAKE
        )

    handlers = Handlers(
        config=config,
        lookups=lookups or Lookups.connect(config.registry_url),
        table=table,
        slices=slices,
        owned=assigned,
        intake_partitions=_DOSSIER_PARTITIONS,
        calendar=calendar or WorkingCalendar(),
        # the table's positions, not Faust's committed offsets, say what was folded
        refill=IntakeReader(config.kafka_client).read,
    )
    metrics = handlers.metrics
    watchdog = Watchdog.build(
        config.kafka_client,
        config.app_id,
        config.lag_policy,
        LagMetrics("local", registry=metrics.registry),
    )
    processors = Processors(app, config, tuple(sorted(inbound_topics)), handlers, watchdog)
    register_metrics_views(app, metrics.render, health=lambda: watchdog.healthy)

    def producer() -> Any:
        """The aiokafka producer under Faust's (``produce`` sends through its batch API)."""
        return app.producer._ensure_producer()  # type: ignore[attr-defined]

    async def send(messages: Iterable[Outgoing], stage: str) -> None:
        """Send and wait until every record is acknowledged. A record the broker refused is
        fatal: see ``_fail_stop``."""
        records: list[Record] = []
        for message in messages:
            handlers.counters.sent[message.topic] += 1
            metrics.event_out(stage, message.topic)
            if message.topic == DEADLETTER:
                metrics.dead_letter(stage, _reason(message))
                if agency := _inbound_agency_of(message):
                    metrics.rejected_from(agency, _reason(message))
            records.append((message.topic, None, message.key, message.value, message.headers))
        if not records:
            return
        try:
            await produce(producer(), records)
        except Exception as exc:
            _fail_stop(f"a record could not be sent: {type(exc).__name__}: {exc}")

    async def write(
        target: TableT[str, Any],
        changes: Iterable[tuple[int, str, Any]],
        last: Mapping[int, faust.EventT[bytes]],
    ) -> None:
        """Write table entries (None deletes) and their changelog records, and wait for the
        records to be acknowledged.

        The changelog records are produced here rather than by ``table[key] = value``: Faust
        queues those in a buffer drained one record per event-loop turn, which held the
        processors near 1,000 records/s. The bytes are the ones Faust writes (JSON key and
        value, the serializer of a ``key_type=str`` table), so its recovery reads them back.
        """
        topic = target.changelog_topic.get_topic_name()
        records: list[Record] = []
        for partition, key, value in changes:
            with _current(last[partition]):
                if value is None:
                    target.data.pop(key, None)
                else:
                    target.data[key] = value
            payload = None if value is None else _json_value(value)
            records.append((topic, partition, _json(key), payload, ()))
        if not records:
            return
        try:
            acknowledged = await produce(producer(), records)
        except Exception as exc:
            _fail_stop(f"the changelog could not be written: {type(exc).__name__}: {exc}")
        store = cast(StoreT[str, Any], target.data)  # TableT types it as a plain mapping
        for done in acknowledged:
            # What Faust's own changelog callback does: a RocksDB store then recovers from here.
            store.set_persisted_offset(TP(topic, done.partition), done.last_offset)

    async def persist(batch: IntakeBatch, events: Sequence[faust.EventT[bytes]]) -> None:
        """Outputs, then slices, then entries, then watermarks and positions, then deletions,
        each acknowledged before the next (the order ``intake`` relies on after a crash); then
        the positions are committed as the group's offsets (``commits``)."""
        await send(batch.messages, "dossier")
        last = {event.message.partition: event for event in events}
        await write(
            slices, ((s.partition, key, s.to_dict()) for key, s in batch.slices.items()), last
        )
        values = list(handlers.table_values(batch))
        await write(table, (v for v in values if v[2] is not None), last)
        handlers.counters.persisted(
            batch.sources,
            time.monotonic(),
            time.time_ns() // 1_000_000,
        )
        marks, positions, forwarded = handlers.watermarks, handlers.positions, handlers.forwarded
        await write(
            table,
            (
                *((p, f"{WATERMARK_PREFIX}{p}", marks[p].isoformat()) for p in batch.moved),
                *(
                    (p, f"{POSITION_PREFIX}{p}", position_value(positions[p], forwarded.get(p, {})))
                    for p in batch.touched
                ),
            ),
            last,
        )
        # Deletions (dossiers leaving the table) last: killed before them, the restart folds the
        # batch's records again, and an entry still there knows its records by offset, where a
        # deleted dossier's record would be taken for new. Killed after the positions, the
        # leftover entries are due for deletion and go at the next sweep.
        await write(table, (v for v in values if v[2] is None), last)
        done = {p: positions[p] for p in batch.touched}
        await commit_folded(app.consumer, DOSSIER_INTAKE, done, events=events)

    if processors.inbound_topics:
        alignment = handlers.alignment = for_consumer(app, config.kafka_client, config.app_id)
        gaps = handlers.inbound_gaps = InboundGaps(
            assignment=alignment.assignment,
            starts=lambda partitions: {
                p: start for p, (start, _end) in alignment.positions(partitions).items()
            },
            read=lambda topic, partition, start, end: IntakeReader(
                config.kafka_client, topic=topic
            ).read(partition, start, end),
        )

        @app.agent(_raw_topic(app, *processors.inbound_topics), name="validate")
        async def validate(stream: faust.StreamT[bytes]) -> None:
            async for events in _batches(stream, config):
                with _whole_batch_or_exit("validate"):
                    checked = await handlers.validate([event.message for event in events])
                    await send(checked, "validator")
                    # sent and acknowledged: commit what was validated
                    read = {(e.message.topic, e.message.partition) for e in events}
                    validated = {TP(*p): o for p, o in gaps.next_offsets(read).items()}
                    await commit_next(app.consumer, validated, events=events)

    else:
        _log.warning("no inbound topic exists: the validator has nothing to read")

    reader = ReferenceReader(
        config.kafka_client,
        (CATALOG_EVENTS, REFERENCE_EVENTS),
        handlers.reference,
    )
    app.task(reader.run)

    folding = asyncio.Event()  # set once the dossier stage has the catalog and folds

    @app.agent(_raw_topic(app, DOSSIER_INTAKE), name="dossiers")
    async def dossiers(stream: faust.StreamT[bytes]) -> None:
        await handlers.prepare_dossiers()
        await _wait_for(reader, config.reference_wait_s)
        folding.set()
        async for events in _batches(stream, config):
            with _whole_batch_or_exit("dossiers"):
                with _current(None):  # reads look in every partition
                    batch = await handlers.dossier_batch([event.message for event in events])
                await persist(batch, events)

    processors.stuck = _stuck_partitions(app, processors, folding)
    register_views(app, processors)
    return processors


def _stuck_partitions(
    app: faust.App, processors: Processors, folding: asyncio.Event
) -> StuckPartitions:
    """``stuck`` over this worker's consumer: what each stage has done of a partition is the
    dossier table's position, or the validator's next expected offset; the partitions wait on
    purpose in a rebalance, and until the dossier stage folds."""
    handlers, inbound = processors.handlers, set(processors.inbound_topics)

    def done_until(tp: TP) -> int | None:
        # 0 when not known yet (not indexed, not followed): the group's offset counts then
        if tp.topic == DOSSIER_INTAKE:
            folded = handlers.positions.get(tp.partition)
            return 0 if folded is None else folded + 1
        if tp.topic in inbound:
            gaps = handlers.inbound_gaps
            return 0 if gaps is None else gaps.following.get((tp.topic, tp.partition), 0)
        return None

    # app.consumer is read at each call: the attribute builds the consumer when first read
    def assignment() -> set[TP]:
        return app.consumer.assignment()

    async def seek(tp: TP, offset: int) -> None:
        await app.consumer.seek(tp, offset)

    async def commit(offsets: Mapping[TP, int]) -> None:
        await commit_next(app.consumer, offsets, events=())

    return StuckPartitions(
        assignment,
        done_until,
        seek,
        commit,
        paused=lambda: app.rebalancing or not folding.is_set(),
    )


async def _wait_for(reader: ReferenceReader, seconds: float) -> None:
    try:
        await asyncio.wait_for(reader.caught_up.wait(), seconds)
    except TimeoutError:
        # Folding without the whole catalog only leaves some levels UNKNOWN until it arrives;
        # stopping the stream for it would be worse.
        _log.warning(
            "the catalog/reference topics were not read within %.0fs (%d records so far); "
            "folding dossiers anyway",
            seconds,
            reader.observed,
        )


def _batches(
    stream: faust.StreamT[bytes], config: ProcessorConfig
) -> AsyncIterator[Sequence[faust.EventT[bytes]]]:
    """Up to ``batch_size`` events, or what came within ``batch_seconds``; the events are
    acknowledged once the loop body returns (faust-streaming's ``take_events``, which its
    ``StreamT`` interface does not declare)."""
    take_events = stream.take_events  # type: ignore[attr-defined]
    batches: AsyncIterator[Sequence[faust.EventT[bytes]]] = take_events(
        config.batch_size, config.batch_seconds
    )
    return batches


@contextmanager
def _whole_batch_or_exit(agent: str) -> Iterator[None]:
    """A batch is processed whole, or the process exits without committing it.

    ``take_events`` acknowledges a batch however its loop body ends, so a body cancelled by a
    shutdown or failed by a bug would have its records committed half-done. Exiting at once
    leaves them uncommitted: the next start reads them again, and applying them is idempotent.
    """
    try:
        yield
    except asyncio.CancelledError:
        _log.warning(
            "%s: stopped in the middle of a batch; exiting without committing it "
            "(it is read again at the next start)",
            agent,
        )
        logging.shutdown()
        os._exit(0)
    except Exception as exc:
        _fail_stop(f"{agent}: {type(exc).__name__}: {exc}")


@contextmanager
def _current(event: faust.EventT[bytes] | None) -> Iterator[None]:
    """Set the stream's *current event*, from which Faust picks a table's partition.

    - Writes (``event`` a record of the batch): a table write goes to the changelog (and
      RocksDB) partition of the current event, which ``take_events`` does not set; the writes
      of a partition are made with a record of that partition.
    - Reads (``None``): a RocksDB-backed table reads a key only from the current event's
      partition when one is set, and ``take_events`` leaves it at some record of the batch,
      another dossier's; with none set, the store looks in all of its partitions.
    """
    token = _current_event.set(None if event is None else weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def _fail_stop(reason: str) -> NoReturn:
    """Exit at once, committing nothing: the restarted worker reads the batch again.

    Raising would not do: ``Stream.take_events`` acknowledges a batch even when the body that
    processed it raised, and Faust's supervisor restarts the agent, so the offsets of records
    whose results were never written would be committed (a silent loss). Exiting like a
    ``kill -9`` keeps the at-least-once promise; a supervisor (systemd, Kubernetes) restarts it.
    """
    _log.critical("processors: %s; exiting without committing (exit 70)", reason)
    logging.shutdown()
    os._exit(70)


def _inbound_agency_of(message: Outgoing) -> str | None:
    """The agency whose inbound topic a dead letter came from (None: another source)."""
    source = Source.from_headers(message.headers)
    return None if source is None else inbound_agency(source.topic)


def _reason(message: Outgoing) -> str:
    for key, value in message.headers:
        if key == HEADER_REASON:
            return value.decode("utf-8", "replace")
    return "unknown"


def _json(data: Any) -> bytes:
    """A changelog key: exactly the bytes Faust's JSON serializer makes of it (compaction keeps
    the latest record per key bytes)."""
    return json.dumps(data, separators=(",", ":")).encode()


def _json_value(data: Any) -> bytes:
    """A changelog value: any JSON that Faust's recovery (``json.loads``) reads back the same.
    orjson is ~6x faster than ``json`` on the entries, whose encoding was 7% of the worker's
    time; it refuses what ``json`` takes (an integer beyond 64 bits), which then goes there."""
    try:
        return orjson.dumps(data)
    except TypeError:
        return _json(data)


def _raw_topic(app: faust.App, *names: str) -> faust.TopicT:
    return app.topic(*names, key_serializer="raw", value_serializer="raw")
