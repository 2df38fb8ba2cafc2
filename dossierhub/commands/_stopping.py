"""Stopping a long-running command on a signal, between two pieces of work.

A ``KeyboardInterrupt`` raised wherever the signal lands can land inside librdkafka or a
ClickHouse call and leave a client half-closed, which then blocks the interpreter's exit.
So the long-running commands turn their signals into an event their loop checks (and waits
on, instead of sleeping): the current reading or batch finishes, then the command returns.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["stop_requested"]


@contextmanager
def stop_requested(
    *signals: signal.Signals, say: Callable[[int], None] | None = None
) -> Iterator[threading.Event]:
    """An event set when one of ``signals`` arrives (``say(signum)`` first, if given); the
    previous handlers come back on exit."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if say is not None:
            say(signum)
        stop.set()

    previous = {signum: signal.signal(signum, handler) for signum in signals}
    try:
        yield stop
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
