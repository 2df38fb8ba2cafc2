"""Helpers for the sink's tests: a topic of synthetic dossier events, and what it should load."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic

from producers import Publisher
from producers.synthetic import lifecycles
from schemas.registry import SchemaIds

AGENCY = "000.00.15.H29"


def create_topic(bootstrap: str, topic: str, partitions: int = 6) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(timeout=30)


def synthetic_events(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """Exactly ``count`` events of synthetic dossier lifecycles (about 3 events a dossier)."""
    return itertools.islice(lifecycles(count // 3 + 1, agencies=[AGENCY], seed=seed), count)


def publish(bootstrap: str, registry_url: str, topic: str, events: list[dict[str, Any]]) -> None:
    """Publish ``events`` to ``topic`` with the SDK (validated, framed, acks=all)."""
    with Publisher(
        AGENCY, bootstrap=bootstrap, schema_id_of=SchemaIds.connect(registry_url).id_of, topic=topic
    ) as publisher:
        for event in events:
            publisher.publish(event)
        publisher.flush()


def expected_counts(events: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    """(event_type, dossier_code's day part) -> count: what the warehouse must aggregate to."""
    return Counter((e["envelope"]["event_type"], e["dossier_code"].split("-")[1]) for e in events)
