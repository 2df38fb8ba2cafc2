"""Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro binary body.

This module knows nothing about the registry: the caller passes the schema id (when writing)
and a lookup from id to parsed schema (when reading), so it works the same with the real
registry, a cache, or a dict in a test.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Mapping
from io import BytesIO
from typing import Any, Final

from fastavro import schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError

from ._writer import Encode, compile_writer
from .errors import IncompatibleReaderSchemaError, UndecodableMessageError, UnencodableEventError

__all__ = ["HEADER_SIZE", "MAGIC_BYTE", "SchemaLookup", "decode", "encode", "peek_schema_id"]

MAGIC_BYTE: Final = 0
_HEADER: Final = struct.Struct(">BI")
HEADER_SIZE: Final = _HEADER.size

#: Returns the parsed writer schema for an id, or None (or raises KeyError) when it is unknown.
#: Any other exception (e.g. the registry is unreachable) passes through: that is not the
#: message's fault and must not send it to the dead-letter topic.
SchemaLookup = Callable[[int], Mapping[str, Any] | None]


class _Buffer(threading.local):
    # One reusable buffer per thread for the fastavro path: resetting beats allocating.
    def __init__(self) -> None:
        self.io = BytesIO()


_buffer: Final = _Buffer()
# schema id -> (the parsed schema it was compiled from, its framing header, compiled encoder).
# The schema object is kept and compared by identity, so a test or a second registry that
# reuses an id for another schema gets a fresh compilation instead of a wrong writer.
_writers: dict[int, tuple[Mapping[str, Any], bytes, Encode | None]] = {}
_ENCODE_ERRORS: Final = (
    struct.error,
    ValueError,
    TypeError,
    AttributeError,
    KeyError,
    IndexError,
    OverflowError,
)


def _compile(schema: Mapping[str, Any]) -> Encode | None:
    try:
        return compile_writer(schema, schema.get("__named_schemas", {}))
    except (RecursionError, SyntaxError, MemoryError, KeyError, TypeError, ValueError):
        # A schema the generator cannot express (absurdly deep, or malformed): fastavro.
        return None


def _writer_for(schema_id: int, parsed_schema: Mapping[str, Any]) -> tuple[bytes, Encode | None]:
    entry = _writers.get(schema_id)
    if entry is None or entry[0] is not parsed_schema:
        header = _HEADER.pack(MAGIC_BYTE, schema_id)
        entry = (parsed_schema, header, _compile(parsed_schema))
        _writers[schema_id] = entry
    return entry[1], entry[2]


def encode(event: Mapping[str, Any], schema_id: int, parsed_schema: Mapping[str, Any]) -> bytes:
    """Frame and encode ``event``; ``parsed_schema`` must be fastavro-parsed (EventType.schema).

    Only what the writer needs is checked here; call :func:`schemas.validate_event` first for
    field-level errors. The first call per schema id compiles a writer (see ``_writer``).
    """
    entry = _writers.get(schema_id)
    try:
        if entry is not None and entry[0] is parsed_schema:
            header, write = entry[1], entry[2]
        else:
            header, write = _writer_for(schema_id, parsed_schema)
        if write is not None:
            return write(header, event)
        io = _buffer.io
        io.seek(0)
        io.truncate()
        io.write(header)
        schemaless_writer(io, parsed_schema, event)  # type: ignore[arg-type]
        return io.getvalue()
    except _ENCODE_ERRORS as exc:
        raise UnencodableEventError(schema_id, f"{type(exc).__name__}: {exc}") from exc


# (id(writer), id(reader)) -> (writer, reader, equal): fastavro compares the two schemas (deep
# dicts of ~20 KB) on every read; the answer is kept per pair of objects, which the entry
# keeps alive so that their ids cannot be reused by other schemas.
_compared: dict[tuple[int, int], tuple[Mapping[str, Any], Mapping[str, Any], bool]] = {}


def _same_schema(writer: Mapping[str, Any], reader: Mapping[str, Any]) -> bool:
    if writer is reader:
        return True
    known = _compared.get((id(writer), id(reader)))
    if known is None:
        known = (writer, reader, writer == reader)
        if len(_compared) < 10_000:  # a few per schema version in practice
            _compared[id(writer), id(reader)] = known
    return known[2]


def peek_schema_id(data: bytes) -> int:
    """The schema id of a framed message, without decoding the body."""
    if len(data) < HEADER_SIZE:
        raise UndecodableMessageError(data, f"truncated: {len(data)} bytes, the header alone is 5")
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != MAGIC_BYTE:
        raise UndecodableMessageError(data, f"bad magic byte {magic:#04x}, expected 0x00")
    return int(schema_id)


def decode(
    data: bytes,
    lookup_schema_by_id: SchemaLookup,
    *,
    reader_schema: Mapping[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    """Decode a framed message into ``(schema_id, event)``.

    With ``reader_schema`` the body is resolved into that schema (Avro schema evolution), e.g.
    to read an old version with the consumer's current one.
    """
    schema_id = peek_schema_id(data)
    try:
        writer_schema = lookup_schema_by_id(schema_id)
    except KeyError:
        writer_schema = None
    if writer_schema is None:
        raise UndecodableMessageError(data, f"unknown schema id {schema_id}", schema_id=schema_id)
    if reader_schema is not None and _same_schema(writer_schema, reader_schema):
        reader_schema = None  # what fastavro does too, after comparing the two, each call
    io = BytesIO(data)
    io.seek(HEADER_SIZE)
    try:
        record = schemaless_reader(io, writer_schema, reader_schema)  # type: ignore[arg-type]
    except SchemaResolutionError as exc:
        raise IncompatibleReaderSchemaError(schema_id, str(exc)) from exc
    except EOFError as exc:
        raise UndecodableMessageError(
            data, f"truncated body for schema id {schema_id}", schema_id=schema_id
        ) from exc
    except Exception as exc:
        # Corrupt bytes fail in many ways inside fastavro (bad enum index, bad UTF-8, huge
        # lengths …); whatever the exception, the message is the problem.
        raise UndecodableMessageError(
            data,
            f"body does not match schema id {schema_id} ({type(exc).__name__}: {exc})",
            schema_id=schema_id,
        ) from exc
    if io.tell() != len(data):
        extra = len(data) - io.tell()
        raise UndecodableMessageError(
            data,
            f"{extra} bytes left after the record of schema id {schema_id}",
            schema_id=schema_id,
        )
    if not isinstance(record, dict):
        raise UndecodableMessageError(data, "body is not a record", schema_id=schema_id)
    return schema_id, record
