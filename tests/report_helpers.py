"""Annual reports built directly from figures (no warehouse), for the rendering and
reconciliation tests."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from sinks.report.model import (
    AnnualReport,
    BacklogCheck,
    Charts,
    DossierFigures,
    FeedbackFigures,
    ProcedureFigures,
)
from sinks.report.reconcile import scale_count
from tests.helpers import REPO

PUBLISHED_2023 = REPO.parent / "shared" / "reference" / "hcmc-2023-published-figures.json"


def published_2023() -> Path:
    """The city's published 2023 figures (shared/reference, beside the repository)."""
    return PUBLISHED_2023


def report_matching(
    published: Path, scale: Decimal = Decimal(1), backlog: int = 499
) -> AnnualReport:
    """The report a warehouse holding exactly the published year would give: dossier counts
    scaled the simulator's way, the opening backlog the printed in-progress figure implies."""
    data: dict[str, Any] = json.loads(published.read_text("utf-8"))
    p, d, f = data["procedures"], data["dossiers"], data["feedback"]

    def s(count: int) -> int:
        return scale_count(count, scale)

    dossiers = DossierFigures(
        opening_backlog=s(backlog),
        received=s(d["received"]),
        received_online=s(d["online_full_or_partial"]),
        resolved_on_time=s(d["resolved_on_time"]),
        resolved_overdue=s(d["resolved_overdue"]),
        overdue_with_apology=s(d["resolved_overdue"]),
        withdrawn=0,
        apology_letters=s(d["resolved_overdue"]),
    )
    levels = p["in_force_by_level"]
    monthly = [(1000 + 10 * m, 400 + 20 * m) for m in range(12)]
    return AnnualReport(
        year=int(data["year"]),
        procedures=ProcedureFigures(
            in_force={k.upper(): v for k, v in levels.items()},
            online_full=p["online_services_full"],
            online_partial=p["online_services_partial"],
            decisions=p["publication_decisions"],
            published=dict(p["published_by_action"]),
        ),
        dossiers=dossiers,
        feedback=FeedbackFigures(
            received=f["received"],
            about_procedures=f["about_regulations_or_procedures"],
            out_of_scope=f["out_of_scope"],
        ),
        backlog_check=BacklogCheck(dossiers.closing_backlog, dossiers.closing_backlog),
        charts=Charts(
            on_time_by_level={
                "PROVINCE": [(r, r - 3) for r, _ in monthly],
                "DISTRICT": [(r // 2, r // 2 - 1) for r, _ in monthly],
                "COMMUNE": [(0, 0)] * 11 + [(5, 5)],  # a level with one month of data
            },
            online_by_month=monthly,
            backlog=[499 + 7 * m for m in range(13)],
            procedures_by_online_level={
                "PROVINCE": {"FULL": 400, "PARTIAL": 200, "NONE": 887},
                "DISTRICT": {"FULL": 50, "PARTIAL": 60, "NONE": 109},
                "COMMUNE": {"FULL": 14, "PARTIAL": 16, "NONE": 98},
            },
        ),
    )
