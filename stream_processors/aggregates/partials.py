"""Counts per intake partition ("slices"): what each worker owns, persists and publishes.

A dossier's events all arrive on one intake partition, so the worker that owns the partition can
count its dossiers alone, in the same batch that folds their states, and persist both in its own
changelog partition. Each slice carries ``as_of``, the intake offset of the last record counted
in it: after a crash the worker re-reads records it may already have counted, and a slice whose
``as_of`` is at or past a record's offset already holds that record's contribution (slices are
written in offset order), so the record is not counted twice.

The value of a window is the sum of its slices (``merge_slices``); a newer copy of a slice
(larger ``as_of``) replaces the older one, so publishing slices is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dossierhub.errors import ValidationError

from .tally import COUNTERS, Counts, zero_counts

__all__ = ["PartialCounts", "merge_slices"]


@dataclass(slots=True)
class PartialCounts:
    """One window of one dimension value, counted over one intake partition."""

    partition: int
    as_of: int = -1
    counts: Counts = field(default_factory=zero_counts)

    def add(self, counter: str, n: int, offset: int) -> bool:
        """Count ``n`` for the record at ``offset``; False (nothing done) if already counted."""
        if offset <= self.as_of:
            return False
        self.counts[counter] += n
        return True

    def seal(self, offset: int) -> None:
        """Mark every record up to ``offset`` as counted (after adding a record's changes)."""
        self.as_of = max(self.as_of, offset)

    def to_dict(self) -> dict[str, Any]:
        return {"partition": self.partition, "as_of": self.as_of, **self.counts}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PartialCounts:
        try:
            counts = {name: int(data.get(name, 0)) for name in COUNTERS}
            return cls(int(data["partition"]), int(data["as_of"]), counts)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError("partial_counts", dict(data), f"malformed: {exc!r}") from exc


def merge_slices(slices: Iterable[PartialCounts]) -> Counts:
    """The window's value: the newest copy of each partition's slice, summed."""
    newest: dict[int, PartialCounts] = {}
    for one in slices:
        seen = newest.get(one.partition)
        if seen is None or one.as_of > seen.as_of:
            newest[one.partition] = one
    total = zero_counts()
    for one in newest.values():
        for name in COUNTERS:
            total[name] += one.counts[name]
    return total
