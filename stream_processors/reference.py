"""Every worker reads the whole catalog and reference topics, outside the consumer group.

The dossier agent needs each procedure's authority level and the published working calendars
on *every* worker, whichever intake partitions it owns. A Faust agent on those topics would get
their single partition on one worker only, so each worker runs this reader instead: a plain
consumer assigned every partition from the start, committing nothing. Before the dossier agent
folds its first batch it waits (bounded) until the reader has reached the ends the topics had
when it started, so a catalog published before the dossiers is known when they are folded,
in a live run and in a replay alike.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from dossierhub.errors import ServiceUnreachableError

__all__ = ["ReferenceReader"]

_log = logging.getLogger(__name__)
_POLL_S: Final = 0.5
_BATCH: Final = 500


class ReferenceReader:
    def __init__(
        self,
        kafka: Mapping[str, Any],
        topics: Sequence[str],
        observe: Callable[[bytes], Awaitable[None]],
    ) -> None:
        self._kafka = dict(kafka)
        self._topics = tuple(topics)
        self._observe = observe
        #: set once the records that existed at start have all been observed
        self.caught_up = asyncio.Event()
        self.observed = 0

    async def run(self) -> None:
        """Read until cancelled."""
        consumer = Consumer(
            {
                **self._kafka,
                # librdkafka wants a group id even for assign(); nothing is ever committed
                "group.id": f"dossierhub-reference-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.partition.eof": False,
            }
        )
        try:
            ends = await asyncio.to_thread(self._assign_all, consumer)
            while True:
                if not self.caught_up.is_set() and self._reached(consumer, ends):
                    self.caught_up.set()
                    _log.info("reference topics read: %d records", self.observed)
                messages = await asyncio.to_thread(consumer.consume, _BATCH, _POLL_S)
                for message in messages:
                    if message.error() is not None:
                        _log.warning("reference reader: %s", message.error())
                        continue
                    await self._observe(message.value() or b"")
                    self.observed += 1
        finally:
            await asyncio.to_thread(consumer.close)

    def _assign_all(self, consumer: Consumer) -> dict[TopicPartition, int]:
        """Assign every partition from its beginning; returns each one's end now."""
        try:
            metadata = consumer.list_topics(timeout=30)
        except KafkaException as exc:
            bootstrap = str(self._kafka.get("bootstrap.servers"))
            raise ServiceUnreachableError("kafka", bootstrap, str(exc)) from exc
        partitions = [
            TopicPartition(topic, p, OFFSET_BEGINNING)
            for topic in self._topics
            if topic in metadata.topics
            for p in metadata.topics[topic].partitions
        ]
        ends = {}
        for tp in partitions:
            low, high = consumer.get_watermark_offsets(tp, timeout=30)
            if high > low:
                ends[TopicPartition(tp.topic, tp.partition)] = high
        consumer.assign(partitions)
        return ends

    @staticmethod
    def _reached(consumer: Consumer, ends: Mapping[TopicPartition, int]) -> bool:
        if not ends:
            return True
        positions = consumer.position(list(ends))
        return all(tp.offset >= ends[TopicPartition(tp.topic, tp.partition)] for tp in positions)
