"""The durable range record in the warehouse (``sink_ranges``), and settling what a crash left.

Why not ``insert_deduplication_token``: it is a no-op on a non-replicated MergeTree unless
``non_replicated_deduplication_window`` is set, and 18.16 does not have it at all; and one INSERT
spanning several table partitions (months) writes several parts, so it is not atomic anyway.

Instead every row carries ``src_topic/src_partition/src_offset``, and a range is
written pending → rows → confirmed. After a crash a pending range is *settled* before anything
else of its partition is loaded: if every row it should hold is there (the crash hit between the
last insert and the confirmation), it is confirmed; otherwise its rows are deleted — and the
delete waited for — and it is aborted, then loaded again from Kafka. A range is never inserted
twice without a settle in between, so a count is an exact check.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Final

from sinks.ranges import OffsetRange, RangeState, RangeStatus, summarize
from sinks.tables import DEADLETTER_TABLE
from sinks.warehouse import Warehouse, WarehouseError
from sinks.warehouse._base import sql_literal

__all__ = ["RANGES_TABLE", "RangeLedger", "SettleError"]

RANGES_TABLE: Final = "sink_ranges"
_RANGE_COLUMNS: Final = (
    "src_topic",
    "src_partition",
    "first_offset",
    "last_offset",
    "state",
    "rows",
    "recorded_at",
)
log = logging.getLogger(__name__)


class SettleError(WarehouseError):
    """A pending range could not be settled (its delete did not finish in time)."""

    def __init__(self, offset_range: OffsetRange, message: str) -> None:
        super().__init__(f"range {offset_range}", message)
        self.range = offset_range


def _where(offset_range: OffsetRange) -> str:
    return (
        f"src_topic = {sql_literal(offset_range.topic)} "
        f"AND src_partition = {offset_range.partition} "
        f"AND src_offset BETWEEN {offset_range.first} AND {offset_range.last}"
    )


class RangeLedger:
    """Reads and writes ``sink_ranges``; settles pending ranges."""

    def __init__(
        self,
        warehouse: Warehouse,
        *,
        delete_timeout_s: float = 120.0,
        inflight_wait_s: float = 30.0,
    ) -> None:
        self.warehouse = warehouse
        self.delete_timeout_s = delete_timeout_s
        self.inflight_wait_s = inflight_wait_s

    def statuses(self, topics: Iterable[str]) -> list[RangeStatus]:
        names = ", ".join(sql_literal(t) for t in sorted(set(topics)))
        if not names:
            return []
        rows = self.warehouse.query(
            f"SELECT src_topic, src_partition, first_offset, last_offset, state, rows "
            f"FROM {RANGES_TABLE} WHERE src_topic IN ({names})"
        )
        return summarize(
            (OffsetRange(str(t), int(p), int(a), int(b)), str(state), int(n))
            for t, p, a, b, state, n in rows
        )

    def record(self, ranges: Sequence[tuple[OffsetRange, int]], state: RangeState) -> None:
        """One INSERT (one part: atomic) with a record per ``(range, rows)``."""
        if not ranges:
            return
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.warehouse.insert_rows(
            RANGES_TABLE,
            _RANGE_COLUMNS,
            [(r.topic, r.partition, r.first, r.last, state.value, rows, now) for r, rows in ranges],
        )

    def stored_rows(self, offset_range: OffsetRange, table: str) -> int:
        """Rows of the range in ``table`` and in the dead-letter table."""
        where = _where(offset_range)
        rows = self.warehouse.query(
            f"SELECT (SELECT count() FROM {table} WHERE {where}) "
            f"+ (SELECT count() FROM {DEADLETTER_TABLE} WHERE {where})"
        )
        return int(rows[0][0])

    def settle(self, status: RangeStatus, table: str) -> RangeState:
        """Confirm a pending range whose rows are all stored, else delete them and abort it."""
        offset_range = status.range
        self._wait_for_inflight_inserts(table)
        stored = self.stored_rows(offset_range, table)
        if stored == status.rows:
            self.record([(offset_range, status.rows)], RangeState.CONFIRMED)
            log.info("range %s: all %d rows were stored; confirmed", offset_range, stored)
            return RangeState.CONFIRMED
        if stored:
            for target in (table, DEADLETTER_TABLE):
                self.warehouse.execute(f"ALTER TABLE {target} DELETE WHERE {_where(offset_range)}")
            self._wait_until_deleted(offset_range, table)
        self.record([(offset_range, 0)], RangeState.ABORTED)
        log.info(
            "range %s: %d of %d rows were stored; deleted, to be loaded again",
            offset_range,
            stored,
            status.rows,
        )
        return RangeState.ABORTED

    def _wait_until_deleted(self, offset_range: OffsetRange, table: str) -> None:
        # ALTER … DELETE is an asynchronous mutation on both backends (18.16 has no
        # mutations_sync): poll until the range is empty, with a bound.
        deadline = time.monotonic() + self.delete_timeout_s
        pause = 0.02
        while (left := self.stored_rows(offset_range, table)) > 0:
            if time.monotonic() > deadline:
                raise SettleError(
                    offset_range,
                    f"{left} rows still there {self.delete_timeout_s:.0f}s after DELETE",
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    def _wait_for_inflight_inserts(self, table: str) -> None:
        """On a server, an INSERT of a killed sink may still be finishing: let it land first,
        so the count sees everything that will ever be there."""
        deadline = time.monotonic() + self.inflight_wait_s
        pause = 0.02
        pattern = sql_literal(f"INSERT INTO {table} %")
        while self.warehouse.query(
            f"SELECT count() FROM system.processes WHERE query LIKE {pattern}"
        )[0][0]:
            if time.monotonic() > deadline:
                raise WarehouseError(
                    table, f"an INSERT is still running after {self.inflight_wait_s:.0f}s"
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
