"""``dossierhub report`` — the annual report from the warehouse, and its reconciliation."""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from dossierhub.errors import ConfigError
from dossierhub.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        help="the annual report computed from the warehouse (table, JSON or an HTML page)",
        description="Computes the year's figures from the warehouse alone (local years, "
        "Asia/Ho_Chi_Minh). With --against, compares them with a published report and lists "
        "that report's own inconsistencies; exits 1 if a figure differs for no reason the "
        "published report explains itself.",
    )
    parser.add_argument("--year", type=_year, required=True, help="the local calendar year")
    parser.add_argument("--format", choices=("table", "json", "html"), default="table")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write here instead of stdout (html: default $DOSSIERHUB_HOME/reports/report-Y.html)",
    )
    parser.add_argument(
        "--against",
        type=Path,
        metavar="FILE",
        help="published figures to reconcile with, e.g. "
        "../shared/reference/hcmc-2023-published-figures.json",
    )
    parser.add_argument(
        "--scale",
        type=_scale,
        metavar="X",
        help="scale the published dossier counts by X (a demo run at a fraction of the volume)",
    )
    parser.set_defaults(handler=_report)


def _year(text: str) -> int:
    try:
        year = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a year: {text!r}") from None
    if not 1971 <= year <= 2105:  # what ClickHouse's DateTime can hold
        raise argparse.ArgumentTypeError(f"year out of range 1971-2105: {year}")
    return year


def _scale(text: str) -> Decimal:
    try:
        scale = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not scale.is_finite() or scale <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number: {text!r}")
    return scale


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from sinks.report.queries import build_report
    from sinks.report.reconcile import PublishedFigures, reconcile
    from sinks.report.render_html import render_html
    from sinks.report.render_table import render_reconciliation, render_report
    from sinks.warehouse import connect

    if args.scale is not None and args.against is None:
        raise ConfigError("--scale", str(args.scale), "scales --against's figures; add --against")
    # checked before the queries: a wrong path should not cost a full report's time
    published = None if args.against is None else PublishedFigures.load(args.against, args.scale)
    # read_only: while the hub holds an embedded warehouse, its loopback server answers
    with connect(settings.effective_warehouse_url, read_only=True) as warehouse:
        report = build_report(warehouse, args.year)
    reconciliation = None if published is None else reconcile(report, published)

    if args.format == "json":
        data = report.as_json()
        if reconciliation is not None:
            data["reconciliation"] = reconciliation.as_json()
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    elif args.format == "table":
        text = render_report(report)
        if reconciliation is not None:
            text += "\n" + render_reconciliation(reconciliation)
    else:
        text = render_html(report, reconciliation)
        if args.out is None:
            args.out = settings.home / "reports" / f"report-{args.year}.html"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, "utf-8")
        print(f"report written to {args.out.resolve()}", file=sys.stderr)
    unexplained = (
        [] if reconciliation is None else [c for c in reconciliation.mismatches if not c.explained]
    )
    return 1 if unexplained else 0
