"""The .avsc contract files: parsed for fastavro, expanded for the registry.

Each event file names the shared types (``vn.hcmc.dossierhub.Envelope`` …) instead of repeating
them; fastavro's ``load_schema`` finds them because every file is named ``<fullname>.avsc``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from fastavro.repository.base import SchemaRepositoryError
from fastavro.schema import SchemaParseException, load_schema

from .errors import SchemaLoadError

AVRO_DIR = Path(__file__).resolve().parent / "avro"


def schema_path(fullname: str) -> Path:
    return AVRO_DIR / f"{fullname}.avsc"


def _load(fullname: str, *, write_hint: bool) -> dict[str, Any]:
    path = schema_path(fullname)
    if not path.is_file():
        raise SchemaLoadError(path, "no such file")
    try:
        schema = load_schema(str(path), _write_hint=write_hint)
    except (SchemaRepositoryError, SchemaParseException, ValueError, OSError) as exc:
        raise SchemaLoadError(path, str(exc)) from exc
    if not isinstance(schema, dict):
        raise SchemaLoadError(path, "top level is not a named type")
    return schema


@functools.cache
def parsed_schema(fullname: str) -> dict[str, Any]:
    """fastavro's parsed form, loaded once; pass it to the writer and reader as is."""
    return _load(fullname, write_hint=True)


@functools.cache
def registered_schema(fullname: str) -> str:
    """The self-contained JSON to register: every shared type inlined at its first use.

    Keys are sorted because fastavro's parsed form does not keep the file's key order stably;
    a stable string keeps the registry from seeing a "new" schema on every run.
    """
    return json.dumps(_load(fullname, write_hint=False), sort_keys=True, ensure_ascii=False)


def named_types(parsed: dict[str, Any]) -> dict[str, Any]:
    """Definitions of the named types a parsed schema refers to, by fullname."""
    named: dict[str, Any] = parsed.get("__named_schemas", {})
    return named
