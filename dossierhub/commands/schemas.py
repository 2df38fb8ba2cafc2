"""``dossierhub schemas check | apply`` — the Avro contract against the schema registry.

``check`` (read-only, for CI before ``apply``) exits 1 if any subject's new schema is refused
by its compatibility rule; ``apply`` sets the rule (FULL_TRANSITIVE) on every subject and
registers what is not registered yet, exiting 1 if the registry refused a schema.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path

from dossierhub.commands._output import print_json, print_table
from dossierhub.endpoints import Endpoints
from dossierhub.settings import Settings
from schemas.catalog import COMPATIBILITY, event_type, event_types
from schemas.evolution import SubjectReport, apply_schemas, check_schemas
from schemas.registry import Registry, load_schemas

_Run = Callable[[Registry, Mapping[str, str]], list[SubjectReport]]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("schemas", help="check and register the Avro contract")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, help_text, run in (
        (
            "check",
            "compare this checkout's schemas with the registry; exit 1 if any is incompatible",
            _check,
        ),
        (
            "apply",
            f"set {COMPATIBILITY} on every subject and register new schema versions",
            _apply,
        ),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument(
            "--schemas-dir",
            type=Path,
            metavar="PATH",
            help="read the .avsc files from PATH instead of schemas/avro (same file layout)",
        )
        action.add_argument(
            "--event-type",
            action="append",
            default=[],
            metavar="NAME",
            help="only this event type, e.g. DossierReceived (repeatable)",
        )
        action.add_argument("--format", choices=("table", "json"), default="table")
        action.set_defaults(handler=_handler(run))


def _check(registry: Registry, wanted: Mapping[str, str]) -> list[SubjectReport]:
    return check_schemas(registry, wanted)


def _apply(registry: Registry, wanted: Mapping[str, str]) -> list[SubjectReport]:
    return apply_schemas(registry, wanted)


def _handler(run: _Run) -> Callable[[argparse.Namespace, Settings], int]:
    def handle(args: argparse.Namespace, settings: Settings) -> int:
        types = [event_type(name) for name in args.event_type] or list(event_types())
        wanted = load_schemas(args.schemas_dir, types)
        registry = Registry(Endpoints.resolve(settings).registry_url)
        reports = run(registry, wanted)
        ok = all(r.ok for r in reports)
        if args.format == "json":
            print_json({"ok": ok, "subjects": [r.as_dict() for r in reports]})
        else:
            print_table(
                ["subject", "id", "version", "status", "detail"],
                [[r.subject, r.schema_id, r.version, r.status, r.detail] for r in reports],
            )
        return 0 if ok else 1

    return handle
