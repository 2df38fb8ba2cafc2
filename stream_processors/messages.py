"""What the processors send: records with their topic, key, value and headers, and the
dead-letter headers every refusal carries (``dh.reason`` and the source coordinates)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from schemas.topics import DEADLETTER

__all__ = [
    "HEADER_ERROR",
    "HEADER_REASON",
    "HEADER_SOURCE_OFFSET",
    "HEADER_SOURCE_PARTITION",
    "HEADER_SOURCE_TIMESTAMP",
    "HEADER_SOURCE_TOPIC",
    "Headers",
    "Outgoing",
    "Source",
    "dead_letter",
]

HEADER_REASON: Final = "dh.reason"
HEADER_ERROR: Final = "dh.error"
HEADER_SOURCE_TOPIC: Final = "dh.source.topic"
HEADER_SOURCE_PARTITION: Final = "dh.source.partition"
HEADER_SOURCE_OFFSET: Final = "dh.source.offset"
#: the agency's record's Kafka timestamp (ms): the start of the hub's end-to-end latency
HEADER_SOURCE_TIMESTAMP: Final = "dh.source.timestamp"

# A dead letter's error text is for a person reading the topic; a few hundred characters say
# what went wrong without copying a whole event into a header.
_MAX_ERROR_CHARS: Final = 500

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class Source:
    """Where an agency's record was first read: its inbound topic, partition and offset."""

    topic: str
    partition: int
    offset: int
    #: the record's Kafka timestamp in milliseconds, when known
    timestamp_ms: int | None = None

    def headers(self) -> Headers:
        out: Headers = (
            (HEADER_SOURCE_TOPIC, self.topic.encode()),
            (HEADER_SOURCE_PARTITION, str(self.partition).encode()),
            (HEADER_SOURCE_OFFSET, str(self.offset).encode()),
        )
        if self.timestamp_ms is not None:
            out += ((HEADER_SOURCE_TIMESTAMP, str(self.timestamp_ms).encode()),)
        return out

    @classmethod
    def from_headers(cls, headers: Headers) -> Source | None:
        """The source written by :meth:`headers`, or None if a header is missing or bad."""
        found = {key: value for key, value in headers}
        try:
            stamp = found.get(HEADER_SOURCE_TIMESTAMP)
            return cls(
                found[HEADER_SOURCE_TOPIC].decode(),
                int(found[HEADER_SOURCE_PARTITION]),
                int(found[HEADER_SOURCE_OFFSET]),
                None if stamp is None else int(stamp),
            )
        except (KeyError, ValueError, UnicodeDecodeError):
            return None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record to produce."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers = ()


def dead_letter(raw: bytes, key: bytes | None, reason: str, error: str, source: Source) -> Outgoing:
    """The refused record, byte for byte, with why (``dh.reason`` is a stable code) and where
    it came from, so that it can be corrected and sent again."""
    one_line = " ".join(error.split())[:_MAX_ERROR_CHARS]
    headers = (
        (HEADER_REASON, reason.encode()),
        (HEADER_ERROR, one_line.encode()),
        *source.headers(),
    )
    return Outgoing(DEADLETTER, key, raw, headers)
