"""``dossierhub bench report``: the annual report's query time on a warehouse of N dossiers,
against a plain full scan of the same tables measured in the same run.

The warehouse is filled in SQL (``INSERT … SELECT … FROM numbers(N)``), not through the sink:
the report reads tables, and the engine writes generated rows at millions a second, so the
city's 22.6 million dossiers take minutes. Each dossier's fate is a pure function of its number
(:class:`FillShape`), so the figures the report must produce follow from the shape alone.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from dossierhub.errors import HubError
from dossierhub.settings import Settings
from sinks.report.model import year_bounds
from sinks.report.queries import build_report
from sinks.warehouse import Warehouse, connect
from sinks.warehouse.migrate import migrate

__all__ = [
    "CITY_YEAR_DOSSIERS",
    "MAX_DOSSIERS",
    "DossierCountError",
    "FillShape",
    "bench_report",
    "fill_warehouse",
]

Progress = Callable[[str], None]

CITY_YEAR_DOSSIERS: Final = 22_583_451  # the city's dossiers of 2023 (issues #5, #6)
_DAY: Final = 86_400
_CHUNK: Final = 5_000_000  # dossiers per INSERT: bounded memory, a progress line per chunk
_LEVELS: Final = ("PROVINCE", "DISTRICT", "COMMUNE")
MAX_DOSSIERS: Final = 10**8  # the generated event ids carry the dossier's number in 8 digits


class DossierCountError(HubError):
    """A dossier count the generator cannot fill; carries the count."""

    def __init__(self, dossiers: int) -> None:
        super().__init__(
            f"cannot generate {dossiers:,} dossiers",
            hint=f"give --dossiers between 1 and {MAX_DOSSIERS - 1:,}",
        )
        self.dossiers = dossiers


@dataclass(frozen=True, slots=True)
class FillShape:
    """How dossier ``n`` (0 ≤ n < dossiers) fares; every ratio is "one in k".

    - received in the year at ``start + n * received_span_days / dossiers``, channel ONLINE if
      ``n % online_every < online_share``;
    - unresolved if ``n % open_every == 0``; of those, stopped (WITHDRAWN) if also
      ``n % withdrawn_every == 0``; the others stay open at the year's end;
    - resolved ``n % 30`` days after reception (always within the year), with outcome class by
      ``n % 10``: 0-2 EARLY, 3-8 ON_TIME, 9 OVERDUE; an overdue one gets an apology letter (and
      ``apology_issued``) if ``(n // 10) % 2 == 0``;
    - authority level ``LEVELS[n % 3]``, agency ``H29.{n % agencies}``;
    - besides: ``procedures`` procedures in force (levels in turn), every other one with a FULL
      online service; ``feedback`` items received in the year, classified IN_SCOPE unless
      ``i % 3 == 0`` (OUT_OF_SCOPE).
    """

    dossiers: int
    year: int = 2023
    received_span_days: int = 330
    online_every: int = 10
    online_share: int = 4
    open_every: int = 200
    withdrawn_every: int = 400
    agencies: int = 300
    procedures: int = 3_000
    feedback: int = 3_000

    def __post_init__(self) -> None:
        if not 0 < self.dossiers < MAX_DOSSIERS:
            raise DossierCountError(self.dossiers)

    def expected(self) -> dict[str, int]:
        """The report's dossier figures this shape must produce, counted from the rules above
        (dossier by dossier over one period of the pattern, then scaled: exact at any N)."""

        def resolved(k: int) -> bool:
            return k % self.open_every != 0

        def overdue(k: int) -> bool:
            return resolved(k) and k % 10 == 9

        opened = _count(self, lambda k: not resolved(k))
        withdrawn = _count(self, lambda k: k % self.withdrawn_every == 0)
        done = self.dossiers - opened
        late = _count(self, overdue)
        return {
            "received": self.dossiers,
            "received_online": _count(self, lambda k: k % self.online_every < self.online_share),
            "resolved": done,
            "resolved_overdue": late,
            "resolved_on_time": done - late,
            "withdrawn": withdrawn,
            "apology_letters": _count(self, lambda k: overdue(k) and (k // 10) % 2 == 0),
            "closing_backlog": opened - withdrawn,
        }


def _count(shape: FillShape, rule: Callable[[int], bool]) -> int:
    """How many of the dossiers 0 … N-1 follow ``rule``, a rule periodic in the shape's
    moduli (and in 20: the apology alternates every ten dossiers)."""
    period = math.lcm(shape.open_every, shape.withdrawn_every, shape.online_every, 20)
    whole = shape.dossiers // period
    per_period = sum(1 for k in range(period) if rule(k))
    return whole * per_period + sum(1 for k in range(whole * period, shape.dossiers) if rule(k))


def bench_report(
    settings: Settings, *, dossiers: int, backend: str, runs: int, progress: Progress
) -> dict[str, Any]:
    from sinks.bench import fresh_warehouse

    shape = FillShape(dossiers)
    with fresh_warehouse(backend, settings) as url, connect(url) as warehouse:
        migrate(warehouse)
        started = time.monotonic()
        rows = fill_warehouse(warehouse, shape, progress)
        fill_s = time.monotonic() - started
        progress(f"{backend}: filled {rows:,} rows in {fill_s:.0f} s; timing the report …")
        report_s = _best_of(lambda: build_report(warehouse, shape.year), runs)
        progress(f"{backend}: report best of {runs}: {report_s:.3f} s; timing the full scan …")
        scan_s = _best_of(lambda: _full_scan(warehouse), runs)
        report = build_report(warehouse, shape.year).as_json()
    return {
        "backend": backend,
        "dossiers": dossiers,
        "rows": rows,
        "fill_seconds": round(fill_s, 1),
        "report_seconds": round(report_s, 3),
        "scan_seconds": round(scan_s, 3),
        "ratio": round(report_s / scan_s, 2),
        "runs": runs,
        "report_exact": all(
            report["dossiers"][key] == value for key, value in shape.expected().items()
        ),
    }


def _best_of(run: Callable[[], object], runs: int) -> float:
    run()  # warm-up: caches, marks, the first query's compilation
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def _full_scan(warehouse: Warehouse) -> None:
    """The reference: read every row's dossier code of both tables the report scans most."""
    for table in ("events_dossier", "dossier_outcomes"):
        warehouse.query(f"SELECT count(), sum(cityHash64(dossier_code)) FROM {table}")


def fill_warehouse(warehouse: Warehouse, shape: FillShape, progress: Progress) -> int:
    """Insert ``shape``'s dossiers (events, outcomes) and a small catalog and feedback; returns
    the rows written."""
    start, _end = year_bounds(shape.year)
    base = int(start.replace(tzinfo=dt.UTC).timestamp())
    for first in range(0, shape.dossiers, _CHUNK):
        count = min(_CHUNK, shape.dossiers - first)
        for sql in _dossier_inserts(shape, base, first, count):
            warehouse.execute(sql)
        progress(f"filled dossiers {first + count:,} / {shape.dossiers:,}")
    _fill_small(warehouse, shape)
    return sum(
        int(warehouse.query(f"SELECT count() FROM {table}")[0][0])
        for table in ("events_dossier", "dossier_outcomes", "events_catalog", "events_feedback")
    )


def _dossier_inserts(shape: FillShape, base: int, first: int, count: int) -> list[str]:
    span = shape.received_span_days * _DAY
    levels = ", ".join(f"'{level}'" for level in _LEVELS)
    # one row per dossier with its facts; each INSERT keeps the rows of one event kind
    facts = (
        "SELECT n, concat('H29.', toString(n % {agencies})) AS agency,"
        " concat('000.00.', toString(n % {agencies}), '.H29-', toString(1000000000 + n)) AS code,"
        " toDateTime({base} + intDiv(n * {span}, {total})) AS received,"
        " toDateTime({base} + intDiv(n * {span}, {total}) + (n % 30) * 86400 + 3600) AS closed,"
        " multiIf(n % 10 < 3, 'EARLY', n % 10 < 9, 'ON_TIME', 'OVERDUE') AS cls,"
        " n % 10 = 9 AND intDiv(n, 10) % 2 = 0 AS apology,"
        " [{levels}][n % 3 + 1] AS level,"
        # decimal digits are hex digits: 8 of n (n < 10^8), 12 of the event kind
        " toUUID(concat(substring(toString(10000000000 + n), 4), '-0000-4000-8000-',"
        " toString(100000000000 + {kind})))"
        " AS id"
        " FROM (SELECT number + {first} AS n FROM numbers({count}))"
    )

    def source(kind: int, where: str) -> str:
        body = facts.format(
            agencies=shape.agencies,
            base=base,
            span=span,
            total=shape.dossiers,
            levels=levels,
            kind=kind,
            first=first,
            count=count,
        )
        return f"({body}) WHERE {where}"

    def head(kind: str, at: str) -> str:
        return f"id, '{kind}', 1, {at}, {at}, agency, 'bench', 'HCM-2023', code"

    resolved = f"n % {shape.open_every} != 0"
    return [
        "INSERT INTO events_dossier (event_id, event_type, schema_version, occurred_at,"
        " recorded_at, agency_code, producer_system, rule_regime, dossier_code, channel,"
        " received_at, carried_over, src_topic, src_partition, src_offset, schema_id)"
        f" SELECT {head('DossierReceived', 'received')},"
        f" if(n % {shape.online_every} < {shape.online_share}, 'ONLINE', 'COUNTER'),"
        " received, 0, 'hcm.dossier.events', 0, n * 4, 1"
        f" FROM {source(1, '1')}",
        "INSERT INTO events_dossier (event_id, event_type, schema_version, occurred_at,"
        " recorded_at, agency_code, producer_system, rule_regime, dossier_code, resolved_at,"
        " src_topic, src_partition, src_offset, schema_id)"
        f" SELECT {head('DossierResolved', 'closed')},"
        " closed, 'hcm.dossier.events', 0, n * 4 + 1, 1"
        f" FROM {source(2, resolved)}",
        "INSERT INTO events_dossier (event_id, event_type, schema_version, occurred_at,"
        " recorded_at, agency_code, producer_system, rule_regime, dossier_code, stopped_at,"
        " reason, src_topic, src_partition, src_offset, schema_id)"
        f" SELECT {head('DossierStopped', 'closed')},"
        " closed, 'WITHDRAWN', 'hcm.dossier.events', 0, n * 4 + 2, 1"
        f" FROM {source(3, f'n % {shape.withdrawn_every} = 0')}",
        "INSERT INTO events_dossier (event_id, event_type, schema_version, occurred_at,"
        " recorded_at, agency_code, producer_system, rule_regime, dossier_code, issued_at,"
        " src_topic, src_partition, src_offset, schema_id)"
        f" SELECT {head('ApologyIssued', 'closed')},"
        " closed, 'hcm.dossier.events', 0, n * 4 + 3, 1"
        f" FROM {source(4, f'{resolved} AND apology')}",
        # the outcomes: one per resolved dossier, and one with no resolution per stopped one
        "INSERT INTO dossier_outcomes (event_id, event_type, schema_version, occurred_at,"
        " recorded_at, agency_code, producer_system, rule_regime, dossier_code, outcome_class,"
        " received_at, resolved_at, due_date, days_taken, days_late, receiving_agency_code,"
        " resolving_agency_code, procedure_code, authority_level, channel, apology_issued,"
        " resolution, src_topic, src_partition, src_offset, schema_id)"
        f" SELECT {head('DossierOutcome', 'closed')},"
        f" if({resolved}, cls, 'ON_TIME'), received, closed, toDate(received) + 20,"
        " toInt32(n % 30), toInt32(if(cls = 'OVERDUE', 1, 0)), agency, agency,"
        " concat('1.00', toString(n % 500)), level, 'COUNTER', toUInt8(apology),"
        f" if({resolved}, 'APPROVED', NULL), 'hcm.dossier.outcomes', 0, n, 1"
        f" FROM {source(5, f'{resolved} OR n % {shape.withdrawn_every} = 0')}",
    ]


def _fill_small(warehouse: Warehouse, shape: FillShape) -> None:
    """A catalog of a few thousand procedures and a few thousand feedback items (rows from
    Python: small whatever N is)."""
    at = dt.datetime(shape.year - 1, 6, 1, 2)
    catalog = []
    for i in range(shape.procedures):
        code = f"1.{i:06d}"
        catalog.append(_catalog_row(i, "ProcedurePublished", code, at=at, authority=_LEVELS[i % 3]))
        if i % 2 == 0:
            catalog.append(
                _catalog_row(
                    shape.procedures + i, "OnlineServiceOffered", code, at=at, level="FULL"
                )
            )
    columns = [
        *("event_id", "event_type", "schema_version", "occurred_at", "recorded_at"),
        *("agency_code", "producer_system", "rule_regime", "procedure_code", "service_code"),
        *("authority_level", "internal", "level", "valid_from"),
        *("src_topic", "src_partition", "src_offset", "schema_id"),
    ]
    warehouse.insert_rows("events_catalog", columns, catalog)
    start, _end = year_bounds(shape.year)
    feedback = [
        (
            _uuid(2 * shape.procedures + i),
            kind,
            1,
            start + dt.timedelta(hours=i),
            start + dt.timedelta(hours=i),
            "H29",
            "bench",
            "HCM-2023",
            f"FB-{i}",
            start + dt.timedelta(hours=i),
            None if kind == "FeedbackReceived" else start + dt.timedelta(hours=i),
            None if kind == "FeedbackReceived" else ("IN_SCOPE" if i % 3 else "OUT_OF_SCOPE"),
            "hcm.feedback.events",
            0,
            2 * i + (kind != "FeedbackReceived"),
            1,
        )
        for i in range(shape.feedback)
        for kind in ("FeedbackReceived", "FeedbackClassified")
    ]
    columns = [
        *("event_id", "event_type", "schema_version", "occurred_at", "recorded_at"),
        *("agency_code", "producer_system", "rule_regime", "feedback_id", "received_at"),
        *("classified_at", "scope", "src_topic", "src_partition", "src_offset", "schema_id"),
    ]
    warehouse.insert_rows("events_feedback", columns, feedback)


def _catalog_row(
    i: int,
    kind: str,
    procedure: str,
    *,
    at: dt.datetime,
    authority: str | None = None,
    level: str | None = None,
) -> tuple[object, ...]:
    online = kind.startswith("Online")
    return (
        *(_uuid(i), kind, 1, at, at, "H29", "bench", "HCM-2023", procedure),
        f"S{procedure}" if online else None,
        authority,
        None if online else 0,  # internal: never, for a procedure
        level,
        at.date(),
        *("hcm.catalog.events", 0, i, 1),
    )


def _uuid(i: int) -> str:
    return f"{i:08x}-0000-4000-8000-{0xCA7:012x}"
