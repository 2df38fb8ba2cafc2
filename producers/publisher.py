"""The publisher SDK: how an agency system puts events on the hub without losing or corrupting one.

    from dossierhub import Settings
    from producers import Publisher

    with Publisher.connect("000.00.15.H29", Settings.from_env()) as publisher:
        publisher.dossier_received(dossier_code=..., received_at=..., ...)
        publisher.flush()          # returns once every event is acknowledged, or raises

Guarantees:
- nothing invalid is sent: every event is validated against the contract first, and a bad one
  raises :class:`dossierhub.errors.ValidationError` naming the field and the value;
- nothing is lost silently: the producer is idempotent with ``acks=all``; every delivery report is
  checked, and :meth:`Publisher.flush` raises :class:`DeliveryError` listing each event that the
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
from functools import partial
from types import TracebackType
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from dossierhub.endpoints import Endpoints
from dossierhub.errors import HubError, ValidationError
from dossierhub.settings import Settings
from schemas import EventType, encode, event_type, event_type_of, make_envelope, validate_event
from schemas.topics import inbound_topic

__all__ = ["DeliveryError", "Publisher", "UndeliveredEvent"]

log = logging.getLogger(__name__)

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


@dataclass
class _InFlight:
    event_id: str
    event_type: str
    topic: str
    key: bytes
    value: bytes


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
    ) -> None:
        self.agency_code = agency_code
        #: the agency's inbound topic; only benchmarks and tests send elsewhere
        self.topic = topic or inbound_topic(agency_code)
        self.producer_system = producer_system
        self._schema_id_of = schema_id_of
        self._in_flight: dict[int, _InFlight] = {}
        self._undelivered: list[tuple[_InFlight, str]] = []
        self._delivered = 0
        self._delivery_timeout_s = delivery_timeout_s
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
        config.update(producer_config or {})
        try:
            self._producer = Producer(config)
        except KafkaException as exc:
            raise HubError(f"cannot create a Kafka producer: {exc}") from exc
        self._next_ticket = 0

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
        envelope = event["envelope"]
        if envelope.get("agency_code") != self.agency_code:
            raise ValidationError(
                "envelope.agency_code",
                envelope.get("agency_code"),
                f"this publisher sends for {self.agency_code} only (its inbound topic)",
            )
        validate_event(event, event_type=name)
        value = encode(event, self._schema_id_of(known), known.schema)
        in_flight = _InFlight(
            event_id=str(envelope["event_id"]),
            event_type=name,
            topic=self.topic,
            key=known.message_key(event).encode(),
            value=value,
        )
        self._send(in_flight)
        return in_flight.event_id

    def _send(self, in_flight: _InFlight) -> None:
        ticket = self._next_ticket
        self._next_ticket += 1
        self._in_flight[ticket] = in_flight
        while True:
            try:
                self._producer.produce(
                    in_flight.topic,
                    value=in_flight.value,
                    key=in_flight.key,
                    on_delivery=partial(self._on_delivery, ticket),
                )
                break
            except BufferError:
                # The local queue is full: let deliveries drain it, then try again.
                self._producer.poll(0.1)
            except KafkaException as exc:
                del self._in_flight[ticket]
                raise HubError(f"cannot queue {in_flight.event_type}: {exc}") from exc
        self._producer.poll(0)

    def _on_delivery(self, ticket: int, err: KafkaError | None, _msg: Message) -> None:
        in_flight = self._in_flight.pop(ticket)
        if err is None:
            self._delivered += 1
        else:
            self._undelivered.append((in_flight, err.str()))

    def flush(self, timeout_s: float | None = None) -> int:
        """Wait for every delivery report; return how many events were acknowledged in all.

        Raises :class:`DeliveryError` if any event was not acknowledged — they stay listed
        until :meth:`retry_undelivered` sends them again.
        """
        # Delivery reports arrive at most message.timeout.ms after produce(); wait a bit longer.
        limit = self._delivery_timeout_s + 5 if timeout_s is None else timeout_s
        remaining = self._producer.flush(limit)
        if remaining:
            for in_flight in self._in_flight.values():
                self._undelivered.append((in_flight, f"no delivery report within {limit:.0f}s"))
        if self._undelivered:
            undelivered = [
                UndeliveredEvent(f.event_id, f.event_type, f.key.decode(), reason)
                for f, reason in self._undelivered
            ]
            log.warning("publisher %s: %d event(s) undelivered", self.agency_code, len(undelivered))
            raise DeliveryError(undelivered, self._delivered)
        return self._delivered

    def retry_undelivered(self) -> int:
        """Send the undelivered events again, byte for byte; returns how many were re-queued."""
        retry = [f for f, _ in self._undelivered]
        self._undelivered.clear()
        for in_flight in retry:
            self._send(in_flight)
        return len(retry)

    @property
    def pending(self) -> int:
        """Events queued or in flight, not yet acknowledged nor failed."""
        return len(self._in_flight)

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
