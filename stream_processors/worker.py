"""Running the processors' Faust worker in this process, until a signal or until idle.

``faust.Worker.execute_from_commandline`` only stops on a signal and then exits the process;
here the worker is started the same way (mode's ``start`` on the worker's loop, which returns
once the worker stops) with one extra task beside it: it prints the progress line and, with
``until_idle``, stops the worker once every consumer group of the app has caught up. The loop is
then shut down the way mode does it (``stop_and_shutdown``), and the exit code returned.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import IO, Final

import faust

from dossierhub.errors import HubError

from .app import Processors
from .lag import IdleWatch, all_caught_up, group_lag

__all__ = ["RunOptions", "run_worker"]

_log = logging.getLogger(__name__)

# Faust, mode and aiokafka log every rebalance and commit at INFO; the hub's INFO is the
# progress line. DEBUG lets them through.
_CHATTY: Final = ("faust", "mode", "aiokafka")


@dataclass(frozen=True, slots=True)
class RunOptions:
    until_idle: bool = False
    #: how long every group must stay caught up before the worker stops (with until_idle)
    idle_seconds: float = 5.0
    progress_seconds: float = 5.0
    #: seconds between two lag checks
    check_seconds: float = 1.0
    #: give up (exit 1) when not idle after this many seconds; None: never
    timeout_seconds: float | None = None


def run_worker(
    processors: Processors, options: RunOptions, *, progress: IO[str] = sys.stderr
) -> int:
    """Run the worker until a signal (exit 0), until idle (0), or until the timeout (1)."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        for name in _CHATTY:
            logging.getLogger(name).setLevel(logging.WARNING)
    worker = faust.Worker(
        processors.app,
        loglevel=processors.config.log_level,
        quiet=True,
        override_logging=False,  # the CLI configured logging already
        redirect_stdouts=False,
        stdout=progress,
        stderr=progress,
    )
    worker.spinner = None  # a terminal animation, not for a log or a pipe
    loop = worker.loop
    outcome: list[int] = [0]

    def say(text: str) -> None:
        print(f"processors: {text}", file=progress, flush=True)

    async def stop(code: int) -> None:
        outcome[0] = code
        await worker.stop()

    watch = asyncio.ensure_future(_watch(processors, options, say, stop), loop=loop)
    starting = asyncio.ensure_future(worker.start(), loop=loop)
    try:
        loop.run_until_complete(starting)
    except asyncio.CancelledError:
        pass
    finally:
        watch.cancel()
        with suppress(asyncio.CancelledError):
            loop.run_until_complete(watch)
        say(f"stopped: {processors.counters.line()}")
        try:
            worker.stop_and_shutdown()  # re-raises what crashed the worker, if anything did
        except Exception as exc:
            raise HubError(f"the processors crashed: {type(exc).__name__}: {exc}") from exc
    return outcome[0]


async def _watch(
    processors: Processors,
    options: RunOptions,
    say: Callable[[str], None],
    stop: Callable[[int], Awaitable[None]],
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    last_progress = started
    last_watch = started
    idle = IdleWatch(options.idle_seconds, clock=loop.time)
    kafka = processors.config.kafka_client
    while True:
        await asyncio.sleep(options.check_seconds)
        now = loop.time()
        if now - last_progress >= options.progress_seconds:
            say(processors.counters.line())
            last_progress = now
        if now - last_watch >= processors.config.watch_seconds:
            await asyncio.to_thread(processors.watchdog.check)
            if processors.stuck is not None:
                await processors.stuck.check(processors.watchdog.lags)
            last_watch = now
        if not options.until_idle:
            continue
        try:
            lags = await asyncio.to_thread(group_lag, kafka, processors.group_topics)
        except HubError as exc:
            _log.warning("lag check failed: %s", exc.one_line())
            idle.update(False)
            continue
        if idle.update(all_caught_up(lags)):
            say(f"idle: every group caught up for {options.idle_seconds:g}s")
            await stop(0)
            return
        if options.timeout_seconds is not None and now - started > options.timeout_seconds:
            behind = sum(p.lag for p in lags)
            say(f"not idle after {options.timeout_seconds:g}s ({behind} records behind)")
            await stop(1)
            return
