"""Burrow-style consumer status, evaluated from the lag trend over a sliding window. Pure.

Per partition, from its samples in the window (newest last), the first rule that holds wins:

``REWIND``  the committed offset went backwards between two samples (a reset, or a consumer
            that lost its commits).
``OK``      lag is 0 now. An idle topic at lag 0 is OK however long nothing was committed —
            Burrow's best-known false alarm is calling that STOP. (Also OK, in ``LagWindow``:
            a Faust app's own table changelogs, which its workers read and never commit.)
``STOP``    lag > 0 and the committed offset has not moved for ``stop_after_s`` — or for
            ``stall_after_s`` when no live member owns the partition: nobody is committing.
``STALL``   lag > 0 and the committed offset has not moved for ``stall_after_s`` although a
            member owns the partition: the consumer is there but not getting anywhere.
``WARN``    lag grew (never shrank, never was 0) over the last ``growth_samples`` samples.
``OK``      otherwise: the consumer moves, and is not falling behind.

"Not moved for" counts from the later of the last commit movement and the last sample at lag
0, so a consumer that was caught up and sees a new record is not stalled the moment it does.

Per group: ``ERR`` if any partition is STOP or STALL, ``WARN`` if any is WARN or REWIND (a
rewind is often an operator's deliberate reset: worth a look, not a page), else ``OK``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from dossierhub.errors import ConfigError

from .lag import PartitionLag

__all__ = [
    "GroupStatus",
    "LagWindow",
    "PartitionStatus",
    "Sample",
    "StatusPolicy",
    "estimate_time_lag",
    "group_status",
    "is_faust_changelog",
    "partition_status",
]


class PartitionStatus(StrEnum):
    OK = "OK"
    WARN = "WARN"
    STALL = "STALL"
    STOP = "STOP"
    REWIND = "REWIND"


class GroupStatus(StrEnum):
    OK = "OK"
    WARN = "WARN"
    ERR = "ERR"


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of one partition of one group."""

    at: float  #: seconds (epoch or monotonic: only differences matter)
    committed: int | None
    end: int
    lag: int
    #: a live member owns the partition; None when unknown (counts as owned)
    assigned: bool | None = None


@dataclass(frozen=True, slots=True)
class StatusPolicy:
    stall_after_s: float = 120.0
    stop_after_s: float = 600.0
    growth_samples: int = 3

    def __post_init__(self) -> None:
        if self.stall_after_s <= 0:
            raise ConfigError("stall_after_s", self.stall_after_s, "expected > 0")
        if self.stop_after_s < self.stall_after_s:
            raise ConfigError(
                "stop_after_s", self.stop_after_s, f"expected ≥ stall_after_s={self.stall_after_s}"
            )
        if self.growth_samples < 2:
            raise ConfigError("growth_samples", self.growth_samples, "expected ≥ 2")

    @property
    def window_s(self) -> float:
        """How long samples are kept: long enough that STOP can be seen inside the window."""
        return 2 * self.stop_after_s


def partition_status(samples: Sequence[Sample], policy: StatusPolicy) -> PartitionStatus:
    """The status of one partition from its samples in the window, oldest first."""
    if not samples:
        return PartitionStatus.OK
    for earlier, later in pairwise(samples):
        if (
            earlier.committed is not None
            and later.committed is not None
            and later.committed < earlier.committed
        ):
            return PartitionStatus.REWIND
    last = samples[-1]
    if last.lag == 0:
        return PartitionStatus.OK
    stuck_since = last.at
    for sample in reversed(samples[:-1]):
        if sample.lag == 0 or sample.committed != last.committed:
            break
        stuck_since = sample.at
    stuck_for = last.at - stuck_since
    nobody_consumes = last.assigned is False
    if stuck_for >= policy.stop_after_s or (nobody_consumes and stuck_for >= policy.stall_after_s):
        return PartitionStatus.STOP
    if stuck_for >= policy.stall_after_s:
        return PartitionStatus.STALL
    recent = samples[-policy.growth_samples :]
    if (
        len(recent) == policy.growth_samples
        and recent[0].lag > 0  # caught up at the window's start: not a trend yet
        and all(b.lag >= a.lag for a, b in pairwise(recent))
        and recent[-1].lag > recent[0].lag
    ):
        return PartitionStatus.WARN
    return PartitionStatus.OK


def group_status(statuses: Iterable[PartitionStatus]) -> GroupStatus:
    worst = GroupStatus.OK
    for status in statuses:
        if status in (PartitionStatus.STOP, PartitionStatus.STALL):
            return GroupStatus.ERR
        if status in (PartitionStatus.WARN, PartitionStatus.REWIND):
            worst = GroupStatus.WARN
    return worst


def estimate_time_lag(samples: Sequence[Sample], now: float) -> float | None:
    """Time lag estimated from the window's (time, log end) samples, as kafka-lag-exporter does
    when the record itself cannot be read: when did the log end pass the committed offset?
    Linear interpolation between the two samples around it; None if the window does not reach
    back that far (the record is older than every sample)."""
    if not samples:
        return None
    last = samples[-1]
    if last.lag == 0:
        return 0.0
    position = last.end - last.lag  # the oldest unconsumed record's offset
    for older, newer in reversed(list(pairwise(samples))):
        if older.end <= position < newer.end:
            fraction = (position - older.end) / (newer.end - older.end)
            produced_at = older.at + (newer.at - older.at) * fraction
            return max(0.0, now - produced_at)
    return None


class LagWindow:
    """Keeps each partition's samples for :attr:`StatusPolicy.window_s` and evaluates them."""

    def __init__(self, policy: StatusPolicy) -> None:
        self.policy = policy
        self._samples: dict[tuple[str, str, int], deque[Sample]] = {}

    def add(self, lags: Iterable[PartitionLag], at: float) -> None:
        """Record one reading. Partitions of the groups read that are absent from it (a topic
        gone) are forgotten; other groups' samples just age out of the window."""
        seen = set()
        for p in lags:
            key = (p.group, p.topic, p.partition)
            seen.add(key)
            self._samples.setdefault(key, deque()).append(
                Sample(at, p.committed, p.end, p.lag, p.assigned)
            )
        groups_read = {group for group, _, _ in seen}
        for key in list(self._samples):
            samples = self._samples[key]
            while samples and samples[0].at < at - self.policy.window_s:
                samples.popleft()
            if not samples or (key not in seen and key[0] in groups_read):
                del self._samples[key]

    def items(self) -> Iterator[tuple[tuple[str, str, int], Sequence[Sample]]]:
        for key, samples in sorted(self._samples.items()):
            yield key, tuple(samples)

    def restore(self, key: tuple[str, str, int], samples: Iterable[Sample]) -> None:
        """Put back samples saved from an earlier run (see ``monitoring.state``)."""
        self._samples[key] = deque(samples)

    def samples(self, group: str, topic: str, partition: int) -> Sequence[Sample]:
        return tuple(self._samples.get((group, topic, partition), ()))

    def status(self, group: str, topic: str, partition: int) -> PartitionStatus:
        samples = self.samples(group, topic, partition)
        if is_faust_changelog(group, topic) and all(s.committed is None for s in samples):
            return PartitionStatus.OK
        return partition_status(samples, self.policy)


def is_faust_changelog(group: str, topic: str) -> bool:
    """A Faust app's table changelog (``<app id>-<table>-changelog``, the app id being the
    group): its workers are assigned it and read it, but never commit it — not a stall."""
    return topic.startswith(f"{group}-") and topic.endswith("-changelog")
