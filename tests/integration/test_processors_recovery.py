"""Crashes, scale-out and replay of the stream processors, on real brokers.

The same synthetic lifecycles go through four runs, on two stacks of their own:

- stack X: **crash** — one worker, ``kill -9``-ed twice mid-stream and restarted (tables
  recovered from RocksDB and the changelogs, then from the changelogs alone); then
  **replay** — ``run --rebuild`` with the memory store, folding X's intake log from its start
  into fresh tables;
- stack Y: **scale-out** — two workers share the partitions, views answered across both, then
  one is stopped mid-stream and the other takes its partitions over; then **uninterrupted** —
  ``run --rebuild``, one worker from start to end.

Runs over one intake log must end with the same tables, down to the offsets each entry and
slice remembers: crash and replay, scale-out and uninterrupted. (The two stacks are not
compared with each other: a validator killed or rebalanced mid-backlog sends some records
again, so the two intake logs differ, though the fold drops those copies — see the processors'
README, "Processing guarantee".)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from dossierhub.errors import HubError
from dossierhub.stack import Stack
from producers import Publisher
from producers.synthetic import lifecycles
from schemas.admin import TopicAdmin
from schemas.registry import SchemaIds
from schemas.topics import DOSSIER_INTAKE, all_topics
from stream_processors.app import SLICES_TABLE, TABLE_NAME
from stream_processors.lag import all_caught_up, group_lag
from tests.helpers import REPO, isolated_stack, read_topic, run_cli

pytestmark = pytest.mark.timeout(900)

AGENCIES = ("000.00.31.H29", "000.00.12.H29")
#: ~200 dossiers a day over three weeks: day windows, overdue sweeps and retention all happen
DOSSIERS = 4_000
PER_DAY = 200
#: generous: two workers rebalancing and recovering tables on 2 shared cores took over 180 s once
WAIT_S = 360.0


@dataclass(frozen=True)
class Tables:
    """The final contents of a run's two tables, read back from their changelogs."""

    entries: dict[str, Any]
    slices: dict[str, Any]

    @property
    def states(self) -> dict[str, Any]:
        """Each dossier's state and watermarks, without the intake offsets."""
        return {
            key: value["state"] if isinstance(value, dict) else value
            for key, value in self.entries.items()
        }

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """Every (intake partition, cell) and its counts, without the offsets."""
        return {
            key: {k: v for k, v in value.items() if k not in ("partition", "as_of")}
            for key, value in self.slices.items()
        }


def _differences(one: dict[str, Any], other: dict[str, Any]) -> str:
    """A short account of how two tables differ (pytest's full diff of thousands of keys is
    unreadable)."""
    only_one, only_other = one.keys() - other.keys(), other.keys() - one.keys()
    changed = sorted(k for k in one.keys() & other.keys() if one[k] != other[k])
    lines = [
        f"{len(only_one)} keys only in the first {sorted(only_one)[:5]}",
        f"{len(only_other)} keys only in the second {sorted(only_other)[:5]}",
        f"{len(changed)} keys differ",
    ]
    lines += [f"  {k}: {one[k]!r}\n  != {other[k]!r}" for k in changed[:3]]
    return "\n".join(lines)


def _events() -> list[dict[str, Any]]:
    return list(lifecycles(DOSSIERS, agencies=AGENCIES, seed=7, per_day=PER_DAY))


def _publish(stack: Stack, events: Sequence[dict[str, Any]]) -> None:
    admin = TopicAdmin({"bootstrap.servers": stack.kafka.bootstrap})
    assert all(r.ok for r in admin.apply(all_topics(1, AGENCIES)))
    ids = SchemaIds.connect(stack.registry.url)
    publishers = {
        code: Publisher(code, bootstrap=stack.kafka.bootstrap, schema_id_of=ids.id_of)
        for code in AGENCIES
    }
    for event in events:
        publishers[event["envelope"]["agency_code"]].publish(event)
    for publisher in publishers.values():
        publisher.flush()


@dataclass
class Worker:
    process: subprocess.Popen[str]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _worker(stack: Stack, *args: str) -> Worker:
    """``dossierhub run`` in the background, its output to a file (a pipe nobody reads
    would block it)."""
    log = stack.settings.home / f"worker-{time.monotonic_ns()}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIERHUB_")}
    env["DOSSIERHUB_HOME"] = str(stack.settings.home)
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dossierhub.cli",
                "run",
                "--no-sink",
                "--progress-seconds",
                "1",
                *args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=REPO,
        )
    return Worker(process, log)


