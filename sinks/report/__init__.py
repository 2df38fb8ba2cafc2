"""The annual report (báo cáo năm) computed from the warehouse alone, and its reconciliation
with a published report: ``dossierhub report`` (see README, "The annual report")."""

from __future__ import annotations

from sinks.report.model import AnnualReport, percent
from sinks.report.queries import build_report

__all__ = ["AnnualReport", "build_report", "percent"]
