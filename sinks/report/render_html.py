"""The report as one self-contained HTML page: inline CSS, inline SVG charts drawn here in Python,
and a few lines of inline script that check the drawing (no network, no library).

The script marks ``<body data-rendered="ok">`` once every chart has bars of non-zero size, and
``data-js-error`` if anything throws: what the headless-Chromium test reads from the DOM.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape
from typing import Final

from sinks.report.model import AnnualReport, percent
from sinks.report.reconcile import Reconciliation
from sinks.report.render_table import LABELS, render_reconciliation

__all__ = ["CHART_IDS", "render_html"]

CHART_IDS: Final = ("on-time-by-level", "online-share", "backlog", "procedures-by-level")
_LEVEL_COLOURS: Final = {"PROVINCE": "#1d4e89", "DISTRICT": "#e07a1f", "COMMUNE": "#2f9e44"}
_LEVEL_NAMES: Final = {
    "PROVINCE": "Cấp tỉnh / Province",
    "DISTRICT": "Cấp huyện / District",
    "COMMUNE": "Cấp xã / Commune",
}
_ONLINE_COLOURS: Final = {"FULL": "#1b7f79", "PARTIAL": "#f2b134", "NONE": "#c9cdd2"}
_ONLINE_NAMES: Final = {
    "FULL": "Toàn trình / Full online",
    "PARTIAL": "Một phần / Partial",
    "NONE": "Không trực tuyến / Not online",
}
_MONTHS: Final = ("T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "T10", "T11", "T12")
_WIDTH: Final = 720
_HEIGHT: Final = 280
_PAD_LEFT: Final = 64
_PAD_RIGHT: Final = 16
_PAD_TOP: Final = 16
_PAD_BOTTOM: Final = 36


@dataclass(frozen=True, slots=True)
class _Series:
    name: str
    colour: str
    values: Sequence[float | None]  # None: nothing to draw for that category (no data)


def _fmt_pct(value: float) -> str:
    return f"{value:.2f}%"


def _fmt_count(value: float) -> str:
    return f"{round(value):,}"


def _bar_chart(
    chart_id: str,
    categories: Sequence[str],
    series: Sequence[_Series],
    *,
    y_range: tuple[float, float],
    fmt: Callable[[float], str],
) -> str:
    """Vertical (grouped) bars; each bar a ``rect.bar`` with a ``<title>`` tooltip."""
    low, high = y_range
    plot_w = _WIDTH - _PAD_LEFT - _PAD_RIGHT
    plot_h = _HEIGHT - _PAD_TOP - _PAD_BOTTOM
    slot = plot_w / max(len(categories), 1)
    bar_w = slot * 0.8 / max(len(series), 1)
    span = (high - low) or 1.0

    def y_of(value: float) -> float:
        clipped = min(max(value, low), high)
        return _PAD_TOP + plot_h * (1 - (clipped - low) / span)

    parts = [
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {_WIDTH} {_HEIGHT}" '
        f'width="{_WIDTH}" height="{_HEIGHT}" role="img">'
    ]
    for step in range(5):  # horizontal grid with its labels
        tick = low + span * step / 4
        y = y_of(tick)
        parts.append(
            f'<line class="grid" x1="{_PAD_LEFT}" x2="{_WIDTH - _PAD_RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{_PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(fmt(tick))}</text>"
        )
    for index, category in enumerate(categories):
        x0 = _PAD_LEFT + slot * index + slot * 0.1
        parts.append(
            f'<text class="axis" x="{x0 + slot * 0.4:.1f}" y="{_HEIGHT - _PAD_BOTTOM + 16}" '
            f'text-anchor="middle">{escape(category)}</text>'
        )
        for number, one in enumerate(series):
            value = one.values[index]
            if value is None:
                continue
            top = y_of(value)
            height = max(_PAD_TOP + plot_h - top, 1.0)  # a zero still shows as a 1px bar
            parts.append(
                f'<rect class="bar" x="{x0 + bar_w * number:.1f}" y="{top:.1f}" '
                f'width="{bar_w:.1f}" height="{height:.1f}" fill="{one.colour}" '
                f'data-value="{value}"><title>{escape(one.name)}, {escape(category)}: '
                f"{escape(fmt(value))}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _stacked_bars(chart_id: str, rows: dict[str, dict[str, int]], names: dict[str, str]) -> str:
    """Horizontal stacked bars: one row per authority level, one segment per online level."""
    height = _PAD_TOP + 44 * len(rows) + _PAD_BOTTOM
    left = 170
    plot_w = _WIDTH - left - _PAD_RIGHT - 50
    largest = max((sum(r.values()) for r in rows.values()), default=0) or 1
    parts = [
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {_WIDTH} {height}" '
        f'width="{_WIDTH}" height="{height}" role="img">'
    ]
    for index, (level, counts) in enumerate(rows.items()):
        y = _PAD_TOP + 44 * index
        parts.append(
            f'<text class="axis" x="{left - 8}" y="{y + 20}" text-anchor="end">'
            f"{escape(names.get(level, level))}</text>"
        )
        x = float(left)
        for online_level, count in counts.items():
            if count == 0:
                continue
            width = plot_w * count / largest
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y}" width="{width:.1f}" height="28" '
                f'fill="{_ONLINE_COLOURS[online_level]}" data-value="{count}"><title>'
                f"{escape(names.get(level, level))}, {escape(_ONLINE_NAMES[online_level])}: "
                f"{count:,}</title></rect>"
            )
            x += width
        parts.append(
            f'<text class="axis" x="{x + 6:.1f}" y="{y + 20}">{sum(counts.values()):,}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _legend(items: Sequence[tuple[str, str]]) -> str:
    return (
        '<div class="legend">'
        + "".join(
            f'<span><i style="background:{colour}"></i>{escape(name)}</span>'
            for name, colour in items
        )
        + "</div>"
    )


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 4 or 8 times a power of ten at or above ``value`` (at least 4): its
    quarters make round ticks."""
    value = max(value, 4.0)
    power = 10.0 ** math.floor(math.log10(value))
    return next(power * f for f in (1, 2, 4, 8, 10) if power * f >= value)


