"""Read an agency's JSON-lines export into validated, Avro-ready events.

One event per line, shaped like the Avro record with ISO-8601 strings for instants and dates:

    {"envelope": {"event_type": "DossierReceived", "occurred_at": "2023-03-15T09:12:34+07:00"},
     "dossier_code": "000.00.15.H29-230315-0042", ...}

Envelope fields the file leaves out are filled in: ``agency_code`` (the publishing agency),
``producer_system``, ``schema_version``, ``recorded_at`` (= occurred_at) and ``event_id``. A
missing ``event_id`` is derived from the line's content (UUIDv5), so publishing the same file
twice sends the same ids and the hub drops the repeats instead of counting them twice.

A line may carry the applicant's raw ``applicant_id`` (CCCD), ``applicant_name`` and
``applicant_phone``: they are replaced by their pseudonyms (``applicant_*_hash``) as the line is
read, so the raw values never go further than this process.

Every line is checked before anything is sent; a bad line is reported with its number and the
reason (field and value), never with a traceback.
"""

from __future__ import annotations

import codecs
import json
import math
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from dossierhub.errors import HubError, ValidationError
from producers.pseudonyms import Pseudonymizer, replace_raw_fields
from schemas import event_type, event_type_of, from_json, validate_event

__all__ = ["JsonLinesBatch", "LineError", "read_jsonlines"]

# Namespace of the event ids derived from line content (stable across releases: never change).
_LINE_ID_NAMESPACE: Final = uuid.UUID("3b0f4d1c-7f7e-4a8e-9a61-5c1d2e6f0a44")
#: lines longer than this are refused before parsing (the biggest real event is a few KB)
MAX_LINE_BYTES: Final = 1_000_000
_MAX_ERROR_CHARS: Final = 300
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class LineError:
    line: int
    error: str


@dataclass
class JsonLinesBatch:
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)

    def per_type(self) -> dict[str, int]:
        return dict(Counter(event["envelope"]["event_type"] for _, event in self.events))


def read_jsonlines(
    path: Path,
    agency_code: str,
    producer_system: str,
    pseudonymizer: Pseudonymizer | None = None,
) -> JsonLinesBatch:
    """Parse and validate every line of ``path``; good events and bad lines, in file order.

    Without a ``pseudonymizer``, a line with a raw identifier is refused.
    """
    batch = JsonLinesBatch()
    for number, raw, size in _lines(path):
        try:
            event = _event(raw, size, agency_code, producer_system, pseudonymizer)
            batch.events.append((number, event))
        except HubError as exc:
            batch.errors.append(LineError(number, _shortened(exc.one_line())))
    return batch


def _lines(path: Path) -> Iterator[tuple[int, bytes, int]]:
    """``(number, line, size)`` per non-blank line; a line longer than MAX_LINE_BYTES comes
    cut short (its ``size`` is the whole), so that one endless line cannot exhaust memory."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise HubError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        number = 0
        while raw := handle.readline(MAX_LINE_BYTES + 1):
            number += 1
            size = len(raw)
            if size > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while chunk := handle.readline(MAX_LINE_BYTES):  # skip the rest of the line
                    size += len(chunk)
                    if chunk.endswith(b"\n"):
                        break
            if number == 1 and raw.startswith(codecs.BOM_UTF8):  # as Windows editors save it
                raw = raw[len(codecs.BOM_UTF8) :]
            if raw.strip():
                yield number, raw, size


def _event(
    raw: bytes,
    size: int,
    agency_code: str,
    producer_system: str,
    pseudonymizer: Pseudonymizer | None,
) -> dict[str, Any]:
    if size > MAX_LINE_BYTES:
        raise ValidationError("<line>", f"{size} bytes", f"longer than {MAX_LINE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError("<line>", raw[exc.start : exc.end], "not UTF-8") from exc
    if text.startswith("\ufeff"):
        raise ValidationError(
            "<line>", "U+FEFF", "starts with a byte order mark; only the file's first line may"
        )
    data = _parse(text)
    if not isinstance(data, dict):
        raise ValidationError("<line>", text[:40].strip(), "expected a JSON object per line")
    envelope = data.get("envelope")
    if not isinstance(envelope, dict):
        raise ValidationError("envelope", envelope, "missing; every event needs one")
    name = event_type_of(data)
    known = event_type(name)
    # Hashed first, so that the derived event id and every error message only see pseudonyms.
    data = dict(replace_raw_fields(data, known, pseudonymizer))
    envelope.setdefault("agency_code", agency_code)
    if envelope["agency_code"] != agency_code:
        raise ValidationError(
            "envelope.agency_code", envelope["agency_code"], f"file is published as {agency_code}"
        )
    envelope.setdefault("producer_system", producer_system)
    envelope.setdefault("schema_version", known.schema_version)
    envelope.setdefault("recorded_at", envelope.get("occurred_at"))
    if "event_id" not in envelope:
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False)
        envelope["event_id"] = str(uuid.uuid5(_LINE_ID_NAMESPACE, canonical))
    event = from_json(data, event_type=name)
    validate_event(event, event_type=name)
    return event


class _Refused(ValueError):
    """Raised from inside the JSON parser's hooks: the line is refused for ``problem``."""

    def __init__(self, value: str, problem: str) -> None:
        super().__init__(problem)
        self.value = value
        self.problem = problem


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999999 parses as inf; Avro would carry it on
        raise _Refused(text[:40], "not a finite number")
    return number


def _no_constants(text: str) -> float:
    raise _Refused(text, "not a finite number (NaN and Infinity are not JSON)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        # Parsers disagree on which duplicate wins: another reader of this file would see
        # another event than the one the hub stores.
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(key, "duplicate key in one JSON object")
            seen.add(key)
    return obj


def _parse(text: str) -> Any:
    try:
        data = json.loads(
            text,
            parse_float=_finite,
            parse_constant=_no_constants,
            object_pairs_hook=_unique_keys,
        )
    except RecursionError as exc:
        raise ValidationError("<line>", text[:40], "JSON nested too deeply") from exc
    except _Refused as exc:
        raise ValidationError("<line>", exc.value, exc.problem) from exc
    except json.JSONDecodeError as exc:
        raise ValidationError("<line>", text[:40].strip(), f"not JSON ({exc.msg})") from exc
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise ValidationError("<line>", text[:40].strip(), f"not usable JSON ({exc})") from exc
    # "\ud800" is valid JSON but no character: it cannot be encoded, so it must not go on.
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValidationError(
                "<line>", f"\\u{ord(exc.object[exc.start]):04x}", "lone surrogate in a string"
            ) from exc
    return data


def _shortened(error: str) -> str:
    # A refused value is quoted in the error; a 900 KB one must not make a 900 KB report line.
    return error if len(error) <= _MAX_ERROR_CHARS else error[: _MAX_ERROR_CHARS - 1] + "…"
