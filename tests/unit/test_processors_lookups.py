"""Registry lookups of the agents: cached, and retried while the registry is down."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from dossierhub.errors import ServiceUnreachableError
from schemas import event_type, example_event
from schemas.catalog import EventType
from stream_processors.levels import ProcedureLevels
from stream_processors.lookups import Lookups

SCHEMA: Mapping[str, Any] = event_type("DossierReceived").schema


class FlakyRegistry:
    """Down for the first ``failures`` calls, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def schema(self, schema_id: int) -> Mapping[str, Any] | None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ServiceUnreachableError("registry", "http://registry", "connection refused")
        return SCHEMA if schema_id == 1 else None

    def id_of(self, known: EventType) -> int:
        self.schema(1)  # fails like the schema lookup while the registry is down
        return 1


def test_an_outage_is_waited_out_not_reported_as_unknown() -> None:
    registry = FlakyRegistry(failures=3)
    lookups = Lookups(registry.schema, registry.id_of, first_retry_s=0.001, max_retry_s=0.002)
    assert asyncio.run(lookups.writer_schema(1)) is SCHEMA
    assert registry.calls == 4
    assert lookups.cached_schema(1) is SCHEMA


def test_found_schemas_are_cached_and_unknown_ids_for_a_while() -> None:
    registry = FlakyRegistry(failures=0)
    now = [0.0]
    lookups = Lookups(registry.schema, registry.id_of, clock=lambda: now[0])

    async def ask() -> None:
        assert await lookups.writer_schema(1) is SCHEMA
        assert await lookups.writer_schema(1) is SCHEMA
        assert await lookups.writer_schema(2) is None
        assert await lookups.writer_schema(2) is None  # from the negative cache
        now[0] = 60.0
        assert await lookups.writer_schema(2) is None  # asked again

    asyncio.run(ask())
    assert registry.calls == 3


def test_fact_ids_must_be_fetched_before_they_are_used() -> None:
    registry = FlakyRegistry(failures=0)
    lookups = Lookups(registry.schema, registry.id_of)
    known = event_type("DossierOutcome")
    with pytest.raises(KeyError):
        lookups.cached_id(known)
    assert asyncio.run(lookups.schema_id(known)) == 1
    assert lookups.cached_id(known) == 1


def test_procedure_levels_follow_the_latest_catalog_event() -> None:
    levels = ProcedureLevels()
    published = example_event("ProcedurePublished")
    assert levels.observe(published)
    assert levels("1.001193") == "COMMUNE"
    amended = example_event("ProcedurePublished")
    amended["authority_level"] = "DISTRICT"
    assert levels.observe(amended)
    assert levels("1.001193") == "DISTRICT"
    assert not levels.observe(example_event("DossierReceived"))
    assert levels("9.999999") is None
