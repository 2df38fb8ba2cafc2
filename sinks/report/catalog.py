"""The procedure catalog at a date, folded in Python from its events.

The catalog is small (a few thousand events a year, whatever the number of dossiers), and
"latest state at a date" per procedure and per online service reads more plainly as a fold than
as nested ``argMax`` — which 18.16 and the current engine would also have to agree on for ties.
Events are applied in the order (effective date, occurred_at, offset): what took effect last wins.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "CatalogEvent",
    "InForce",
    "count_published_items",
    "fold_in_force",
    "fold_online_levels",
]

_RANK: Final = {"FULL": 2, "PARTIAL": 1}
# change_type (PublicationDecisionIssued.items) -> the report's key
_CHANGE_KEYS: Final = {
    "STANDARDIZED_NEW": "standardized_new",
    "NEW": "standardized_new",
    "AMENDED": "amended",
    "REPLACED": "replaced",
    "ABOLISHED": "abolished",
}


@dataclass(frozen=True, slots=True)
class CatalogEvent:
    """One row of ``events_catalog``, reduced to what the fold reads."""

    event_type: str
    code: str  # procedure_code, or service_code for the online-service events
    procedure_code: str
    effective: dt.date  # valid_from
    occurred_at: dt.datetime
    offset: int
    authority_level: str | None = None
    internal: bool | None = None
    level: str | None = None  # online level


@dataclass(frozen=True, slots=True)
class InForce:
    """Procedure code -> its authority level, for the non-internal procedures in force."""

    levels: dict[str, str]


def _ordered(events: Iterable[CatalogEvent], end: dt.date) -> list[CatalogEvent]:
    return sorted(
        (e for e in events if e.effective <= end),
        key=lambda e: (e.effective, e.occurred_at, e.offset),
    )


def fold_in_force(events: Iterable[CatalogEvent], end: dt.date) -> InForce:
    """Procedures published on or before ``end`` and neither abolished nor replaced by then.

    The level and the internal flag are the latest published or amended ones; a procedure
    published again after being abolished is in force again (the later event wins).
    """
    level: dict[str, str] = {}
    internal: dict[str, bool] = {}
    live: dict[str, bool] = {}
    for event in _ordered(events, end):
        code = event.procedure_code
        if event.event_type in ("ProcedurePublished", "ProcedureAmended"):
            if event.event_type == "ProcedurePublished":
                live[code] = True
            if event.authority_level:
                level[code] = event.authority_level
            if event.internal is not None:
                internal[code] = event.internal
        elif event.event_type in ("ProcedureAbolished", "ProcedureReplaced"):
            live[code] = False
    return InForce(
        {
            code: level[code]
            for code, alive in live.items()
            if alive and not internal.get(code, False) and code in level
        }
    )


def fold_online_levels(
    events: Iterable[CatalogEvent], end: dt.date, in_force: InForce
) -> dict[str, str]:
    """Procedure code -> FULL / PARTIAL for procedures in force with an online service at
    ``end``; a procedure with several services counts once, at its highest level."""
    service_level: dict[str, str | None] = {}
    service_procedure: dict[str, str] = {}
    for event in _ordered(events, end):
        service_procedure[event.code] = event.procedure_code
        if event.event_type == "OnlineServiceWithdrawn":
            service_level[event.code] = None
        else:  # OnlineServiceOffered, OnlineServiceLevelChanged
            service_level[event.code] = event.level
    best: dict[str, str] = {}
    for service, level in service_level.items():
        procedure = service_procedure[service]
        if level not in _RANK or procedure not in in_force.levels:
            continue
        if _RANK[level] > _RANK.get(best.get(procedure, ""), 0):
            best[procedure] = level
    return best


def count_published_items(items_json: Iterable[str | None]) -> dict[str, int]:
    """The non-internal items of the year's publication decisions, by the report's key."""
    counts = dict.fromkeys(("standardized_new", "amended", "replaced", "abolished"), 0)
    for text in items_json:
        for item in json.loads(text) if text else []:
            key = _CHANGE_KEYS.get(str(item.get("change_type")))
            if key is not None and not item.get("internal", False):
                counts[key] += 1
    return counts
