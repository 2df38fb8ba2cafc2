"""Many agencies' publishers on one Kafka connection.

A city-wide one-stop system (or the simulator) publishes for hundreds of agencies; one
librdkafka producer per agency would cost hundreds of connections and thread sets. The fleet
keeps one producer and one :class:`Publisher` per agency on it, so each event still goes to its
own agency's inbound topic with the SDK's validation and delivery checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

from producers.publisher import DeliveryError, Publisher, SchemaIdLookup, make_producer

__all__ = ["PublisherFleet"]


class PublisherFleet:
    def __init__(
        self,
        *,
        bootstrap: str,
        schema_id_of: SchemaIdLookup,
        producer_system: str,
        delivery_timeout_s: float = 60.0,
        producer_config: Mapping[str, Any] | None = None,
    ) -> None:
        self._producer = make_producer(
            bootstrap, delivery_timeout_s=delivery_timeout_s, extra=producer_config
        )
        self._schema_id_of = schema_id_of
        self._producer_system = producer_system
        self._delivery_timeout_s = delivery_timeout_s
        self._publishers: dict[str, Publisher] = {}

    def publisher(self, agency_code: str) -> Publisher:
        publisher = self._publishers.get(agency_code)
        if publisher is None:
            publisher = Publisher(
                agency_code,
                bootstrap="",  # unused: the fleet's producer is shared
                schema_id_of=self._schema_id_of,
                producer_system=self._producer_system,
                delivery_timeout_s=self._delivery_timeout_s,
                producer=self._producer,
            )
            self._publishers[agency_code] = publisher
        return publisher

    def publish(self, agency_code: str, event: Mapping[str, Any]) -> str:
        return self.publisher(agency_code).publish(event)

    def flush(self) -> int:
        """Wait for every delivery report; the number acknowledged, or DeliveryError for all
        agencies' undelivered events together (each publisher keeps its own for a retry)."""
        undelivered, delivered = [], 0
        for publisher in self._publishers.values():
            try:
                delivered += publisher.flush()
            except DeliveryError as exc:
                undelivered.extend(exc.undelivered)
                delivered += exc.delivered
        if undelivered:
            raise DeliveryError(undelivered, delivered)
        return delivered

    @property
    def pending(self) -> int:
        return sum(p.pending for p in self._publishers.values())

    def __enter__(self) -> PublisherFleet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.flush()
