"""Writer schemas for the sink's decoding: the registry's, with the logical types taken out.

The sink never needs ``datetime``, ``date`` or ``UUID`` objects: ClickHouse takes a DateTime as
seconds and a Date as days, and Arrow builds its columns straight from integers. Reading
``timestamp-millis`` as the plain ``long`` it is on the wire (and ``date`` as ``int``, ``uuid``
as ``string``) saves about 40% of fastavro's time per message. :mod:`sinks.rows` accepts both
forms, so rows built from decoded-with-types events (tests, the bench) come out the same.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from fastavro import parse_schema
from fastavro.schema import SchemaParseException

from schemas.registry import Registry, RegistryError

__all__ = ["RawWriterSchemas", "without_logical_types"]


def without_logical_types(schema: Any) -> Any:
    """The schema JSON with every ``logicalType`` annotation removed (same binary encoding)."""
    if isinstance(schema, dict):
        return {k: without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [without_logical_types(v) for v in schema]
    return schema


class RawWriterSchemas:
    """id -> parsed writer schema without logical types; a ``serde.decode`` lookup.

    Like :class:`schemas.registry.WriterSchemas`: fetched once per id, None for an id the
    registry does not know (the message is dead-lettered), and an unreachable registry raises.
    """

    def __init__(self, fetch: Callable[[int], str | None]) -> None:
        self._fetch = fetch
        self._schemas: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, url: str) -> RawWriterSchemas:
        registry = Registry(url)

        def fetch(schema_id: int) -> str | None:
            schema = registry.schema_by_id(schema_id)
            if schema is None or (schema.schema_type or "AVRO") != "AVRO":
                return None
            return schema.schema_str

        return cls(fetch)

    def __call__(self, schema_id: int) -> dict[str, Any] | None:
        cached = self._schemas.get(schema_id)
        if cached is not None:
            return cached
        with self._lock:
            text = self._fetch(schema_id)
            if text is None:
                return None
            try:
                parsed = parse_schema(without_logical_types(json.loads(text)))
            except (ValueError, SchemaParseException) as exc:
                raise RegistryError(
                    f"parse schema id {schema_id}", None, f"{type(exc).__name__}: {exc}"
                ) from exc
            if not isinstance(parsed, dict):
                return None
            self._schemas[schema_id] = parsed
            return parsed
