"""``dossierhub run`` — the stream processors (validator, dossier state) as one Faust worker.

The topics are applied first (``schemas.topics``, as ``topics apply`` does): Faust creates only
its own internal topics, and a worker that subscribes before a topic exists never picks it up.
The worker then reads the inbound topic of every agency that exists at that moment.

The sink runs beside the processors, in a thread of the same process (``--no-sink`` leaves it
out): it loads what they publish into the warehouse. With ``--until-idle`` it runs once the
processors are idle (as ``dossierhub sink --until-idle``, in a child process), until it is idle
too.

``--rebuild`` runs without the validator: under a new ``--app-id`` it folds the validated intake
log from its start into fresh tables, the replay that rebuilds the projections.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
from datetime import timedelta

from dossierhub.endpoints import Endpoints
from dossierhub.errors import HubError
from dossierhub.monitoring import StageMetrics
from dossierhub.settings import Settings
from schemas.admin import TopicAdmin, replication_factor_for
from schemas.topics import all_topics, inbound_agency, processor_topics
from sinks.sink import Sink, SinkStats
from stream_processors.app import build_app, changelog_topics
from stream_processors.config import DEFAULT_APP_ID, ProcessorConfig
from stream_processors.worker import RunOptions, run_worker


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the stream processors (validator, dossier state) until stopped or idle",
        description="Applies the topic declarations, then runs the processors as one Faust "
        "worker. Progress (records in, accepted, dead-lettered, outcomes) goes to stderr.",
    )
    parser.add_argument(
        "--until-idle",
        action="store_true",
        help="stop (exit 0) once every consumer group of the processors has caught up",
    )
    parser.add_argument(
        "--idle-seconds",
        type=_positive,
        default=5.0,
        metavar="N",
        help="how long the groups must stay caught up before --until-idle stops (default 5)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive,
        metavar="SECONDS",
        help="with --until-idle: exit 1 if still not idle after this long",
    )
    parser.add_argument(
        "--app-id",
        default=DEFAULT_APP_ID,
        help=f"Faust app id = consumer group = changelog prefix (default {DEFAULT_APP_ID})",
    )
    parser.add_argument(
        "--store",
        default="rocksdb://",
        help="table store: rocksdb:// (default; under <home>/processors) or memory:// "
        "(rebuilt from the changelogs at every start)",
    )
    parser.add_argument(
        "--no-sink",
        action="store_true",
        help="run the processors only (e.g. when a separate `dossierhub sink` loads the warehouse)",
    )
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="no validator: fold hub.dossier.intake from its start (use with a new --app-id)",
    )
    parser.add_argument(
        "--web-port", type=int, metavar="PORT", help="Faust's web port (default: a free one)"
    )
    parser.add_argument(
        "--future-tolerance-seconds",
        type=_positive,
        default=300.0,
        metavar="N",
        help="refuse events whose occurred_at is more than N s ahead of the clock (default 300)",
    )
    parser.add_argument(
        "--progress-seconds", type=_positive, default=5.0, metavar="N", help="progress interval"
    )
    parser.set_defaults(handler=_run)


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text}: expected a positive number")
    return value


def _run(args: argparse.Namespace, settings: Settings) -> int:
    endpoints = Endpoints.resolve(settings)
    admin = TopicAdmin(endpoints.kafka_config())
    replication = replication_factor_for(admin.broker_count())
    inbound = sorted(name for name in admin.describe() if inbound_agency(name) is not None)
    agencies = [code for name in inbound if (code := inbound_agency(name)) is not None]
    config = ProcessorConfig.from_settings(
        settings,
        endpoints,
        replication_factor=replication,
        app_id=args.app_id,
        store=args.store,
        web_port=args.web_port,
        future_tolerance=timedelta(seconds=args.future_tolerance_seconds),
    )
    declared = (
        *all_topics(replication, agencies),
        *processor_topics(replication),
        *changelog_topics(config),
    )
    failed = [r for r in admin.apply(declared) if not r.ok]
    if failed:
        problems = "; ".join(e for r in failed for e in r.errors)
        raise HubError(f"cannot apply the topic declarations: {problems}")
    processors = build_app(config, [] if args.rebuild else inbound)
    print(
        f"processors: app {config.app_id}, "
        f"{'rebuild from the intake log' if args.rebuild else f'{len(inbound)} inbound topic(s)'}, "
        f"store {config.store}, web http://{config.web_host}:{config.web_port}",
        file=sys.stderr,
    )
    options = RunOptions(
        until_idle=args.until_idle,
        idle_seconds=args.idle_seconds,
        progress_seconds=args.progress_seconds,
        timeout_seconds=args.timeout,
    )
    if args.no_sink:
        return run_worker(processors, options)
    if args.until_idle:
        # One after the other, so the sink reads the processors' last outputs too; the sink in
        # a process of its own: started in this one after Faust's loop has shut down, it hung.
        exit_code = run_worker(processors, options)
        if exit_code != 0:
            return exit_code
        argv = [sys.executable, "-m", "dossierhub.cli", "sink", "--until-idle", "--metrics-port"]
        argv += ["0", *(["--timeout", str(args.timeout)] if args.timeout else [])]
        return subprocess.run(argv, stdout=subprocess.DEVNULL, check=False).returncode
    with _SinkBeside(settings, processors.metrics) as sink:
        exit_code = run_worker(processors, options)
    print(f"sink: stopped: {sink.stats.rows} rows loaded", file=sys.stderr)
    return exit_code if sink.error is None else 1


class _SinkBeside:
    """The sink in a thread next to the Faust worker, stopped (after its current batch) when
    the worker stops. Its failure is reported, and makes the command fail."""

    def __init__(self, settings: Settings, metrics: StageMetrics) -> None:
        # the sink's metrics join the processors' on the worker's /metrics
        self._sink = Sink(settings, metrics=metrics)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sink", daemon=True)
        self.stats = SinkStats()
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.stats = self._sink.run(self._stop)
        except BaseException as exc:  # reported by __exit__, in the main thread
            self.error = exc

    def __enter__(self) -> _SinkBeside:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.error is not None:
            detail = self.error.one_line() if isinstance(self.error, HubError) else self.error
            print(f"sink: failed: {detail}", file=sys.stderr)
