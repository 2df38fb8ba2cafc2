"""The annual report computed from the warehouse alone (the event tables and the outcomes).

Portable SQL only: every statement runs on Debian's ClickHouse 18.16 and on chDB (no window
functions, no JSON functions, no DateTime64, no SETTINGS — the loopback server refuses those).
Year and month boundaries are local (Asia/Ho_Chi_Minh) instants, computed here in Python and
passed as Unix seconds, so neither engine's time-zone handling of literals is involved; month
buckets use ``toDate(x, 'Asia/Ho_Chi_Minh')``, which both engines evaluate alike.

Duplicates are harmless by construction: every count is a ``uniqExact`` of the entity (dossier,
feedback, letter) or a fold that keys by event id, so an event stored twice counts once.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Final

from dossierhub.errors import HubError
from sinks.report.catalog import (
    CatalogEvent,
    count_published_items,
    fold_in_force,
    fold_online_levels,
)
from sinks.report.model import (
    LEVELS,
    MONTHS,
    AnnualReport,
    BacklogCheck,
    Charts,
    DossierFigures,
    FeedbackFigures,
    ProcedureFigures,
    month_ends,
    year_bounds,
)
from sinks.warehouse import Row, Warehouse

__all__ = ["MissingTablesError", "build_report"]

_TABLES: Final = ("events_catalog", "events_dossier", "events_feedback", "dossier_outcomes")


class MissingTablesError(HubError):
    """The warehouse lacks the tables the report reads (not migrated); names them."""

    def __init__(self, missing: Sequence[str]) -> None:
        super().__init__(
            f"the warehouse has no table {', '.join(missing)}",
            hint="run `dossierhub warehouse migrate`, then load events (`dossierhub run`)",
        )
        self.missing = tuple(missing)


_TZ: Final = "'Asia/Ho_Chi_Minh'"
_PROCEDURE_EVENTS: Final = (
    "ProcedurePublished",
    "ProcedureAmended",
    "ProcedureAbolished",
    "ProcedureReplaced",
)
_ONLINE_EVENTS: Final = (
    "OnlineServiceOffered",
    "OnlineServiceLevelChanged",
    "OnlineServiceWithdrawn",
)


# Rows one per-dossier GROUP BY reads at most: at the city's scale (≈46 M events, 22.6 M
# dossiers) a single GROUP BY needs more than the server's per-query memory limit (≈7.5 GiB
# measured on 18.16), so the dossiers are split into disjoint buckets by a hash of their code
# and the buckets' counts added up — exact, since a dossier's rows all fall in one bucket.
ROWS_PER_PASS: Final = 12_000_000


def build_report(
    warehouse: Warehouse, year: int, *, rows_per_pass: int = ROWS_PER_PASS
) -> AnnualReport:
    """Every figure of the report for local calendar ``year``."""
    present = {
        str(row[0])
        for row in warehouse.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase()"
            f" AND name IN ({_in_list(_TABLES)})"
        )
    }
    if missing := [table for table in _TABLES if table not in present]:
        raise MissingTablesError(missing)
    window = _Window(year)
    procedures, by_online_level = _procedures(warehouse, year)
    outcomes = _Outcomes()
    for bucket in _buckets(warehouse, "dossier_outcomes", rows_per_pass):
        _outcomes(warehouse, window, bucket, into=outcomes)
    facts = _DossierFacts([0] * 13, [(0, 0)] * 12, 0)
    for bucket in _buckets(warehouse, "events_dossier", rows_per_pass):
        _dossier_facts(warehouse, window, bucket, into=facts)
    backlog, received = facts.backlog, facts.received
    dossiers = DossierFigures(
        opening_backlog=backlog[0],
        received=sum(total for total, _online in received),
        received_online=sum(online for _total, online in received),
        resolved_on_time=outcomes.on_time,
        resolved_overdue=outcomes.overdue,
        overdue_with_apology=outcomes.overdue_with_apology,
        withdrawn=facts.withdrawn,
        apology_letters=_count(
            warehouse,
            "SELECT uniqExact(event_id) FROM events_dossier WHERE event_type = 'ApologyIssued'"
            f" AND {window.contains('issued_at')}"
            " AND exemption_reason IS NULL",  # a recorded exemption is no letter
        ),
    )
    return AnnualReport(
        year=year,
        procedures=procedures,
        dossiers=dossiers,
        feedback=_feedback(warehouse, window),
        backlog_check=BacklogCheck(computed=dossiers.closing_backlog, counted=backlog[-1]),
        charts=Charts(
            on_time_by_level=outcomes.by_level_month,
            online_by_month=received,
            backlog=backlog,
            procedures_by_online_level=by_online_level,
        ),
    )


class _Window:
    """The year's UTC bounds as SQL, and its month ends."""

    def __init__(self, year: int) -> None:
        self.year = year
        self.start, self.end = year_bounds(year)
        self.month_ends = month_ends(year)

    def contains(self, column: str) -> str:
        return f"{column} >= {_instant(self.start)} AND {column} < {_instant(self.end)}"


