"""``dossierhub lag`` — how far behind each consumer group is, in messages and in seconds,
with a Burrow-style status (see ``dossierhub.monitoring.status``)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from dossierhub.commands._output import print_json, print_table
from dossierhub.commands._stopping import stop_requested
from dossierhub.endpoints import Endpoints
from dossierhub.monitoring import GroupStatus, LagMonitor, LagReader, LagReport, policy_from
from dossierhub.monitoring.state import load_window, save_window, window_path
from dossierhub.settings import Settings

_CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear screen: --watch redraws in place


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "lag",
        help="consumer-group lag (messages, seconds) and status, like kafka-consumer-groups",
        description="Committed offset, log end, lag and time lag per group, topic and partition "
        "for every consumer group on the cluster (or those named). Statuses come from the lag "
        "trend over a window of readings, kept between runs in $DOSSIERHUB_HOME/monitoring/: "
        "the first run can only tell OK. Exit 1 if a group is ERR.",
    )
    parser.add_argument("--group", action="append", metavar="G", help="only this group (repeat)")
    parser.add_argument("--watch", action="store_true", help="refresh until Ctrl-C")
    parser.add_argument(
        "--samples", type=_at_least_one, default=1, metavar="N", help="read N times, then print"
    )
    parser.add_argument(
        "--interval", type=float, default=5.0, metavar="S", help="seconds between readings"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per Kafka request")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(handler=_run)


def _at_least_one(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text}: expected a whole number ≥ 1")
    return int(text)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    endpoints = Endpoints.resolve(settings)
    reader = LagReader(endpoints.kafka_config(), timeout_s=args.timeout)
    policy = policy_from(settings)
    if not args.watch:
        # one-shot runs share a window on disk, so repeated runs (cron) see the trend
        state = window_path(settings, endpoints.kafka_bootstrap)
        monitor = LagMonitor(reader, policy, groups=args.group, window=load_window(state, policy))
        report = monitor.poll()
        for _ in range(max(0, args.samples - 1)):
            time.sleep(args.interval)  # the window needs readings some time apart
            report = monitor.poll()
        save_window(monitor.window, state)
        _print(report, args.format)
        _warn_missing(report, args.group)
        return 1 if any(g.status == GroupStatus.ERR for g in report.groups) else 0
    monitor = LagMonitor(reader, policy, groups=args.group)
    with stop_requested(signal.SIGINT) as stop:
        while not stop.is_set():
            report = monitor.poll()
            if args.format == "json":
                print(json.dumps(report.as_dict(), ensure_ascii=False), flush=True)
            else:
                if sys.stdout.isatty():
                    print(_CLEAR, end="")
                _print(report, "table")
                print(f"\n(every {args.interval:g}s, Ctrl-C to stop)", flush=True)
            stop.wait(args.interval)
    return 0


def _print(report: LagReport, fmt: str) -> None:
    if fmt == "json":
        print_json(report.as_dict())
        return
    rows: list[list[object]] = []
    for group in report.groups:
        rows.append([group.group, "", "", "", "", group.lag, _s(group.time_lag_s), group.status])
        for p in group.partitions:
            rows.append(
                [
                    "",
                    p.lag.topic,
                    p.lag.partition,
                    "-" if p.lag.committed is None else p.lag.committed,
                    p.lag.end,
                    p.lag.lag,
                    _s(p.time_lag_s),
                    p.status,
                ]
            )
    print_table(
        ["group", "topic", "partition", "committed", "end", "lag", "time_lag_s", "status"], rows
    )


def _s(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds:.1f}"


def _warn_missing(report: LagReport, asked: list[str] | None) -> None:
    present = {g.group for g in report.groups}
    for group in asked or ():
        if group not in present:
            print(f"warning: group {group!r} has no committed offsets or members", file=sys.stderr)
