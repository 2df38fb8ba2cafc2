"""``dossierhub`` — the command line of the hub.

Each sub-command lives in ``dossierhub/commands/<name>.py`` with a ``register(subparsers)``
function; this module only wires them together and turns every :class:`HubError` into one
line on stderr and a non-zero exit code (no tracebacks for expected failures).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from dossierhub import __version__
from dossierhub.commands import (
    agencies,
    bench,
    demo,
    exporter,
    health,
    lag,
    link,
    publish,
    report,
    run,
    schemas,
    simulate,
    sink,
    stack,
    topics,
    warehouse,
)
from dossierhub.errors import HubError
from dossierhub.settings import Settings

__all__ = ["main"]

# in the order `dossierhub --help` lists them: set-up, the main job, the data, operations
_COMMANDS = (
    stack, topics, schemas, demo, simulate, publish, run, sink, warehouse, report, link, bench,
    health, lag, exporter, agencies,
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dossierhub",
        description="Event-sourced interagency data hub for HCMC's administrative procedures.",
    )
    parser.add_argument("--version", action="version", version=f"dossierhub {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        logging.basicConfig(
            level=settings.log_level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        # The registry client's (vendored) HTTP library logs every request at INFO.
        for name in ("httpx", "httpx2", "httpcore"):
            logging.getLogger(name).setLevel(max(logging.WARNING, logging.root.level))
        code: int = args.handler(args, settings)
    except HubError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
