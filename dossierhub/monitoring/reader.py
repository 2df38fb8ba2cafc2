"""Lag of any consumer group on the cluster, as ``kafka-consumer-groups --describe`` shows it,
plus what that tool cannot show: how old the oldest unconsumed record is, and whether a live
member owns each partition (which tells a stalled consumer from a stopped one).

Per group the partitions are those it has committed offsets on or that a member is assigned,
as with Kafka's tool. Committed offsets are read before the log ends (see
:mod:`dossierhub.monitoring.lag`). The oldest unconsumed record's timestamp is read by a probe
consumer assigned to the group's position on each lagging partition: one fetch per partition,
never a commit, never a group join (so the probe shows up in no group listing).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from dossierhub.errors import ServiceUnreachableError

from .lag import PartitionLag

__all__ = ["LagReader"]

_NO_OFFSET: Final = -1001  # librdkafka's OFFSET_INVALID: the group never committed here
#: the probe's group id: librdkafka wants one, but the probe only assigns, so it never joins
_PROBE_GROUP: Final = "dossierhub-lag-probe"


@dataclass(frozen=True, slots=True)
class _Group:
    group: str
    #: the (topic, partition)s that a live member of the group is assigned
    assigned: frozenset[tuple[str, int]]


class LagReader:
    """Reads :class:`PartitionLag` of every (or the named) consumer groups."""

    def __init__(self, kafka_config: Mapping[str, Any], *, timeout_s: float = 10.0) -> None:
        self._config = dict(kafka_config)
        self._timeout_s = timeout_s
        self._admin = AdminClient(self._config)

    @property
    def bootstrap(self) -> str:
        return str(self._config.get("bootstrap.servers"))

    def read(self, groups: Collection[str] | None = None) -> list[PartitionLag]:
        """Lag per group, topic and partition, sorted; ``groups=None`` reads every group."""
        try:
            described = self._describe(sorted(groups) if groups else self._list_groups())
            out: list[PartitionLag] = []
            for group in described:
                out.extend(self._group_lag(group))
            return _with_oldest(self._config, out, self._timeout_s)
        except KafkaException as exc:
            raise ServiceUnreachableError("kafka", self.bootstrap, str(exc)) from exc

    def _list_groups(self) -> list[str]:
        listing = self._admin.list_consumer_groups(request_timeout=self._timeout_s).result()
        return sorted(g.group_id for g in listing.valid if g.group_id != _PROBE_GROUP)

    def _describe(self, groups: list[str]) -> list[_Group]:
        if not groups:
            return []
        futures = self._admin.describe_consumer_groups(groups, request_timeout=self._timeout_s)
        described = []
        for group in groups:
            description = futures[group].result()
            assigned = frozenset(
                (tp.topic, tp.partition)
                for member in description.members
                for tp in member.assignment.topic_partitions
            )
            described.append(_Group(group, assigned))
        return described

    def _group_lag(self, group: _Group) -> list[PartitionLag]:
        # A consumer carrying the group's id, never subscribed: it reads the group's offsets
        # without joining the group (see lag.group_lag for why not the AdminClient).
        consumer = Consumer({**self._config, "group.id": group.group, "enable.auto.commit": False})
        try:
            metadata = consumer.list_topics(timeout=self._timeout_s)
            tps = [
                TopicPartition(topic, partition)
                for topic in sorted(metadata.topics)
                if not topic.startswith("__")  # the cluster's own (offsets, transactions)
                for partition in sorted(metadata.topics[topic].partitions)
            ]
            if not tps:
                return []
            committed = {
                (tp.topic, tp.partition): tp.offset
                for tp in consumer.committed(tps, timeout=self._timeout_s)
                if tp.error is None and tp.offset != _NO_OFFSET
            }
            lags = []
            for tp in tps:
                key = (tp.topic, tp.partition)
                if key not in committed and key not in group.assigned:
                    continue
                start, end = consumer.get_watermark_offsets(
                    tp, timeout=self._timeout_s, cached=False
                )
                lags.append(
                    PartitionLag(
                        group.group,
                        tp.topic,
                        tp.partition,
                        committed.get(key),
                        start,
                        end,
                        assigned=key in group.assigned,
                    )
                )
            return lags
        finally:
            consumer.close()


def _with_oldest(
    config: Mapping[str, Any], lags: list[PartitionLag], timeout_s: float
) -> list[PartitionLag]:
    """``lags`` with the timestamp of the record at each lagging partition's position."""
    wanted = {(p.topic, p.partition, p.position) for p in lags if p.lag > 0}
    if not wanted:
        return lags
    found = _read_timestamps(config, wanted, timeout_s)
    return [
        _replace_oldest(p, found.get((p.topic, p.partition, p.position))) if p.lag > 0 else p
        for p in lags
    ]


def _replace_oldest(lag: PartitionLag, oldest_ms: int | None) -> PartitionLag:
    return PartitionLag(
        lag.group,
        lag.topic,
        lag.partition,
        lag.committed,
        lag.start,
        lag.end,
        oldest_ms=oldest_ms,
        assigned=lag.assigned,
    )


def _read_timestamps(
    config: Mapping[str, Any], wanted: set[tuple[str, int, int]], timeout_s: float
) -> dict[tuple[str, int, int], int]:
    """Timestamp (ms) of the first record at or after each (topic, partition, offset); those
    not read within ``timeout_s`` (e.g. deleted under our feet) are left out."""
    probe = Consumer(
        {
            **config,
            "group.id": _PROBE_GROUP,
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            # only the first record of each partition is wanted
            "fetch.max.bytes": 1 << 20,
            "max.partition.fetch.bytes": 1 << 16,
        }
    )
    try:
        pending = {(topic, partition): offset for topic, partition, offset in wanted}
        probe.assign([TopicPartition(t, p, o) for (t, p), o in pending.items()])
        found: dict[tuple[str, int, int], int] = {}
        deadline = time.monotonic() + timeout_s
        while pending and time.monotonic() < deadline:
            message = probe.poll(min(0.5, max(0.0, deadline - time.monotonic())))
            if message is None or message.error() is not None:
                continue
            key = (message.topic(), message.partition())
            if key not in pending:
                continue
            _, timestamp_ms = message.timestamp()
            found[(*key, pending.pop(key))] = timestamp_ms
            probe.pause([TopicPartition(*key)])
        return found
    finally:
        probe.close()
