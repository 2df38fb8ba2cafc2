"""The publisher trusts an acknowledgement only when it comes after the partition's previous one:
an idempotent producer's acknowledgements of a partition arrive in offset order, and one at or
before the latest is a batch the broker took for a copy of an earlier one (it appended nothing).
The broker's side of that is not provoked here; a scripted producer plays it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
from confluent_kafka import Producer

from producers import DeliveryError, Publisher
from schemas import example_event

AGENCY = "000.00.15.H29"  # the example events' agency


@dataclass
class _Acknowledged:
    """What a delivery report carries (the part of ``confluent_kafka.Message`` read)."""

    _topic: str
    _partition: int
    _offset: int
    _key: bytes
    _value: bytes

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return self._key

    def value(self) -> bytes:
        return self._value


class _ScriptedProducer:
    """Acknowledges every record on partition 0 at the next offset of ``offsets``."""

    def __init__(self, offsets: Iterator[int]) -> None:
        self.offsets = offsets
        self.pending: list[tuple[Callable[[Any, Any], None], _Acknowledged]] = []

    def produce(
        self, topic: str, value: bytes, key: bytes, on_delivery: Callable[[Any, Any], None]
    ) -> None:
        self.pending.append((on_delivery, _Acknowledged(topic, 0, next(self.offsets), key, value)))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        pending, self.pending = self.pending, []
        for report, message in pending:
            report(None, message)
        return 0


def _id(n: int) -> str:
    return str(uuid.UUID(int=n + 1))


def _publisher(offsets: list[int]) -> Publisher:
    producer = cast(Producer, _ScriptedProducer(iter(offsets)))
    return Publisher(AGENCY, bootstrap="", schema_id_of=lambda _: 1, producer=producer)


def test_acknowledgements_in_offset_order_are_deliveries() -> None:
    publisher = _publisher([0, 1, 5])
    for n in range(3):
        publisher.publish(example_event("DossierReceived", event_id=_id(n)))
    assert publisher.flush() == 3


def test_an_acknowledgement_not_after_the_latest_is_undelivered_and_sent_again() -> None:
    publisher = _publisher([0, 1, 1, 2])
    events = [example_event("DossierReceived", event_id=_id(n)) for n in range(3)]
    for event in events:
        publisher.publish(event)
    with pytest.raises(DeliveryError) as caught:
        publisher.flush()
    [lost] = caught.value.undelivered
    assert lost.event_id == str(events[2]["envelope"]["event_id"])
    assert "offset 1" in lost.reason
    assert "latest acknowledgement (1)" in lost.reason
    assert publisher.retry_undelivered() == 1
    assert publisher.flush() == 3  # appended this time, at offset 2
