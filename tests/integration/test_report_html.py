"""The HTML annual report opened in headless Chromium (Debian's ``chromium``, installed by
deploy/local/setup.sh): the page's own script checks that every chart drew bars of non-zero
size and marks ``<body data-rendered="ok">``; the dumped DOM shows it, and any script error."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sinks.report.reconcile import PublishedFigures, reconcile
from sinks.report.render_html import CHART_IDS, render_html
from tests.report_helpers import published_2023, report_matching

pytestmark = pytest.mark.timeout(120)


class _Dom(HTMLParser):
    """The attributes of <body> and of each chart's <svg>, from Chromium's serialized DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.body: dict[str, str | None] = {}
        self.charts: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "body":
            self.body = found
        elif tag == "svg" and found.get("class") == "chart":
            self.charts[str(found.get("id"))] = found


def _rendered_dom(page: Path, profile: Path) -> _Dom:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed: run deploy/local/setup.sh"
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",  # root in CI has no user namespace sandbox
            "--disable-gpu",
            f"--user-data-dir={profile}",
            # let the load handler run before the DOM is dumped
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = _Dom()
    dom.feed(result.stdout)
    return dom


def test_the_charts_render_in_a_browser(tmp_path: Path) -> None:
    scale = Decimal("0.001")
    report = report_matching(published_2023(), scale)
    published = PublishedFigures.load(published_2023(), scale)
    page = tmp_path / "report.html"
    page.write_text(render_html(report, reconcile(report, published)), "utf-8")
    text = page.read_text("utf-8")
    assert "http://" not in text
    assert "https://" not in text  # self-contained: nothing fetched

    dom = _rendered_dom(page, tmp_path / "profile")
    assert "data-js-error" not in dom.body, dom.body
    assert dom.body.get("data-rendered") == "ok", dom.body
    assert set(dom.charts) == set(CHART_IDS)
    # bars drawn with a non-zero size, as the page's script counted them
    levels = report.charts.on_time_by_level
    expected = {
        "on-time-by-level": sum(1 for cells in levels.values() for r, _ in cells if r),
        "online-share": 12,
        "backlog": 13,
        "procedures-by-level": sum(
            1
            for counts in report.charts.procedures_by_online_level.values()
            for n in counts.values()
            if n
        ),
    }
    assert {name: int(str(svg.get("data-bars"))) for name, svg in dom.charts.items()} == expected


def test_an_empty_chart_is_reported_by_the_page(tmp_path: Path) -> None:
    """The check can fail: a year without dossiers leaves the dossier charts empty."""
    report = report_matching(published_2023())
    charts = dataclasses.replace(
        report.charts,
        on_time_by_level={level: [(0, 0)] * 12 for level in report.charts.on_time_by_level},
        online_by_month=[(0, 0)] * 12,
    )
    page = tmp_path / "empty.html"
    page.write_text(render_html(dataclasses.replace(report, charts=charts)), "utf-8")
    dom = _rendered_dom(page, tmp_path / "profile")
    assert dom.body.get("data-rendered") == "empty:on-time-by-level,online-share"
