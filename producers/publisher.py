"""The publisher SDK: how an agency system puts events on the hub without losing or corrupting one.

    from dossierhub import Settings
    from producers import Publisher

    with Publisher.connect("000.00.15.H29", Settings.from_env()) as publisher:
        publisher.dossier_received(dossier_code=..., received_at=..., ...)
        publisher.flush()          # returns once every event is acknowledged, or raises

Guarantees:
- no raw personal data leaves the agency: an event may carry ``applicant_id``,
  ``applicant_name`` and ``applicant_phone``; they are replaced by their keyed pseudonyms
  (``*_hash``, see :mod:`producers.pseudonyms`) before anything else looks at the event;
- nothing invalid is sent: every event is validated against the contract first, and a bad one
  raises :class:`dossierhub.errors.ValidationError` naming the field and the value;
- nothing is lost silently: the producer is idempotent with ``acks=all``; every delivery report is
  checked (an acknowledgement out of its partition's offset order counts as undelivered), and
  :meth:`Publisher.flush` raises :class:`DeliveryError` listing each event that the
  broker did not acknowledge; :meth:`Publisher.retry_undelivered` sends exactly those again, with
  the same ``event_id`` (the hub's idempotency key);
- nothing is corrupted: bytes are the Confluent wire format with the schema id the registry
  assigned to the event's subject, so any Confluent deserializer reads them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from dossierhub.endpoints import Endpoints
from dossierhub.errors import HubError, ValidationError
from dossierhub.settings import Settings
from producers.pseudonyms import Pseudonymizer, replace_raw_fields
from schemas import EventType, encode, event_type, event_type_of, make_envelope, validate_event
from schemas.topics import inbound_topic

__all__ = ["DeliveryError", "Publisher", "UndeliveredEvent", "make_producer"]

log = logging.getLogger(__name__)

# Serve delivery callbacks every this many events: often enough to keep the local queue
# short, rarely enough that polling costs nothing per event.
_POLL_EVERY = 1000

#: resolves an event type to the schema id its subject has in the registry
SchemaIdLookup = Callable[[EventType], int]


@dataclass(frozen=True)
class UndeliveredEvent:
    event_id: str
    event_type: str
    key: str
    reason: str


class DeliveryError(HubError):
    """Some events were not acknowledged by the broker; ``undelivered`` lists each one."""

    def __init__(self, undelivered: list[UndeliveredEvent], delivered: int) -> None:
        reasons = sorted({u.reason for u in undelivered})
        super().__init__(
            f"{len(undelivered)} event(s) not acknowledged by the broker ({delivered} were):"
            f" {'; '.join(reasons)}",
            hint="nothing is lost: call retry_undelivered() once the broker is reachable",
        )
        self.undelivered = undelivered
        self.delivered = delivered


def make_producer(
    bootstrap: str, *, delivery_timeout_s: float, extra: Mapping[str, Any] | None = None
) -> Producer:
    """The Kafka producer of the SDK: idempotent, acks=all, batched for throughput."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,  # implies acks=all and ordered, de-duplicated retries
        "acks": "all",
        "message.timeout.ms": int(delivery_timeout_s * 1000),
        "linger.ms": 5,
        "batch.size": 1_000_000,
        "compression.type": "lz4",
        "logger": logging.getLogger("dossierhub.librdkafka"),
    }
    config.update(extra or {})
    try:
        return Producer(config)
    except KafkaException as exc:
        raise HubError(f"cannot create a Kafka producer: {exc}") from exc