def _instant(naive_utc: dt.datetime) -> str:
    return f"toDateTime({int(naive_utc.replace(tzinfo=dt.UTC).timestamp())})"


def _count(warehouse: Warehouse, sql: str) -> int:
    return int(warehouse.query(sql)[0][0])


def _in_list(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _procedures(
    warehouse: Warehouse, year: int
) -> tuple[ProcedureFigures, dict[str, dict[str, int]]]:
    end = dt.date(year, 12, 31)
    rows = warehouse.query(
        "SELECT event_id, event_type, ifNull(service_code, ''), ifNull(procedure_code, ''),"
        " valid_from, occurred_at, src_offset, authority_level, internal, level"
        " FROM events_catalog"
        f" WHERE event_type IN ({_in_list(_PROCEDURE_EVENTS + _ONLINE_EVENTS)})"
        f" AND valid_from <= toDate('{end.isoformat()}')"
    )
    events: dict[str, CatalogEvent] = {}  # by event id: a duplicate folds once
    for row in rows:
        event_id, kind, service, procedure, valid_from, occurred, offset, auth, internal, lvl = row
        events[str(event_id)] = CatalogEvent(
            event_type=str(kind),
            code=str(service if kind in _ONLINE_EVENTS else procedure),
            procedure_code=str(procedure),
            effective=valid_from,
            occurred_at=occurred,
            offset=int(offset),
            authority_level=auth,
            internal=None if internal is None else bool(internal),
            level=lvl,
        )
    procedure_events = [e for e in events.values() if e.event_type in _PROCEDURE_EVENTS]
    online_events = [e for e in events.values() if e.event_type in _ONLINE_EVENTS]
    in_force = fold_in_force(procedure_events, end)
    online = fold_online_levels(online_events, end, in_force)

    decisions = _rows_by_event_id(
        warehouse.query(
            "SELECT event_id, items FROM events_catalog"
            " WHERE event_type = 'PublicationDecisionIssued'"
            f" AND signed_date >= toDate('{year:04d}-01-01') AND signed_date <= toDate('{end}')"
        )
    )
    by_level = {level: 0 for level in LEVELS}
    by_online_level = {level: dict.fromkeys(("FULL", "PARTIAL", "NONE"), 0) for level in LEVELS}
    for code, level in in_force.levels.items():
        by_level[level] = by_level.get(level, 0) + 1
        by_online_level.setdefault(level, dict.fromkeys(("FULL", "PARTIAL", "NONE"), 0))
        by_online_level[level][online.get(code, "NONE")] += 1
    figures = ProcedureFigures(
        in_force=by_level,
        online_full=sum(1 for level in online.values() if level == "FULL"),
        online_partial=sum(1 for level in online.values() if level == "PARTIAL"),
        decisions=len(decisions),
        published=count_published_items(row[1] for row in decisions),
    )
    return figures, by_online_level


def _rows_by_event_id(rows: list[Row]) -> list[Row]:
    return list({str(row[0]): row for row in rows}.values())


class _Outcomes:
    def __init__(self) -> None:
        self.on_time = 0
        self.overdue = 0
        self.overdue_with_apology = 0
        # level -> month -> [resolved, on time]
        self.cells: dict[str, dict[int, list[int]]] = defaultdict(
            lambda: {m: [0, 0] for m in MONTHS}
        )

    @property
    def by_level_month(self) -> dict[str, list[tuple[int, int]]]:
        levels = [*LEVELS, *sorted(set(self.cells) - set(LEVELS))]
        return {
            level: [(self.cells[level][m][0], self.cells[level][m][1]) for m in MONTHS]
            for level in levels
        }


def _buckets(warehouse: Warehouse, table: str, rows_per_pass: int) -> list[str]:
    """Conditions splitting ``table``'s dossiers into disjoint buckets of about
    ``rows_per_pass`` rows (one bucket, no condition, for a table that small)."""
    rows = _count(warehouse, f"SELECT count() FROM {table}")
    passes = max(1, -(-rows // rows_per_pass))
    if passes == 1:
        return ["1"]
    return [f"cityHash64(dossier_code) % {passes} = {i}" for i in range(passes)]


def _outcomes(warehouse: Warehouse, window: _Window, bucket: str, *, into: _Outcomes) -> None:
    """The latest outcome of each dossier resolved in the year (the processors re-emit one when
    a late fact changes it; the last on the dossier's partition wins, as in v_dossier_outcomes).

    A stopped dossier (withdrawn, not eligible) is classified too, with no ``resolution``: it
    ended but was not resolved, so it counts in neither on-time nor overdue.
    """
    rows = warehouse.query(
        "SELECT cls, lvl, toMonth(toDate(resolved_on, " + _TZ + ")) AS month, count(), sum(apology)"
        " FROM (SELECT dossier_code,"
        " argMax(outcome_class, src_offset) AS cls,"
        " argMax(authority_level, src_offset) AS lvl,"
        " argMax(resolved_at, src_offset) AS resolved_on,"
        " argMax(apology_issued, src_offset) AS apology,"
        " argMax(ifNull(resolution, ''), src_offset) AS res"
        f" FROM dossier_outcomes WHERE {window.contains('resolved_at')} AND {bucket}"
        " GROUP BY dossier_code)"
        " WHERE res != ''"
        " GROUP BY cls, lvl, month"
    )
    result = into
    for cls, level, month, count, apologies in rows:
        cell = result.cells[str(level)][int(month)]
        cell[0] += int(count)
        if cls == "OVERDUE":
            result.overdue += int(count)
            result.overdue_with_apology += int(apologies)
        else:  # EARLY and ON_TIME are both "on time" (trước hạn + đúng hạn)
            result.on_time += int(count)
            cell[1] += int(count)


class _DossierFacts:
    """What one pass over ``events_dossier`` yields: the backlog at the 13 instants, the
    receptions by month, the withdrawals."""

    def __init__(self, backlog: list[int], received: list[tuple[int, int]], withdrawn: int):
        self.backlog = backlog
        self.received = received
        self.withdrawn = withdrawn


def _dossier_facts(
    warehouse: Warehouse, window: _Window, bucket: str, *, into: _DossierFacts
) -> None:
    """Every per-dossier figure of ``events_dossier`` from ONE ``GROUP BY dossier_code``.

    Each figure keeps its own condition inside a conditional aggregate, so the pass computes
    exactly what separate queries would (the WHERE is only the union of the conditions, to
    skip the other event kinds):

    - backlog (13 values): open at t = received before t and neither resolved nor stopped
      before t, over the events that occurred before the year's end;
    - received by local month: each dossier once, at its first reception in the year that was
      not carried over (the backlog loaded into the books is not received now), with that
      reception's channel;
    - withdrawn: dossiers with a DossierStopped WITHDRAWN in the year.

    Duplicated events (an event id stored twice) change no min and no "at least one", so
    they count once, as before.
    """
    before_end = f"occurred_at < {_instant(window.end)}"
    received = f"event_type = 'DossierReceived' AND {before_end}"
    closed = f"event_type IN ('DossierResolved', 'DossierStopped') AND {before_end}"
    new = (
        f"event_type = 'DossierReceived' AND {window.contains('received_at')}"
        " AND ifNull(carried_over, 0) = 0"
    )
    withdrawn = (
        "event_type = 'DossierStopped' AND reason = 'WITHDRAWN'"
        f" AND {window.contains('stopped_at')}"
    )
    # the facts of each dossier, then the dossiers counted by the local months they fall in
    # (tiny: a few hundred groups); the instants of the report are local month starts, so
    # "before t" is "in a month before t's"
    rows = warehouse.query(
        "SELECT received > 0, toStartOfMonth(toDate(received_at_, " + _TZ + ")),"
        " closed > 0, toStartOfMonth(toDate(closed_at, " + _TZ + ")),"
        " new > 0, toMonth(toDate(new_at, " + _TZ + ")), online, withdrawn > 0, count()"
        " FROM (SELECT"
        f" countIf({received}) AS received,"
        f" minIf(ifNull(received_at, occurred_at), {received}) AS received_at_,"
        f" countIf({closed}) AS closed,"
        f" minIf(ifNull(ifNull(resolved_at, stopped_at), occurred_at), {closed}) AS closed_at,"
        f" countIf({new}) AS new,"
        f" minIf(ifNull(received_at, occurred_at), {new}) AS new_at,"
        f" argMinIf(ifNull(channel, '') = 'ONLINE', received_at, {new}) AS online,"
        f" countIf({withdrawn}) AS withdrawn"
        " FROM events_dossier"
        " WHERE event_type IN ('DossierReceived', 'DossierResolved', 'DossierStopped')"
        f" AND {bucket}"
        f" AND (({before_end}) OR ({new}) OR ({withdrawn}))"
        " GROUP BY dossier_code)"
        " GROUP BY received > 0, toStartOfMonth(toDate(received_at_, " + _TZ + ")),"
        " closed > 0, toStartOfMonth(toDate(closed_at, " + _TZ + ")),"
        " new > 0, toMonth(toDate(new_at, " + _TZ + ")), online, withdrawn > 0"
    )
    starts = [dt.date(window.year, 1, 1)] + [
        dt.date(window.year + m // 12, m % 12 + 1, 1) for m in MONTHS
    ]
    facts = into
    for was_received, received_in, was_closed, closed_in, is_new, month, online, gone, n in rows:
        count = int(n)
        for i, start in enumerate(starts):
            if was_received and received_in < start and not (was_closed and closed_in < start):
                facts.backlog[i] += count
        if is_new:
            total, online_total = facts.received[int(month) - 1]
            facts.received[int(month) - 1] = (total + count, online_total + count * bool(online))
        if gone:
            facts.withdrawn += count


def _feedback(warehouse: Warehouse, window: _Window) -> FeedbackFigures:
    """Feedback received in the year; its scope is the latest classification of each item."""
    received_in_year = (
        "SELECT feedback_id FROM events_feedback WHERE event_type = 'FeedbackReceived'"
        f" AND {window.contains('received_at')}"
    )
    received = _count(warehouse, f"SELECT uniqExact(feedback_id) FROM ({received_in_year})")
    in_scope, out_of_scope = warehouse.query(
        "SELECT countIf(latest = 'IN_SCOPE'), countIf(latest = 'OUT_OF_SCOPE')"
        " FROM (SELECT feedback_id,"
        " argMax(ifNull(scope, ''), tuple(ifNull(classified_at, occurred_at), src_offset))"
        " AS latest"
        " FROM events_feedback WHERE event_type = 'FeedbackClassified'"
        f" AND feedback_id IN ({received_in_year})"
        " GROUP BY feedback_id)"
    )[0]
    return FeedbackFigures(
        received=received, about_procedures=int(in_scope), out_of_scope=int(out_of_scope)
    )
