"""The report as a plain-text table, Vietnamese labels beside English ones."""

from __future__ import annotations

from typing import Any, Final

from sinks.report.model import AnnualReport
from sinks.report.reconcile import Reconciliation

__all__ = ["LABELS", "render_reconciliation", "render_report"]

# report key (dotted, in the JSON) -> "Vietnamese / English"
LABELS: Final = {
    "procedures": "Thủ tục hành chính / Administrative procedures",
    "procedures.in_force": "TTHC đang có hiệu lực (cuối năm) / Procedures in force (year end)",
    "procedures.in_force.province": "Cấp tỉnh / Province level",
    "procedures.in_force.district": "Cấp huyện / District level",
    "procedures.in_force.commune": "Cấp xã / Commune level",
    "procedures.in_force.total": "Tổng số / Total",
    "procedures.online": "Dịch vụ công trực tuyến / Online public services",
    "procedures.online.full": "Toàn trình / Full",
    "procedures.online.partial": "Một phần / Partial",
    "procedures.online.total": "Tổng số / Total",
    "procedures.online.rate_pct": "Tỷ lệ trên TTHC có hiệu lực (%) / Share of procedures in force",
    "procedures.published": "Công bố TTHC trong năm / Publication during the year",
    "procedures.published.decisions": "Quyết định công bố / Publication decisions",
    "procedures.published.standardized_new": "Mới ban hành, chuẩn hóa / New or standardized",
    "procedures.published.amended": "Sửa đổi, bổ sung / Amended",
    "procedures.published.replaced": "Thay thế / Replaced",
    "procedures.published.abolished": "Bãi bỏ / Abolished",
    "procedures.published.total": "Tổng số TTHC công bố / Procedures published",
    "dossiers": "Hồ sơ / Dossiers",
    "dossiers.opening_backlog": "Tồn kỳ trước chuyển sang / Opening backlog",
    "dossiers.received": "Hồ sơ tiếp nhận / Dossiers received",
    "dossiers.received_online": "Tiếp nhận trực tuyến / Received online",
    "dossiers.online_rate_pct": "Tỷ lệ trực tuyến (%) / Online share",
    "dossiers.resolved": "Đã giải quyết / Resolved",
    "dossiers.resolved_on_time": "Trước và đúng hạn / Early or on time",
    "dossiers.resolved_overdue": "Quá hạn / Overdue",
    "dossiers.on_time_rate_pct": "Tỷ lệ đúng hạn (%) / On-time rate",
    "dossiers.overdue_rate_pct": "Tỷ lệ quá hạn (%) / Overdue rate",
    "dossiers.withdrawn": "Rút hồ sơ / Withdrawn",
    "dossiers.closing_backlog": "Đang giải quyết cuối năm / Open at year end",
    "dossiers.apology_letters": "Phiếu xin lỗi / Apology letters",
    "dossiers.apology_coverage_pct": "Hồ sơ quá hạn có xin lỗi (%) / Overdue with an apology",
    "feedback": "Phản ánh, kiến nghị / Feedback",
    "feedback.received": "Tiếp nhận / Received",
    "feedback.about_procedures": "Về quy định hành chính / About regulations or procedures",
    "feedback.out_of_scope": "Không thuộc phạm vi / Out of scope",
}
_NO_DENOMINATOR: Final = "n/a (zero denominator)"


def _value(value: Any) -> str:
    if value is None:
        return _NO_DENOMINATOR
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _lines(data: dict[str, Any], prefix: str, depth: int) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else key
        label = "  " * depth + LABELS.get(dotted, dotted)
        if isinstance(value, dict):
            rows.append((label, ""))
            rows.extend(_lines(value, dotted, depth + 1))
        else:
            rows.append((label, _value(value)))
    return rows


def _align(rows: list[tuple[str, str]]) -> list[str]:
    width = max((len(label) for label, _ in rows), default=0)
    value_width = max((len(value) for _, value in rows), default=0)
    return [
        (label.ljust(width) + "  " + value.rjust(value_width)).rstrip() for label, value in rows
    ]


def render_report(report: AnnualReport) -> str:
    data = report.as_json()
    title = f"Báo cáo năm {report.year} / Annual report {report.year}"
    rows: list[tuple[str, str]] = []
    for section in ("procedures", "dossiers", "feedback"):
        rows.append((LABELS[section], ""))
        rows.extend(_lines(data[section], section, 1))
    lines = [title, "=" * len(title), *_align(rows)]
    check = report.backlog_check
    if check.consistent:
        lines.append(
            f"Kiểm tra / Check: open at year end counted directly = {check.counted:,} "
            "(equals the balance)"
        )
    else:
        lines.append(f"Kiểm tra / Check: DATA-QUALITY FINDING: {check.as_json()['finding']}")
    return "\n".join(lines) + "\n"


def render_reconciliation(reconciliation: Reconciliation) -> str:
    scale = (
        "" if reconciliation.scale is None else f", dossier counts scaled by {reconciliation.scale}"
    )
    title = f"Đối chiếu / Reconciliation with {reconciliation.source}{scale}"
    headers = ("published figure", "report key", "published", "expected", "computed", "status")
    table = [
        (
            c.mapped.published,
            c.mapped.report,
            _value(c.as_json()["published"]),
            _value(c.as_json()["expected"]),
            _value(c.as_json()["computed"]),
            "ok" if c.match else ("MISMATCH (explained)" if c.explained else "MISMATCH"),
        )
        for c in reconciliation.comparisons
    ]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
    lines = [title, "=" * len(title)]
    numeric = (False, False, True, True, True, False)  # counts read best right-aligned

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    lines.append(line(headers))
    lines.extend(line(row) for row in table)
    mismatches = reconciliation.mismatches
    unexplained = [c for c in mismatches if not c.explained]
    lines.append(
        f"{len(table)} figures compared, {len(mismatches)} mismatches "
        f"({len(unexplained)} not explained by the printed report's own inconsistencies)"
    )
    for c in mismatches:
        lines.append(f"  - {c.mapped.published}: {c.note}")
    lines.append("")
    lines.append("Mâu thuẫn trong báo cáo in / Inconsistencies of the printed report")
    checked = []
    for number, item in enumerate(
        (i for i in reconciliation.inconsistencies if not i.consistent), 1
    ):
        lines.append(f"  {number}. {item.check}: {item.arithmetic}")
        if item.explanation:
            lines.append(f"     -> {item.explanation}")
    checked = [i.check for i in reconciliation.inconsistencies if i.consistent]
    if checked:
        lines.append("  Consistent: " + "; ".join(checked))
    return "\n".join(lines) + "\n"