def _until(
    what: str, done: Callable[[], bool], workers: Sequence[Worker], stopped: Sequence[Worker] = ()
) -> None:
    """Wait for ``done`` while ``workers`` run; a timeout shows what they (and the ``stopped``
    ones) said."""
    deadline = time.monotonic() + WAIT_S
    while not done():
        for worker in workers:
            code = worker.process.poll()
            assert code is None, f"a worker exited ({code}) {what}: {worker.output()[-2000:]}"
        assert time.monotonic() < deadline, f"not {what} within {WAIT_S:g}s:\n" + "\n".join(
            f"--- {worker.log}\n{_worth_reading(worker.output())}"
            for worker in (*workers, *stopped)
        )
        time.sleep(0.1)


def _ends(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-ends"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions
        }
    finally:
        consumer.close()


def _written(stack: Stack, app_id: str) -> int:
    """Records in the app's dossier-state changelog so far."""
    topic = f"{app_id}-{TABLE_NAME}-changelog"
    try:
        return sum(_ends(stack.kafka.bootstrap, topic).values())
    except (KeyError, KafkaException):  # not created yet, or no leader elected yet
        return 0


def _changelog(bootstrap: str, topic: str) -> dict[str, Any]:
    """A table as its changelog leaves it: the last value of each key, deletions applied."""
    table: dict[str, Any] = {}
    for record in read_topic(bootstrap, topic):
        key = json.loads(record.key or b"")  # Faust's JSON key of a str-keyed table
        if record.value:
            table[key] = json.loads(record.value)
        else:  # a tombstone
            table.pop(key, None)
    return table


def _tables(stack: Stack, app_id: str) -> Tables:
    bootstrap = stack.kafka.bootstrap
    return Tables(
        entries=_changelog(bootstrap, f"{app_id}-{TABLE_NAME}-changelog"),
        slices=_changelog(bootstrap, f"{app_id}-{SLICES_TABLE}-changelog"),
    )


def _finish(stack: Stack, *args: str) -> None:
    done = run_cli(
        "run",
        "--no-sink",  # the warehouse is the sink tests' business
        "--until-idle",
        "--idle-seconds",
        "3",
        "--timeout",
        str(WAIT_S),
        *args,
        home=stack.settings.home,
        timeout=WAIT_S + 60,
    )
    log = stack.settings.home / f"finish-{time.monotonic_ns()}.log"
    log.write_text(done.stderr)
    assert done.returncode == 0, f"{_worth_reading(done.stderr)}\n(whole log: {log})"


def _worth_reading(log: str) -> str:
    """A failed worker's progress lines, warnings and errors, without the tracebacks of its
    shutdown (which were all its log's tail showed when one stalled)."""
    lines = [
        line
        for line in log.splitlines()
        if line.startswith("processors:") or any(f" {w} " in line for w in _LOUD)
    ]
    return "\n".join(lines[-60:])


_LOUD = ("WARNING", "ERROR", "CRITICAL")


def _caught_up(stack: Stack, app_id: str, topics: Sequence[str]) -> Callable[[], bool]:
    kafka = {"bootstrap.servers": stack.kafka.bootstrap}

    def check() -> bool:
        try:
            return all_caught_up(group_lag(kafka, {app_id: tuple(topics)}))
        except HubError:  # e.g. the group's coordinator moving during a rebalance
            return False

    return check


def _city_ytd(port: int) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/city/ytd?date=2023-12-31"
    with urllib.request.urlopen(url, timeout=10) as answer:
        data: dict[str, Any] = json.load(answer)
    return data


def _web_port(worker: Worker) -> int:
    found: list[int] = []

    def announced() -> bool:
        for line in worker.output().splitlines():
            if "web http://127.0.0.1:" in line:
                found.append(int(line.rsplit(":", 1)[1].split()[0].rstrip(",")))
                return True
        return False

    _until("announcing its web port", announced, [worker])
    return found[0]


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return _events()


@pytest.fixture(scope="module")
def crashed_and_replayed(own_stack: Stack, events: list[dict[str, Any]]) -> tuple[Tables, Tables]:
    """Stack X: the crash run, then the replay."""
    _publish(own_stack, events)
    # RocksDB recovers from its own files and the changelog past them; the memory store from
    # the whole changelog; the last run goes back to the RocksDB files, now behind
    for store in ("rocksdb://", "memory://"):
        before = _written(own_stack, "crash")
        worker = _worker(own_stack, "--app-id", "crash", "--store", store)
        try:
            # a kill after some state was written and before the backlog is done
            _until("writing state", lambda b=before: _written(own_stack, "crash") > b, [worker])
        finally:
            worker.process.send_signal(signal.SIGKILL)
            worker.process.wait(30)
    _finish(own_stack, "--app-id", "crash")
    _finish(own_stack, "--app-id", "replay", "--rebuild", "--store", "memory://")
    return _tables(own_stack, "crash"), _tables(own_stack, "replay")


