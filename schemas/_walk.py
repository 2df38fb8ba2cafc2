"""Small helpers to walk fastavro's parsed schemas (shared by validation and conversion)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

PRIMITIVES: Final = frozenset(
    {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
)


def resolve(schema: Any, named: Mapping[str, Any]) -> Any:
    """A named-type reference replaced by its definition; anything else unchanged."""
    if isinstance(schema, str) and schema not in PRIMITIVES:
        return named[schema]
    return schema


def child_path(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def non_null_branches(union: list[Any]) -> list[Any]:
    return [branch for branch in union if branch != "null"]
