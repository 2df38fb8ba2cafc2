"""The registry, as the agents need it: cached, off the event loop, and retried while it is down.

A registry outage is not the record's fault, so a lookup that cannot reach the registry waits
and tries again (the stream stops moving, the broker keeps the records) instead of sending the
record to the dead-letter topic. Answers are cached: found schemas and ids forever (they never
change), unknown ids for a short while (one may be registered a moment later, and a burst of
unknown ids must not cost one HTTP request each).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

from dossierhub.errors import HubError
from schemas.catalog import EventType
from schemas.registry import SchemaIds, WriterSchemas

__all__ = ["Lookups"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

_UNKNOWN_TTL_S: Final = 10.0


class Lookups:
    def __init__(
        self,
        writer_schemas: Callable[[int], Mapping[str, Any] | None],
        schema_ids: Callable[[EventType], int],
        *,
        first_retry_s: float = 0.5,
        max_retry_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._writer_schemas = writer_schemas
        self._schema_ids = schema_ids
        self._first_retry_s = first_retry_s
        self._max_retry_s = max_retry_s
        self._clock = clock
        self._schemas: dict[int, Mapping[str, Any]] = {}
        self._unknown: dict[int, float] = {}  # id -> when it was found unknown
        self._ids: dict[str, int] = {}

    @classmethod
    def connect(cls, registry_url: str) -> Lookups:
        return cls(WriterSchemas.connect(registry_url), SchemaIds.connect(registry_url).id_of)

    # -- synchronous views of the cache, for the pure stages -----------------------------------

    def cached_schema(self, schema_id: int) -> Mapping[str, Any] | None:
        """The writer schema if :meth:`writer_schema` fetched it; None otherwise."""
        return self._schemas.get(schema_id)

    def schema_now(self, schema_id: int) -> Mapping[str, Any] | None:
        """The cached schema, else fetched now, blocking (for the rare record whose schema was
        not prefetched); an unreachable registry raises."""
        found = self._schemas.get(schema_id)
        if found is None:
            found = self._writer_schemas(schema_id)
            if found is not None:
                self._schemas[schema_id] = found
        return found

    def cached_id(self, known: EventType) -> int:
        """The id fetched by :meth:`schema_id`; ``KeyError`` when it was not fetched."""
        return self._ids[known.subject]

    # -- fetching ------------------------------------------------------------------------------

    async def writer_schema(self, schema_id: int) -> Mapping[str, Any] | None:
        found = self._schemas.get(schema_id)
        if found is not None:
            return found
        since = self._unknown.get(schema_id)
        if since is not None and self._clock() - since < _UNKNOWN_TTL_S:
            return None
        schema = await self._retrying(f"schema id {schema_id}", self._writer_schemas, schema_id)
        if schema is None:
            self._unknown[schema_id] = self._clock()
        else:
            self._unknown.pop(schema_id, None)
            self._schemas[schema_id] = schema
        return schema

    async def schema_id(self, known: EventType) -> int:
        found = self._ids.get(known.subject)
        if found is None:
            found = await self._retrying(f"the id of {known.subject}", self._schema_ids, known)
            self._ids[known.subject] = found
        return found

    async def _retrying(self, what: str, request: Callable[[Any], _T], argument: Any) -> _T:
        delay = self._first_retry_s
        while True:
            try:
                return await asyncio.to_thread(request, argument)
            except HubError as exc:
                # Unreachable, a 5xx, or our schema not registered yet: none of them is the
                # record's fault, and each can be fixed while the stream waits.
                _log.warning("registry: %s: %s; retrying in %.1fs", what, exc.one_line(), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_retry_s)
