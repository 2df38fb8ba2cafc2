"""Consumer-group lag, and "has every group caught up?" — for ``dossierhub run --until-idle``,
the demo and the tests. (:mod:`dossierhub.monitoring.reader` reads the same figures for any
group on the cluster, with time lag and owners, for ``dossierhub lag`` and the exporter.)

A group has caught up when, on every partition of the topics it reads, its committed offset
equals the log end (a partition it never committed is caught up only if it holds no record).
Committed offsets are read *before* the log ends: anything produced in between shows up as lag,
so a pipeline whose first stage has just handed records to the second is never taken for idle.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from confluent_kafka import Consumer, KafkaException, TopicPartition

from dossierhub.errors import ServiceUnreachableError

__all__ = ["IdleWatch", "PartitionLag", "all_caught_up", "group_lag"]

_NO_OFFSET: Final = -1001  # librdkafka's OFFSET_INVALID: the group never committed here


@dataclass(frozen=True, slots=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    #: the group's committed offset (the next record it will read), None if never committed
    committed: int | None
    #: first and one-past-last offsets of the partition's log
    start: int
    end: int
    #: timestamp (ms) of the record at the group's position — the oldest unconsumed one — if
    #: it was read; None when caught up or not read
    oldest_ms: int | None = None
    #: whether a live member of the group is assigned the partition; None if not looked up
    assigned: bool | None = None

    @property
    def position(self) -> int:
        """The next offset the group reads: its commit, or the log start (never committed, or
        committed before what retention kept)."""
        return self.start if self.committed is None else max(self.committed, self.start)

    @property
    def lag(self) -> int:
        return max(0, self.end - self.position)

    def time_lag_s(self, now_s: float) -> float | None:
        """How old the oldest unconsumed record is: 0 when caught up, None if its timestamp is
        unknown."""
        if self.lag == 0:
            return 0.0
        if self.oldest_ms is None:
            return None
        return max(0.0, now_s - self.oldest_ms / 1000)


def group_lag(
    kafka_config: Mapping[str, Any],
    groups: Mapping[str, Iterable[str]],
    *,
    timeout_s: float = 10.0,
) -> list[PartitionLag]:
    """Lag of each ``group`` on every partition of its topics (topics that do not exist are
    skipped: nothing to read)."""
    out: list[PartitionLag] = []
    for group in sorted(groups):
        # A consumer carrying the group's id, never subscribed: it reads the group's offsets
        # without joining the group. (AdminClient.list_consumer_group_offsets crashes the
        # process when the coordinator is not ready yet, e.g. on a fresh cluster: librdkafka
        # issue 5040.)
        consumer = Consumer(
            {
                **kafka_config,
                "group.id": group,
                "enable.auto.commit": False,
                "enable.partition.eof": False,
            }
        )
        try:
            out.extend(_lag_of(consumer, group, set(groups[group]), timeout_s))
        except KafkaException as exc:
            raise ServiceUnreachableError(
                "kafka", str(kafka_config.get("bootstrap.servers")), str(exc)
            ) from exc
        finally:
            consumer.close()
    return out


def _lag_of(
    consumer: Consumer, group: str, topics: set[str], timeout_s: float
) -> list[PartitionLag]:
    metadata = consumer.list_topics(timeout=timeout_s)
    tps = [
        TopicPartition(topic, partition)
        for topic in sorted(topics & set(metadata.topics))
        for partition in sorted(metadata.topics[topic].partitions)
    ]
    if not tps:
        return []
    committed = {  # first: see the module docstring
        (tp.topic, tp.partition): tp.offset
        for tp in consumer.committed(tps, timeout=timeout_s)
        if tp.error is None and tp.offset != _NO_OFFSET
    }
    lags = []
    for tp in tps:
        start, end = consumer.get_watermark_offsets(tp, timeout=timeout_s, cached=False)
        lags.append(
            PartitionLag(
                group, tp.topic, tp.partition, committed.get((tp.topic, tp.partition)), start, end
            )
        )
    return lags


def all_caught_up(lags: Iterable[PartitionLag]) -> bool:
    return all(p.lag == 0 for p in lags)


class IdleWatch:
    """True once the groups have been caught up at every check for ``idle_s`` seconds.

    The window absorbs the time a consumer takes to commit what it has processed (Faust
    commits every few seconds) and the hand-offs between stages.
    """

    def __init__(self, idle_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_s = idle_s
        self._clock = clock
        self._since: float | None = None

    def update(self, caught_up: bool) -> bool:
        now = self._clock()
        if not caught_up:
            self._since = None
            return False
        if self._since is None:
            self._since = now
        return now - self._since >= self.idle_s
