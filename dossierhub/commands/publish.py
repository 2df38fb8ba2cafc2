"""``dossierhub publish`` — publish an agency's JSON-lines export through the publisher SDK."""

from __future__ import annotations

import argparse
from pathlib import Path

from dossierhub.commands._output import print_json
from dossierhub.settings import Settings
from producers import DeliveryError, Publisher, read_jsonlines
from producers.pseudonyms import Pseudonymizer


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="validate and publish a JSON-lines file of events for one agency",
        description="Every line is validated first; bad lines are reported with their number "
        "and reason. Raw applicant_id / applicant_name / applicant_phone keys are replaced by "
        "their pseudonyms (DOSSIERHUB_PSEUDONYM_KEY or _KEY_FILE) before anything is sent. "
        "The good ones are published (or none, with --all-or-nothing). Prints a JSON summary; "
        "exit code 1 if any line was rejected or undelivered.",
    )
    parser.add_argument("--agency", required=True, help="electronic identifier, e.g. 000.00.15.H29")
    parser.add_argument("--file", required=True, type=Path, help="JSON lines, one event per line")
    parser.add_argument(
        "--all-or-nothing",
        action="store_true",
        help="publish nothing if any line is invalid",
    )
    parser.add_argument(
        "--producer-system", default="jsonl-import", help="envelope.producer_system"
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    batch = read_jsonlines(
        args.file, args.agency, args.producer_system, Pseudonymizer.from_settings(settings)
    )
    summary: dict[str, object] = {
        "agency": args.agency,
        "file": str(args.file),
        "lines_valid": len(batch.events),
        "rejected": len(batch.errors),
        "errors": [{"line": e.line, "error": e.error} for e in batch.errors],
        "published": 0,
        "per_event_type": {},
    }
    if batch.errors and args.all_or_nothing:
        summary["skipped"] = "--all-or-nothing: nothing published because of the rejected lines"
        print_json(summary)
        return 1
    undelivered = 0
    if batch.events:
        publisher = Publisher.connect(args.agency, settings, producer_system=args.producer_system)
        for _, event in batch.events:
            publisher.publish(event)
        try:
            summary["published"] = publisher.flush()
        except DeliveryError as exc:
            undelivered = len(exc.undelivered)
            summary["published"] = exc.delivered
            summary["undelivered"] = [u.__dict__ for u in exc.undelivered]
        summary["per_event_type"] = batch.per_type()
    print_json(summary)
    return 1 if batch.errors or undelivered else 0
