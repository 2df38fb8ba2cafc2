"""The authority level of each procedure, as the catalog events state it.

``DossierOutcome.authority_level`` is required but dossier events do not carry it (the core's
open question 1), so the dossier agent asks this map. Every worker keeps its own copy, fed by
``reference.ReferenceReader`` from the whole of ``hub.catalog.events``. The latest catalog event
of a procedure wins; an unknown procedure gets ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["ProcedureLevels"]

#: catalog events that state a procedure's level (all of them carry ``authority_level``)
_STATING_LEVEL: Final = frozenset(
    {"ProcedurePublished", "ProcedureAmended", "ProcedureReplaced", "ProcedureAbolished"}
)


class ProcedureLevels:
    def __init__(self, levels: Mapping[str, str] | None = None) -> None:
        self._levels: dict[str, str] = dict(levels or {})

    def observe(self, event: Mapping[str, Any]) -> bool:
        """Learn from one decoded catalog event; True when it stated a level."""
        envelope = event.get("envelope") or {}
        if envelope.get("event_type") not in _STATING_LEVEL:
            return False
        code, level = event.get("procedure_code"), event.get("authority_level")
        if not isinstance(code, str) or not isinstance(level, str):
            return False
        self._levels[code] = level
        return True

    def __call__(self, procedure_code: str) -> str | None:
        return self._levels.get(procedure_code)

    def __len__(self) -> int:
        return len(self._levels)