def _pct_float(numerator: int, denominator: int) -> float | None:
    value: Decimal | None = percent(numerator, denominator)
    return None if value is None else float(value)


def _charts(report: AnnualReport) -> list[tuple[str, str, str]]:
    charts = report.charts
    levels = [
        level
        for level in charts.on_time_by_level
        if any(r for r, _ in charts.on_time_by_level[level])
    ]
    rates = {
        level: [
            _pct_float(on_time, resolved) for resolved, on_time in charts.on_time_by_level[level]
        ]
        for level in levels
    }
    present = [v for values in rates.values() for v in values if v is not None]
    floor = min(present, default=0.0)
    # an on-time rate near 100% would show as full bars: start the axis near the lowest rate
    low = max(0.0, (int(floor) // 5) * 5 - 5) if floor > 50 else 0.0
    on_time = _bar_chart(
        CHART_IDS[0],
        _MONTHS,
        [
            _Series(_LEVEL_NAMES.get(lv, lv), _LEVEL_COLOURS.get(lv, "#777"), rates[lv])
            for lv in levels
        ],
        y_range=(low, 100.0),
        fmt=_fmt_pct,
    ) + _legend([(_LEVEL_NAMES.get(lv, lv), _LEVEL_COLOURS.get(lv, "#777")) for lv in levels])
    online = _bar_chart(
        CHART_IDS[1],
        _MONTHS,
        [
            _Series(
                LABELS["dossiers.online_rate_pct"],
                "#1b7f79",
                [_pct_float(o, r) for r, o in charts.online_by_month],
            )
        ],
        y_range=(0.0, 100.0),
        fmt=_fmt_pct,
    )
    top = _nice_ceiling(max(charts.backlog, default=0))
    backlog = _bar_chart(
        CHART_IDS[2],
        ["1/1", *_MONTHS],
        [
            _Series(
                LABELS["dossiers.closing_backlog"], "#7b2d8b", [float(v) for v in charts.backlog]
            )
        ],
        y_range=(0.0, top),
        fmt=_fmt_count,
    )
    procedures = _stacked_bars(
        CHART_IDS[3], charts.procedures_by_online_level, _LEVEL_NAMES
    ) + _legend([(_ONLINE_NAMES[k], c) for k, c in _ONLINE_COLOURS.items()])
    return [
        (
            "Tỷ lệ giải quyết đúng hạn theo cấp và tháng / On-time rate by agency level and month",
            "Share of the dossiers resolved in the month that were early or on time.",
            on_time,
        ),
        (
            "Tỷ lệ hồ sơ trực tuyến theo tháng / Online share of dossiers received, by month",
            "Dossiers received through the online channel over all dossiers received.",
            online,
        ),
        (
            "Hồ sơ tồn theo thời gian / Backlog over the year",
            "Dossiers open on 1 January and at the end of each month.",
            backlog,
        ),
        (
            "TTHC theo cấp và mức trực tuyến / Procedures by level and online level",
            "Procedures in force at the end of the year.",
            procedures,
        ),
    ]


def _figures_table(report: AnnualReport) -> str:
    data = report.as_json()
    rows = []
    for section in ("procedures", "dossiers", "feedback"):
        rows.append(f'<tr class="section"><th colspan="2">{escape(LABELS[section])}</th></tr>')
        for group, values in data[section].items():
            if isinstance(values, dict):
                label = LABELS.get(f"{section}.{group}", group)
                rows.append(f'<tr class="group"><td colspan="2">{escape(label)}</td></tr>')
                items = [(f"{section}.{group}.{k}", v) for k, v in values.items()]
            else:
                items = [(f"{section}.{group}", values)]
            for key, value in items:
                shown = "n/a (zero denominator)" if value is None else f"{value:,}"
                rows.append(
                    f"<tr><td>{escape(LABELS.get(key, key))}</td>"
                    f'<td class="num" data-key="{key}">{escape(shown)}</td></tr>'
                )
    return '<table class="figures">' + "".join(rows) + "</table>"


_STYLE: Final = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2933;
background:#f5f7fa}
header{background:#1d4e89;color:#fff;padding:20px 32px}
header h1{margin:0;font-size:24px} header p{margin:4px 0 0;opacity:.85}
main{max-width:1200px;margin:0 auto;padding:16px 32px;display:grid;
grid-template-columns:repeat(auto-fit,minmax(740px,1fr));gap:16px}
section{background:#fff;border-radius:8px;padding:16px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
section h2{font-size:16px;margin:0 0 4px}
section p.note{margin:0 0 8px;color:#52606d;font-size:13px}
.cards{display:flex;gap:12px;flex-wrap:wrap;grid-column:1/-1}
.card{background:#fff;border-radius:8px;padding:12px 16px;min-width:160px;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
.card b{display:block;font-size:22px} .card span{font-size:12px;color:#52606d}
svg.chart{width:100%;max-width:960px;height:auto}
.grid{stroke:#e4e7eb} .axis{font-size:11px;fill:#52606d}
rect.bar:hover{opacity:.75}
.legend span{margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
table.figures{border-collapse:collapse;width:100%;font-size:13px}
table.figures td{padding:3px 6px;border-bottom:1px solid #eef1f4}
table.figures td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.section th{text-align:left;padding-top:10px} tr.group td{font-weight:600;color:#334e68}
pre{white-space:pre-wrap;font-size:12px;background:#f8fafc;padding:8px;overflow:auto}
"""

# Checks the drawing and says so on <body>: data-rendered="ok", or which chart is empty.
_SCRIPT: Final = """
window.addEventListener('error', function (e) { document.body.dataset.jsError = e.message; });
window.addEventListener('load', function () {
  var empty = [];
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    var drawn = 0;
    svg.querySelectorAll('rect.bar').forEach(function (bar) {
      var box = bar.getBBox();
      if (box.width > 0 && box.height > 0) { drawn += 1; }
    });
    svg.dataset.bars = String(drawn);
    if (drawn === 0) { empty.push(svg.id); }
  });
  document.body.dataset.rendered = empty.length ? 'empty:' + empty.join(',') : 'ok';
});
"""


def render_html(report: AnnualReport, reconciliation: Reconciliation | None = None) -> str:
    d = report.as_json()["dossiers"]
    p = report.as_json()["procedures"]

    def card(label_key: str, value: object, label: str | None = None) -> str:
        if value is None:
            shown = "n/a"
        elif label_key.endswith("_pct"):
            shown = f"{value}%"
        else:
            shown = f"{value:,}"
        label = escape(label or LABELS[label_key])
        return f'<div class="card"><b>{escape(shown)}</b><span>{label}</span></div>'

    cards = "".join(
        (
            card("dossiers.received", d["received"]),
            card("dossiers.resolved", d["resolved"]),
            card("dossiers.on_time_rate_pct", d["on_time_rate_pct"]),
            card("dossiers.online_rate_pct", d["online_rate_pct"]),
            card("dossiers.closing_backlog", d["closing_backlog"]),
            card(
                "procedures.in_force.total",
                p["in_force"]["total"],
                "TTHC có hiệu lực / Procedures in force",
            ),
            card("procedures.online.rate_pct", p["online"]["rate_pct"]),
        )
    )
    sections = [
        f'<section><h2>{escape(title)}</h2><p class="note">{escape(note)}</p>{svg}</section>'
        for title, note, svg in _charts(report)
    ]
    sections.append(
        "<section><h2>Số liệu / Figures</h2>"
        '<p class="note">Computed from the warehouse\'s events alone.</p>'
        f"{_figures_table(report)}</section>"
    )
    if reconciliation is not None:
        sections.append(
            '<section id="reconciliation"><h2>Đối chiếu / Reconciliation</h2>'
            f"<pre>{escape(render_reconciliation(reconciliation))}</pre></section>"
        )
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">'
        f"<title>Báo cáo năm {report.year} / Annual report {report.year}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<header><h1>Báo cáo năm {report.year} / Annual report {report.year}</h1>"
        f"<p>Thành phố Hồ Chí Minh - dossierhub, generated {generated}</p></header>"
        f'<main><div class="cards">{cards}</div>{"".join(sections)}</main>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
