"""Read back intake records that Faust's consumer went past without any batch folding them.

The dossier table persists, per intake partition, the last offset its batches folded
(``~position|N``, written with each batch). Like the sink (``sinks/ranges.py``), the hub does
not trust Kafka's committed offsets for what it has done: when a batch brings a record beyond
that position + 1, ``Handlers.dossier_batch`` asks this reader for the records in between and
folds them first, in offset order.

Faust's consumer does go past records: a worker killed after folding 132 intake records had
committed offsets 49 records (over six partitions) beyond them, and its successor started
there. Two paths in faust-streaming 0.15 acknowledge records no agent saw:
``Stream._py_aiter`` acknowledges an event it skips because flow control is suspended or its
generation is stale (a rebalance; "we want to ack the filtered out message"), which
``take_events`` cannot prevent; and ``Consumer._drain_messages`` takes a jump in a partition's
offsets for a compacted gap, marks the offsets in between acknowledged (``_add_gap``) and drops
the records below the highest offset read (faust-streaming issues 216, 221, 606).

A plain confluent-kafka consumer assigned at an explicit offset, outside any group (nothing is
ever committed), run in a thread. Deterministic: the same range always gives the same records.
Records the topic no longer holds (deleted by retention) are simply absent from the answer;
the caller reports them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from dossierhub.errors import HubError
from schemas.topics import DOSSIER_INTAKE

__all__ = ["IntakeReader", "Refill", "RefillError", "RefilledRecord"]

#: records asked of librdkafka per call
_BATCH: Final = 1000


class RefillError(HubError):
    """A range of intake records could not be read back in time (broker down or slow)."""

    hint = "the worker exits without committing; it reads the range again at its next start"

    def __init__(self, topic: str, partition: int, start: int, end: int, reason: str) -> None:
        super().__init__(f"{topic}[{partition}]@{start}..{end - 1}: not read back: {reason}")
        self.topic = topic
        self.partition = partition
        self.start = start
        self.end = end


@dataclass(slots=True)  # not frozen: ``handlers.Record`` declares plain attributes
class RefilledRecord:
    """One intake record read back; has what ``handlers.Record`` names, as Faust's has."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    #: seconds since the epoch, as Faust's ``Message.timestamp``
    timestamp: float | None


@dataclass(frozen=True, slots=True)
class Refill:
    """What a read of ``[start, end)`` of one partition found."""

    partition: int
    start: int
    end: int
    #: the records found, in offset order
    records: tuple[RefilledRecord, ...]
    #: the partition's first offset still held (its low watermark) when read
    low: int

    @property
    def missing(self) -> int:
        """Offsets of the range without a record (deleted by retention before the read)."""
        return self.end - self.start - len(self.records)


class IntakeReader:
    """Reads ranges of the intake topic (or of ``topic``: the validator reads back inbound
    records the same way, ``inbound_gaps``) at explicit offsets; one short-lived consumer a
    read (gaps are rare: after a crash or a rebalance)."""

    def __init__(
        self, kafka: Mapping[str, Any], *, topic: str = DOSSIER_INTAKE, timeout_s: float = 30.0
    ) -> None:
        self._kafka = dict(kafka)
        self.topic = topic
        self._timeout_s = timeout_s

    async def read(self, partition: int, start: int, end: int) -> Refill:
        """The records of ``partition`` from ``start`` to ``end`` (excluded)."""
        return await asyncio.to_thread(self._read, partition, start, end)

    def _read(self, partition: int, start: int, end: int) -> Refill:
        consumer = Consumer(
            {
                **self._kafka,
                # librdkafka wants a group id even for assign(); nothing is ever committed
                "group.id": f"dossierhub-refill-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                # a start deleted meanwhile by retention: go on from the first record held
                "auto.offset.reset": "earliest",
            }
        )
        try:
            return self._read_with(consumer, partition, start, end)
        except KafkaException as exc:
            raise RefillError(self.topic, partition, start, end, str(exc)) from exc
        finally:
            consumer.close()

    def _read_with(self, consumer: Consumer, partition: int, start: int, end: int) -> Refill:
        deadline = time.monotonic() + self._timeout_s
        tp = TopicPartition(self.topic, partition)
        low, high = consumer.get_watermark_offsets(tp, timeout=self._timeout_s)
        first, stop = max(start, low), min(end, high)
        records: list[RefilledRecord] = []
        if first < stop:
            consumer.assign([TopicPartition(self.topic, partition, first)])
            while not _reached(consumer, tp, stop, records):
                left = deadline - time.monotonic()
                if left <= 0:
                    why = f"{len(records)} of {stop - first} records within {self._timeout_s:g}s"
                    raise RefillError(self.topic, partition, start, end, why)
                for message in consumer.consume(_BATCH, min(left, 1.0)):
                    error = message.error()
                    if error is not None and error.code() != KafkaError._PARTITION_EOF:
                        raise RefillError(self.topic, partition, start, end, str(error))
                    offset = message.offset()
                    if error is None and offset is not None and first <= offset < stop:
                        records.append(_copy(message, partition, offset))
        return Refill(partition, start, end, tuple(records), low)


def _reached(
    consumer: Consumer, tp: TopicPartition, stop: int, found: list[RefilledRecord]
) -> bool:
    if found and found[-1].offset >= stop - 1:
        return True
    # offsets without a record (a compaction, a transaction marker) never come: the position
    # says the consumer has gone past them
    (position,) = consumer.position([tp])
    return bool(position.offset >= stop)


def _copy(message: Message, partition: int, offset: int) -> RefilledRecord:
    kind, millis = message.timestamp()
    return RefilledRecord(
        topic=message.topic() or "",
        partition=partition,
        offset=offset,
        key=message.key(),
        value=message.value(),
        headers=_headers(message),
        timestamp=None if kind == 0 else millis / 1000,  # 0: TIMESTAMP_NOT_AVAILABLE
    )


def _headers(message: Message) -> tuple[tuple[str, bytes], ...]:
    found = message.headers() or ()
    items = found.items() if isinstance(found, dict) else found
    return tuple(
        (key, value.encode() if isinstance(value, str) else value or b"") for key, value in items
    )
