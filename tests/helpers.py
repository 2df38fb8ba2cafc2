"""Helpers for tests: run the CLI as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from dossierhub.settings import Settings
from dossierhub.stack import Stack
from schemas.admin import TopicAdmin
from schemas.evolution import apply_schemas
from schemas.registry import Registry
from schemas.topics import canonical_topics

REPO = Path(__file__).resolve().parent.parent


def run_cli(
    *args: str, home: Path, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``dossierhub`` as a user would, with a clean DOSSIERHUB_* environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIERHUB_")}
    clean["DOSSIERHUB_HOME"] = str(home)
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "dossierhub.cli", *args],
        capture_output=True,
        text=True,
        env=clean,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )


def as_json(event: Mapping[str, Any]) -> dict[str, Any]:
    """An Avro-ready event as an agency exports it in JSON lines: ISO strings for instants,
    dates and UUIDs."""
    text = json.dumps(event, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v))
    data: dict[str, Any] = json.loads(text)
    return data


@contextmanager
def isolated_stack(home: Path) -> Iterator[Stack]:
    """A broker and registry of their own in ``home``, with the contract applied."""
    local = Stack(Settings(home=home))
    local.up(only=("kafka", "registry"), progress=lambda line: None)
    try:
        admin = TopicAdmin({"bootstrap.servers": local.kafka.bootstrap})
        topics = admin.apply(canonical_topics(replication_factor=1))
        assert all(r.ok for r in topics), [r.as_dict() for r in topics if not r.ok]
        subjects = apply_schemas(Registry(local.registry.url))
        assert all(r.ok for r in subjects), [r.as_dict() for r in subjects if not r.ok]
        yield local
    finally:
        local.down(progress=lambda line: None)


@dataclass(frozen=True)
class Record:
    """One record as read back by :func:`read_topic` (a tombstone's value is ``b""``)."""

    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    partition: int
    offset: int


def read_topic(bootstrap: str, topic: str) -> list[Record]:
    """Every record of ``topic`` up to its current end (bounded: no waiting for more)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-read-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        records: list[Record] = []
        while ends:
            message = consumer.poll(10)
            assert message is not None, f"{topic}: no record within 10 s, {ends} left"
            assert message.error() is None, message.error()
            partition, offset = message.partition(), message.offset()
            records.append(
                Record(
                    message.key(),
                    message.value() or b"",
                    {k: v for k, v in message.headers() or ()},
                    partition,
                    offset,
                )
            )
            if offset + 1 >= ends.get(partition, 0):
                ends.pop(partition, None)
        return records
    finally:
        consumer.close()