@dataclass(frozen=True)
class ScaleOut:
    tables: Tables
    uninterrupted: Tables
    #: /city/ytd of each worker while both ran, after the first half
    views: list[dict[str, Any]]


@pytest.fixture(scope="module")
def scaled_out(events: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> ScaleOut:
    """Stack Y: two workers, then one; then an uninterrupted rebuild."""
    with isolated_stack(tmp_path_factory.mktemp("stack-y")) as stack:
        return _scale_out(stack, events)


def _scale_out(stack: Stack, events: list[dict[str, Any]]) -> ScaleOut:
    half = len(events) // 2
    _publish(stack, events[:half])
    inbound = [f"hub.inbound.{code}" for code in AGENCIES]
    caught_up = _caught_up(stack, "pair", [*inbound, DOSSIER_INTAKE])
    workers = [_worker(stack, "--app-id", "pair") for _ in range(2)]
    try:
        ports = [_web_port(worker) for worker in workers]
        _until("caught up with the first half", caught_up, workers)
        views = [_city_ytd(port) for port in ports]
        _publish(stack, events[half:])
        # stopped while the second half is being folded: its partitions move to the other
        _until("folding the second half", lambda: not caught_up(), workers)
        workers[1].process.send_signal(signal.SIGTERM)
        assert workers[1].process.wait(60) == 0, workers[1].output()[-3000:]
        _until("caught up with the second half", caught_up, workers[:1], stopped=workers[1:])
    finally:
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
                worker.process.wait(60)
    _finish(stack, "--app-id", "whole", "--rebuild")
    return ScaleOut(_tables(stack, "pair"), _tables(stack, "whole"), views)


def test_a_crashed_run_ends_exactly_as_its_replay(
    crashed_and_replayed: tuple[Tables, Tables],
) -> None:
    crashed, replayed = crashed_and_replayed
    assert crashed.entries, "the crash run wrote no state"
    assert crashed.slices == replayed.slices, _differences(crashed.slices, replayed.slices)
    assert crashed.entries == replayed.entries, _differences(crashed.entries, replayed.entries)


def test_two_workers_then_one_end_exactly_as_one_uninterrupted_worker(
    scaled_out: ScaleOut,
) -> None:
    assert scaled_out.tables.entries, "the scale-out run wrote no state"
    assert scaled_out.tables.slices == scaled_out.uninterrupted.slices, _differences(
        scaled_out.tables.slices, scaled_out.uninterrupted.slices
    )
    assert scaled_out.tables.entries == scaled_out.uninterrupted.entries, _differences(
        scaled_out.tables.entries, scaled_out.uninterrupted.entries
    )


def test_the_counts_are_those_of_the_published_events(
    crashed_and_replayed: tuple[Tables, Tables], events: list[dict[str, Any]]
) -> None:
    crashed, _ = crashed_and_replayed
    _assert_counts_of(crashed, events)


# the comparison with the uninterrupted run cannot see an inbound record the validator lost
# in the handover (both fold the same intake log): the published events can
def test_the_scaled_out_counts_are_those_of_the_published_events(
    scaled_out: ScaleOut, events: list[dict[str, Any]]
) -> None:
    _assert_counts_of(scaled_out.tables, events)


def _assert_counts_of(tables: Tables, events: list[dict[str, Any]]) -> None:
    types = Counter(event["envelope"]["event_type"] for event in events)
    total = Counter[str]()
    for key, counts in tables.counts.items():
        _, window_kind, _, dimension = key.split("|", 3)
        if window_kind == "YEAR" and dimension == "CITY|79":
            total.update(counts)
    assert total["received"] == types["DossierReceived"]
    assert total["resolved"] == types["DossierResolved"]
    assert total["apologies_issued"] == types["ApologyIssued"]
    assert total["resolved_overdue"] > 0  # the synthetic year has late dossiers


# when the second worker joins before the first one's validator committed, the first half is
# validated again: the fold must drop those copies, even of dossiers that left the table
def test_both_workers_answer_the_views_with_every_partition(
    scaled_out: ScaleOut, events: list[dict[str, Any]]
) -> None:
    first_half = events[: len(events) // 2]
    received = sum(e["envelope"]["event_type"] == "DossierReceived" for e in first_half)
    one, two = scaled_out.views
    assert one["complete"], one
    assert two["complete"], two
    assert one["partitions"] == two["partitions"] == list(range(6))
    assert one["counts"] == two["counts"]
    assert one["counts"]["received"] == received
