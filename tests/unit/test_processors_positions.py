"""The dossier stage's own read position: a record after records no batch folded is reported
(Faust's consumer was seen going past records after a crash)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stream_processors.config import ProcessorConfig
from stream_processors.handlers import Handlers
from stream_processors.lookups import Lookups


@dataclass
class _Record:
    partition: int
    offset: int
    topic: str = "hub.dossier.intake"
    key: Any = None
    value: Any = None
    headers: Any = None


def _handlers(positions: dict[int, int]) -> Handlers:
    config = ProcessorConfig(kafka_bootstrap="-", registry_url="-", datadir=Path("-"))
    handlers = Handlers(config=config, lookups=Lookups(lambda _: None, lambda _: 1), table={})
    handlers.positions.update(positions)
    return handlers


def test_the_next_record_and_redeliveries_are_no_gap() -> None:
    handlers = _handlers({1: 10})
    for record in (_Record(1, 11), _Record(1, 7), _Record(2, 500)):  # 2: no position yet
        handlers._check_gap(record)
    assert handlers.counters.skipped == 0


def test_records_the_consumer_went_past_are_counted_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handlers = _handlers({1: 10})
    handlers._check_gap(_Record(1, 14))
    handlers._check_gap(_Record(1, 14))  # the same gap, seen again: said once
    assert handlers.counters.skipped == 3
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert "records 11..13 were never folded" in caplog.text