class Publisher:
    """Publishes one agency's events to its inbound topic ``hub.inbound.<agency_code>``."""

    def __init__(
        self,
        agency_code: str,
        *,
        bootstrap: str,
        schema_id_of: SchemaIdLookup,
        producer_system: str = "agency-system",
        delivery_timeout_s: float = 60.0,
        producer_config: Mapping[str, Any] | None = None,
        topic: str | None = None,
        pseudonymizer: Pseudonymizer | None = None,
        producer: Producer | None = None,
    ) -> None:
        """``producer``: a Kafka producer shared with other publishers (see ``PublisherFleet``);
        by default the publisher makes its own from ``bootstrap`` and ``producer_config``."""
        self.agency_code = agency_code
        #: hashes raw identifiers; without one, an event carrying a raw identifier is refused
        self.pseudonymizer = pseudonymizer
        #: the agency's inbound topic; only benchmarks and tests send elsewhere
        self.topic = topic or inbound_topic(agency_code)
        self.producer_system = producer_system
        self._schema_id_of = schema_id_of
        self._undelivered: list[tuple[str, bytes, bytes, str]] = []
        #: (topic, partition) → the offset of its latest acknowledgement (see _on_delivery)
        self._acknowledged_at: dict[tuple[str, int], int] = {}
        self._queued = 0
        self._delivered = 0
        self._delivery_timeout_s = delivery_timeout_s
        self._producer = producer or make_producer(
            bootstrap, delivery_timeout_s=delivery_timeout_s, extra=producer_config
        )

    @classmethod
    def connect(
        cls, agency_code: str, settings: Settings, *, producer_system: str = "agency-system"
    ) -> Publisher:
        """A publisher for the hub configured by ``settings`` (env vars or the local stack)."""
        from schemas.registry import SchemaIds

        endpoints = Endpoints.resolve(settings)
        return cls(
            agency_code,
            bootstrap=endpoints.kafka_bootstrap,
            schema_id_of=SchemaIds.connect(endpoints.registry_url).id_of,
            producer_system=producer_system,
            delivery_timeout_s=settings.delivery_timeout_s,
            producer_config=dict(endpoints.kafka_security),
            pseudonymizer=Pseudonymizer.from_settings(settings),
        )

    # -- building events --------------------------------------------------------------------
    def emit(
        self,
        event_type_name: str,
        payload: Mapping[str, Any],
        *,
        occurred_at: datetime | None = None,
        event_id: uuid.UUID | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> str:
        """Wrap ``payload`` in a fresh envelope and publish it; returns the event id.

        Keep the returned id if you may have to send the same fact again: re-sending it with the
        same ``event_id`` is how the hub recognises the duplicate.
        """
        now = datetime.now(UTC)
        envelope = make_envelope(
            event_type_name,
            agency_code=self.agency_code,
            occurred_at=occurred_at or now,
            recorded_at=now,
            event_id=event_id,
            producer_system=self.producer_system,
            correlation_id=correlation_id,
            causation_id=causation_id,
        )
        return self.publish({"envelope": envelope, **payload})

    def dossier_received(self, **payload: Any) -> str:
        """Tiếp nhận hồ sơ (DVCQG status 2): the clock starts at ``received_at``."""
        return self.emit("DossierReceived", payload, occurred_at=payload.get("received_at"))

    def dossier_resolved(self, **payload: Any) -> str:
        """Đã xử lý xong (status 9): approved or refused; the hub decides on-time vs overdue."""
        return self.emit("DossierResolved", payload, occurred_at=payload.get("resolved_at"))

    def apology_issued(self, **payload: Any) -> str:
        """Phiếu xin lỗi và hẹn lại (Mẫu 04), with the new appointment date."""
        return self.emit("ApologyIssued", payload, occurred_at=payload.get("issued_at"))

    # -- sending ------------------------------------------------------------------------------
    def publish(self, event: Mapping[str, Any]) -> str:
        """Validate, encode and send one complete event (envelope included); returns its id."""
        name = event_type_of(event)
        known = event_type(name)
        event = replace_raw_fields(event, known, self.pseudonymizer)
        envelope = event["envelope"]
        if envelope.get("agency_code") != self.agency_code:
            raise ValidationError(
                "envelope.agency_code",
                envelope.get("agency_code"),
                f"this publisher sends for {self.agency_code} only (its inbound topic)",
            )
        validate_event(event, event_type=name)
        value = encode(event, self._schema_id_of(known), known.schema)
        self._send(self.topic, known.message_key(event).encode(), value)
        return str(envelope["event_id"])

    def _send(self, topic: str, key: bytes, value: bytes) -> None:
        # No per-event bookkeeping on the hot path: a failed delivery report carries the
        # message itself, and the event id and type are read back from its bytes.
        while True:
            try:
                self._producer.produce(topic, value, key, on_delivery=self._on_delivery)
                break
            except BufferError:
                # The local queue is full: serve delivery reports to drain it, then try again.
                self._producer.poll(0.1)
            except KafkaException as exc:
                raise HubError(f"cannot queue an event for {topic}: {exc}") from exc
        self._queued += 1
        if self._queued % _POLL_EVERY == 0:
            self._producer.poll(0)

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        reason = err.str() if err is not None else self._out_of_order(msg)
        if reason is None:
            self._delivered += 1
        else:
            # a delivery report always carries the topic, key and value that were produced
            self._undelivered.append(
                (msg.topic() or "", msg.key() or b"", msg.value() or b"", reason)
            )

    def _out_of_order(self, msg: Message) -> str | None:
        """Why an acknowledgement cannot be trusted, or None.

        An idempotent producer's acknowledgements of one partition come in the order of their
        offsets. A broker that takes a batch for a copy of one it already holds (its producer
        id and sequence numbers match) answers with success and that batch's offset, and
        appends nothing: it happens when librdkafka restarts a partition's sequence numbers
        (librdkafka issue 3712). An offset at or before the partition's latest acknowledgement
        shows it, and the event is kept for ``retry_undelivered``. (Added after one CI run's
        simulated year lacked a dossier's three events that had been acknowledged; whether
        this was the way they were lost is not known.)
        """
        where = (msg.topic() or "", msg.partition() or 0)
        offset = msg.offset()
        latest = self._acknowledged_at.get(where, -1)
        if offset is not None and offset > latest:
            self._acknowledged_at[where] = offset
            return None
        return (
            f"acknowledged at offset {offset} of {where[0]}[{where[1]}], not after the"
            f" partition's latest acknowledgement ({latest}): taken for an earlier batch"
        )

    def flush(self, timeout_s: float | None = None) -> int:
        """Wait for every delivery report; return how many events were acknowledged in all.

        Raises :class:`DeliveryError` if any event was not acknowledged — they stay listed
        until :meth:`retry_undelivered` sends them again.
        """
        # Delivery reports arrive at most message.timeout.ms after produce(); wait a bit longer.
        limit = self._delivery_timeout_s + 5 if timeout_s is None else timeout_s
        remaining = self._producer.flush(limit)
        if remaining:
            raise HubError(
                f"{remaining} event(s) still without a delivery report after {limit:.0f}s",
                hint="call flush() again; librdkafka reports every event within "
                "DOSSIERHUB_DELIVERY_TIMEOUT",
            )
        if self._undelivered:
            undelivered = [
                UndeliveredEvent(*_envelope_head(value), key.decode(), reason)
                for _, key, value, reason in self._undelivered
            ]
            log.warning("publisher %s: %d event(s) undelivered", self.agency_code, len(undelivered))
            raise DeliveryError(undelivered, self._delivered)
        return self._delivered

    def retry_undelivered(self) -> int:
        """Send the undelivered events again, byte for byte; returns how many were re-queued."""
        retry, self._undelivered = self._undelivered, []
        for topic, key, value, _ in retry:
            self._send(topic, key, value)
        return len(retry)

    @property
    def pending(self) -> int:
        """Events queued or in flight, not yet acknowledged nor failed."""
        return self._queued - self._delivered - len(self._undelivered)

    def close(self) -> None:
        """Flush what is in flight (raising if undelivered) and release the producer."""
        self.flush()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()


def _envelope_head(value: bytes) -> tuple[str, str]:
    """``(event_id, event_type)`` from Confluent-framed Avro bytes of any event of the hub.

    Every event starts with its envelope, whose first two fields are strings; reading just those
    spares the publisher from keeping a copy of each event until it is acknowledged.
    """
    position = 5  # magic byte and schema id
    fields = []
    for _ in range(2):
        length, shift = 0, 0
        while True:
            byte = value[position]
            position += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        length = (length >> 1) ^ -(length & 1)  # zigzag
        fields.append(value[position : position + length].decode())
        position += length
    return fields[0], fields[1]
