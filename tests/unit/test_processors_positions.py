"""The dossier stage's own read position: records after a gap are not folded, and the partition
is read again from the first record missing (Faust's consumer was seen skipping records)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def test_the_next_record_and_redeliveries_follow_on() -> None:
    handlers = _handlers({1: 10})
    assert not handlers._skipped_to(_Record(1, 11))
    assert not handlers._skipped_to(_Record(1, 7))  # a redelivery: the fold ignores it
    assert not handlers._skipped_to(_Record(2, 500))  # never folded here: no position yet
    assert handlers.rewinds == {}


def test_a_record_after_a_gap_waits_and_the_partition_is_read_again() -> None:
    handlers = _handlers({1: 10, 3: 4})
    assert handlers._skipped_to(_Record(1, 13))
    assert handlers.rewinds == {1: 11}
    assert not handlers._skipped_to(_Record(3, 5))
