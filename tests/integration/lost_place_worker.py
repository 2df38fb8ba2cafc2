"""A processors worker whose consumer is made to lose its place in ``hub.dossier.intake[0]``
once it has caught up; it prints a JSON line saying whether it found its place again.

Run by ``test_processors_stuck.py`` in a process of its own (Faust's worker takes over the
process's event loop and signals):

    python -m tests.integration.lost_place_worker HOME APP_ID commit|seek

- ``commit``: the group's offset is moved back 50 records: every record is done, and only the
  commit is behind (what a lost commit leaves).
- ``seek``: the same, and the dossier stage forgets it folded those 50 records, as if the
  consumer had gone past them without delivering them (a hole at the partition's tail).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from faust.types import TP

from dossierhub.endpoints import Endpoints
from dossierhub.settings import Settings
from schemas.admin import TopicAdmin
from schemas.topics import DOSSIER_INTAKE, inbound_agency
from stream_processors.app import build_app, changelog_topics
from stream_processors.config import ProcessorConfig
from stream_processors.lag import PartitionLag, all_caught_up, group_lag
from stream_processors.worker import RunOptions, run_worker

#: records of intake[0] the group's offset is moved back
BACK = 50
WAIT_S = 120.0


def main(home: Path, app_id: str, mode: str) -> int:
    settings = Settings(home=home)
    endpoints = Endpoints.resolve(settings)
    admin = TopicAdmin(endpoints.kafka_config())
    inbound = sorted(n for n in admin.describe() if inbound_agency(n) is not None)
    config = dataclasses.replace(
        ProcessorConfig.from_settings(
            settings, endpoints, replication_factor=1, app_id=app_id, store="memory://"
        ),
        watch_seconds=2.0,
    )
    assert all(r.ok for r in admin.apply(changelog_topics(config)))
    processors = build_app(config, inbound)
    assert processors.stuck is not None
    processors.stuck.patience_s = 5.0
    app = processors.app
    tp = TP(DOSSIER_INTAKE, 0)
    result: dict[str, Any] = {"mode": mode}

    def lags() -> list[PartitionLag]:
        return group_lag(config.kafka_client, processors.group_topics)

    async def caught_up() -> list[PartitionLag]:
        deadline = time.monotonic() + WAIT_S
        while True:
            now = await asyncio.to_thread(lags)
            if app.consumer.assignment() and all_caught_up(now):
                return now
            if time.monotonic() > deadline:
                raise TimeoutError(f"not caught up within {WAIT_S:g}s: {now}")
            await asyncio.sleep(0.5)

    async def faust_committed_its_acks(tp: TP) -> None:
        """Wait until Faust has no acknowledgement of ``tp`` left to commit: else its own next
        commit would move the group's offset forward again, and nothing would be lost."""
        deadline = time.monotonic() + WAIT_S
        while app.consumer._acked.get(tp):  # type: ignore[attr-defined]
            if time.monotonic() > deadline:
                raise TimeoutError(f"Faust kept acknowledgements of {tp} for {WAIT_S:g}s")
            await asyncio.sleep(0.2)

    @app.task
    async def lose_place() -> None:
        try:
            before = await caught_up()
            end = next(lag.end for lag in before if TP(lag.topic, lag.partition) == tp)
            await faust_committed_its_acks(tp)
            copies = processors.counters.copies
            if mode == "seek":
                processors.handlers.positions[0] = end - BACK - 1
            await app.consumer._commit_offsets({tp: end - BACK})  # type: ignore[attr-defined]
            started = time.monotonic()
            await caught_up()
            result["found_again_s"] = round(time.monotonic() - started, 1)
            result["copies_since"] = processors.counters.copies - copies
        except Exception as exc:
            result["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    result["exit"] = run_worker(processors, RunOptions(progress_seconds=5))
    result["rewound"] = processors.stuck.rewound
    result["recommitted"] = processors.stuck.recommitted
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3]))
