"""Rolling aggregates: the tally of a dossier, slices that refuse what they counted, and a
batch fold that counts exactly once however it is replayed after a crash."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from producers.synthetic import lifecycles
from stream_processors.aggregates import (
    CITY_KEY,
    DimensionKind,
    PartialCounts,
    day_window,
    delta,
    merge_slices,
    rolling,
    tally,
)
from stream_processors.aggregates.reading import Asked, cells
from stream_processors.dossier import fold
from stream_processors.dossiers import Entry, IntakeRecord, next_alarm
from stream_processors.intake import Alarms, IntakeBatch
from stream_processors.messages import Source
from tests.unit.test_processors_dossiers import CALENDAR, context, wire

AGENCY = "000.00.15.H29"


def _city(cells: Counter[Any], counter: str) -> int:
    return sum(
        n for (dim, _, _, name), n in cells.items() if dim is DimensionKind.CITY and name == counter
    )


def test_a_resolved_dossier_moves_from_in_progress_to_resolved() -> None:
    events = list(lifecycles(1, agencies=[AGENCY], overdue_share=0.0))
    received = fold(events[:1], CALENDAR).state
    resolved = fold(events[:2], CALENDAR).state
    assert _city(tally(received), "received") == 1
    assert _city(tally(received), "in_progress") == 1
    change = delta(received, resolved)
    assert _city(change, "in_progress") == -1
    assert _city(change, "resolved") == 1
    assert _city(change, "received") == 0  # unchanged cells are not in the delta
    assert delta(resolved, resolved) == Counter()


def test_a_slice_refuses_a_record_it_has_counted() -> None:
    one = PartialCounts(partition=2)
    assert one.add("received", 1, offset=10)
    one.seal(10)
    assert not one.add("received", 1, offset=10)
    assert not one.add("received", 1, offset=7)
    assert one.add("received", 1, offset=11)
    assert PartialCounts.from_dict(one.to_dict()) == one


def test_merging_takes_the_newest_copy_of_each_slice() -> None:
    old = PartialCounts(0, 5, {**PartialCounts(0).counts, "received": 3})
    new = PartialCounts(0, 9, {**PartialCounts(0).counts, "received": 4})
    other = PartialCounts(1, 2, {**PartialCounts(1).counts, "received": 10})
    assert merge_slices([new, old, other])["received"] == 14


def test_rolling_windows_sum_their_days() -> None:
    days = {date(2023, 3, d): {"received": d} for d in range(1, 31)}
    assert rolling(days, date(2023, 3, 30), 7)["received"] == sum(range(24, 31))
    asked = Asked.parse("agencies", AGENCY, "7d", date(2023, 3, 30))
    assert len(cells(asked)) == 7
    assert Asked.parse("city", None, "ytd", date(2023, 12, 31)).key == CITY_KEY


class _Store:
    """What the agent persists between batches: entries, slices, watermarks."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.slices: dict[str, PartialCounts] = {}
        self.watermarks: dict[int, Any] = {}
        #: in the worker's memory: lost in a crash, rebuilt from the entries (``restart``)
        self.alarms = Alarms()

    def restart(self) -> None:
        """What a restarted worker does before its first batch (``Handlers`` indexes)."""
        self.alarms = Alarms()
        for code, entry in self.entries.items():
            self.alarms.schedule(0, code, next_alarm(entry, context(watermark=None)))

    def batch(self) -> IntakeBatch:
        def load_slice(key: str) -> PartialCounts | None:
            found = self.slices.get(key)
            return None if found is None else PartialCounts.from_dict(found.to_dict())

        return IntakeBatch(
            context=lambda watermark: context(watermark=watermark),
            load_entry=self.entries.get,
            load_slice=load_slice,
            alarms=self.alarms,
            watermarks=dict(self.watermarks),
        )

    def persist(self, batch: IntakeBatch, *, upto: str = "watermarks") -> None:
        """Persist in the agent's order, stopping after ``upto`` (a crash after it)."""
        self.slices.update(batch.slices)
        if upto == "slices":
            return
        for code, entry in batch.entries.items():
            if entry is None:
                self.entries.pop(code, None)
            else:
                self.entries[code] = entry
        if upto == "entries":
            return
        self.watermarks = dict(batch.watermarks)


def _records(n: int, per_day: int = 40) -> list[IntakeRecord]:
    events = list(lifecycles(n, agencies=[AGENCY], overdue_share=0.3, per_day=per_day))
    return [
        IntakeRecord(
            wire(e),
            e["dossier_code"].encode(),
            offset,
            Source("hub.inbound.000.00.15.H29", 0, offset),
        )
        for offset, e in enumerate(events)
    ]


def _run(
    store: _Store,
    records: list[IntakeRecord],
    size: int,
    crash_at: int | None = None,
    crash_after: str = "slices",
) -> None:
    """Fold ``records`` in batches of ``size``; the batch at ``crash_at`` persists up to
    ``crash_after`` only (the worker died there) and the rest is read again."""
    position = 0
    while position < len(records):
        chunk = records[position : position + size]
        batch = store.batch()
        for record in chunk:
            batch.offer(0, record.key.decode(), record)  # type: ignore[union-attr]
        if crash_at is not None and position >= crash_at:
            store.persist(batch, upto=crash_after)
            store.restart()
            crash_at = None
            size = size // 2 + 1  # not committed: the records come again, batched otherwise
            continue
        store.persist(batch)
        position += size


def _counts(store: _Store) -> dict[str, dict[str, int]]:
    return {key: one.counts for key, one in sorted(store.slices.items())}


def test_the_counts_do_not_depend_on_batching_or_on_a_crash() -> None:
    records = _records(60)
    reference = _Store()
    _run(reference, records, size=len(records))
    expected = _counts(reference)
    city_day = "0|" + "|".join(["DAY", "2023-03-06", "CITY", CITY_KEY])
    assert expected[city_day]["received"] > 0

    for size, crash_at in ((7, None), (13, 26), (50, 50), (3, 90)):
        for crash_after in ("slices", "entries"):
            store = _Store()
            _run(store, records, size=size, crash_at=crash_at, crash_after=crash_after)
            assert _counts(store) == expected, (size, crash_at, crash_after)
            assert store.entries == reference.entries, (size, crash_at, crash_after)


def test_a_received_dossier_is_counted_once_per_dimension_and_window() -> None:
    records = _records(30)
    store = _Store()
    _run(store, records, size=10)
    received = [r for r in records if b"DossierReceived" in r.raw]
    per_day = {
        k: v["received"] for k, v in _counts(store).items() if "|DAY|" in k and "|CITY|" in k
    }
    per_year = {
        k: v["received"] for k, v in _counts(store).items() if "|YEAR|" in k and "|CITY|" in k
    }
    assert sum(per_day.values()) == len(received) == sum(per_year.values())
    assert day_window(date(2023, 3, 6)).end == date(2023, 3, 7)
