"""Errors of the event contract, all under :class:`dossierhub.errors.HubError`.

Invalid event content is reported with :class:`dossierhub.errors.ValidationError` (field, value,
problem); the classes here cover what is not about one field: an unknown event type, a broken
contract file, and wire bytes that cannot be encoded or decoded.
"""

from __future__ import annotations

from pathlib import Path

from dossierhub.errors import HubError

__all__ = [
    "IncompatibleReaderSchemaError",
    "SchemaError",
    "SchemaLoadError",
    "UndecodableMessageError",
    "UnencodableEventError",
    "UnknownEventTypeError",
]

# Enough bytes to recognise a framing problem in a log line without dumping a whole payload.
_PREVIEW_BYTES = 16


class SchemaError(HubError):
    """Root of the errors raised by the ``schemas`` package."""


class UnknownEventTypeError(SchemaError):
    """A name that is not one of the hub's event types."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"unknown event type {name!r}",
            hint="the event types are listed in schemas/README.md",
        )
        self.name = name


class SchemaLoadError(SchemaError):
    """A contract file under ``schemas/avro`` is missing or does not parse."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}", hint="fix the .avsc file; the contract is broken")
        self.path = path
        self.problem = problem


class UnencodableEventError(SchemaError):
    """fastavro refused to write an event; validate it first for a field-level message."""

    def __init__(self, schema_id: int, reason: str) -> None:
        super().__init__(
            f"cannot encode event with schema id {schema_id}: {reason}",
            hint="run schemas.validate_event on it to see which field is wrong",
        )
        self.schema_id = schema_id
        self.reason = reason


class UndecodableMessageError(SchemaError):
    """Wire bytes that are not a readable Confluent-framed Avro message.

    Carries the raw bytes so that the consumer can forward them unchanged to the dead-letter topic.
    """

    def __init__(self, raw: bytes, reason: str, *, schema_id: int | None = None) -> None:
        preview = raw[:_PREVIEW_BYTES].hex()
        more = "…" if len(raw) > _PREVIEW_BYTES else ""
        super().__init__(
            f"undecodable message ({len(raw)} bytes, starts {preview}{more}): {reason}",
            hint="the message belongs on the dead-letter topic",
        )
        self.raw = raw
        self.reason = reason
        self.schema_id = schema_id


class IncompatibleReaderSchemaError(SchemaError):
    """The reader schema cannot read what the writer schema wrote: a contract problem, not a
    problem of one message, so it must not send messages to the dead-letter topic."""

    def __init__(self, schema_id: int, reason: str) -> None:
        super().__init__(f"reader schema cannot read schema id {schema_id}: {reason}")
        self.schema_id = schema_id
        self.reason = reason
