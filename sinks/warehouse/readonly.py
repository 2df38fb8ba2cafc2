"""Analysts' queries: one read-only statement, checked before it reaches either backend."""

from __future__ import annotations

import re
from typing import Final

from sinks.warehouse._base import Row, Warehouse, WarehouseError

__all__ = ["NotReadOnlyError", "read_only_query"]

_READING: Final = re.compile(r"^\s*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXISTS|EXPLAIN)\b", re.I)
_SETTING: Final = re.compile(r"\bSETTINGS\b|\bINTO\s+OUTFILE\b", re.I)


class NotReadOnlyError(WarehouseError):
    """The statement could change the warehouse (or its settings); carries the statement."""

    def __init__(self, sql: str, problem: str) -> None:
        super().__init__("query", f"{problem}: {sql.strip()[:200]!r}")
        self.sql = sql


def check_read_only(sql: str) -> str:
    """The statement without a trailing ``;``, or NotReadOnlyError.

    A text check, the same on both backends: chDB has no users, and on 18.16 a client can only
    make its session stricter, not prove a statement harmless. Quoted text containing ``;`` is
    refused too (rare in analysts' queries; the error says why).
    """
    statement = sql.strip().rstrip(";").strip()
    if not _READING.match(statement):
        raise NotReadOnlyError(sql, "only SELECT, WITH, SHOW, DESCRIBE, EXISTS or EXPLAIN")
    if ";" in statement:
        raise NotReadOnlyError(sql, "one statement only")
    if _SETTING.search(statement):
        raise NotReadOnlyError(sql, "SETTINGS and INTO OUTFILE are not allowed here")
    return statement


def read_only_query(warehouse: Warehouse, sql: str) -> tuple[list[str], list[Row]]:
    return warehouse.query_with_names(check_read_only(sql))
