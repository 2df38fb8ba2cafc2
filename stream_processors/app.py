"""The Faust app of the hub's stream processors: the validator, the dossier agent and the
catalog/reference reader, wired to the pure stages in ``validator`` and ``dossiers``.

Topology (one consumer group, the app id)::

    hub.inbound.<agency> ──validate──▶ hub.dossier.intake ──dossiers──▶ hub.dossier.events
                              │   └──▶ hub.catalog/feedback/reference.events   ├─▶ outcomes, alerts
                              └──▶ hub.deadletter ◀─────────────────────────────┘
    hub.catalog.events + hub.reference.events ──reference──▶ procedure levels, working calendar

The inbound topics are those that exist when the app is built: faust-streaming's aiokafka
driver cannot subscribe by pattern (it subscribes to topic names only; its source says "pattern
does not work"), so an agency added later is read after the next restart.

Every record is read and written as raw bytes (``value_serializer="raw"``): the hub forwards the
agencies' bytes unchanged and encodes its own facts with ``schemas.serde``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import faust

from schemas.topics import (
    CATALOG_EVENTS,
    DEADLETTER,
    DOSSIER_ALERTS,
    DOSSIER_EVENTS,
    DOSSIER_INTAKE,
    DOSSIER_OUTCOMES,
    FEEDBACK_EVENTS,
    REFERENCE_EVENTS,
    TopicKind,
    TopicSpec,
)
from stream_processors.dossier import WorkingCalendar

from .config import ProcessorConfig
from .handlers import Counters, Handlers, Record
from .lookups import Lookups
from .messages import Outgoing

__all__ = ["TABLE_NAME", "Processors", "build_app", "changelog_topics"]

_log = logging.getLogger(__name__)

TABLE_NAME: Final = "dossier_state"
#: partitions of the intake topic, the table and its changelog (schemas/topics.py)
_DOSSIER_PARTITIONS: Final = 6
_OUTPUTS: Final = (
    DOSSIER_INTAKE,
    DOSSIER_EVENTS,
    CATALOG_EVENTS,
    FEEDBACK_EVENTS,
    REFERENCE_EVENTS,
    DOSSIER_OUTCOMES,
    DOSSIER_ALERTS,
    DEADLETTER,
)

_Handler = Callable[[Record], Awaitable[list[Outgoing]]]


@dataclass
class Processors:
    """The app and what its agents share."""

    app: faust.App
    config: ProcessorConfig
    inbound_topics: tuple[str, ...]
    handlers: Handlers

    @property
    def counters(self) -> Counters:
        return self.handlers.counters

    @property
    def group_topics(self) -> dict[str, tuple[str, ...]]:
        """Consumer group → the topics it reads (for the lag check)."""
        own = (*self.inbound_topics, DOSSIER_INTAKE, CATALOG_EVENTS, REFERENCE_EVENTS)
        return {self.config.app_id: own}


def changelog_topics(config: ProcessorConfig) -> tuple[TopicSpec, ...]:
    """The changelog of the dossier table, as Faust names and shapes it.

    Created before the worker starts, like every other topic: on a fresh cluster the topic
    Faust creates at start-up shows up in its consumer's metadata with 0 partitions for a
    moment, and the table then refuses every write (PartitionsMismatch).
    """
    replicas = config.replication_factor
    return (
        TopicSpec(
            name=f"{config.app_id}-{TABLE_NAME}-changelog",
            kind=TopicKind.STATE,
            partitions=_DOSSIER_PARTITIONS,
            replication_factor=replicas,
            config={
                "cleanup.policy": "compact",
                "min.insync.replicas": "2" if replicas >= 3 else "1",
            },
            description=f"changelog of the {TABLE_NAME} table of {config.app_id}",
        ),
    )


def build_app(
    config: ProcessorConfig,
    inbound_topics: Sequence[str],
    *,
    lookups: Lookups | None = None,
    calendar: WorkingCalendar | None = None,
) -> Processors:
    """The app for ``config``; reads the given inbound topics (which must exist)."""
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
        # web_host only names the URL; web_bind is the address the server listens on.
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        web_port=config.web_port,
        autodiscover=False,
        # A single worker has no one to keep standby copies of the tables for.
        table_standby_replicas=0,
    )
    table = app.Table(TABLE_NAME, default=None, partitions=_DOSSIER_PARTITIONS)
    handlers = Handlers(
        config=config,
        lookups=lookups or Lookups.connect(config.registry_url),
        table=table,
        calendar=calendar or WorkingCalendar(),
    )
    processors = Processors(app, config, tuple(sorted(inbound_topics)), handlers)
    outputs = {name: _raw_topic(app, name) for name in _OUTPUTS}

    async def send(messages: Iterable[Outgoing]) -> None:
        for message in messages:
            handlers.counters.sent[message.topic] += 1
            await outputs[message.topic].send(
                key=message.key, value=message.value, headers=list(message.headers) or None
            )

    async def each(stream: faust.StreamT[bytes], handle: _Handler) -> None:
        async for event in stream.events():
            record: Record = event.message
            try:
                messages = await handle(record)
            except Exception as exc:  # a poison record must not stop the stream
                messages = handlers.failed(record, exc)
            await send(messages)

    if processors.inbound_topics:

        @app.agent(_raw_topic(app, *processors.inbound_topics), name="validate")
        async def validate(stream: faust.StreamT[bytes]) -> None:
            await each(stream, handlers.validate)

    else:
        _log.warning("no inbound topic exists: the validator has nothing to read")

    @app.agent(_raw_topic(app, DOSSIER_INTAKE), name="dossiers")
    async def dossiers(stream: faust.StreamT[bytes]) -> None:
        await handlers.prepare_dossiers()
        await each(stream, handlers.dossier)

    @app.agent(_raw_topic(app, CATALOG_EVENTS, REFERENCE_EVENTS), name="reference")
    async def reference(stream: faust.StreamT[bytes]) -> None:
        await each(stream, handlers.reference)

    return processors


def _raw_topic(app: faust.App, *names: str) -> faust.TopicT:
    return app.topic(*names, key_serializer="raw", value_serializer="raw")
