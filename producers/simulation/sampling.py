"""Exact random choices: the simulated year hits every target count, not just on average.

``Quota`` is selection sampling (Knuth's algorithm S): walking past ``population`` candidates
one at a time, it picks each with probability ``wanted left / candidates left``, so exactly
``wanted`` are picked, each subset equally likely, in one pass with no list of the population —
which is what a 22-million-dossier year streamed day by day needs.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import TypeVar

__all__ = ["Quota", "apportion", "stream"]

_K = TypeVar("_K")


def stream(seed: int, purpose: str) -> random.Random:
    """An independent generator per purpose, so adding draws to one part of the simulation
    does not shift every other part's choices for the same seed."""
    return random.Random(f"dossierhub/{seed}/{purpose}")


class Quota:
    """Pick exactly ``wanted`` of the next ``population`` candidates offered to :meth:`take`."""

    def __init__(self, wanted: int, population: int, rng: random.Random) -> None:
        if not 0 <= wanted <= population:
            raise ValueError(f"cannot pick {wanted} of {population}")
        self.left = wanted
        self.candidates = population
        self._rng = rng

    def take(self) -> bool:
        """Offer the next candidate; True if it is picked."""
        if self.candidates <= 0:
            raise ValueError("more candidates offered than the population announced")
        picked = self._rng.random() * self.candidates < self.left
        self.candidates -= 1
        if picked:
            self.left -= 1
        return picked

    @property
    def done(self) -> bool:
        return self.left == 0


def apportion(total: int, weights: Mapping[_K, float]) -> dict[_K, int]:
    """``total`` split in proportion to ``weights`` by largest remainder (sums exactly)."""
    items = list(weights.items())
    mass = sum(w for _, w in items)
    if total < 0 or mass <= 0:
        raise ValueError(f"cannot apportion {total} over weights summing to {mass}")
    shares = [total * w / mass for _, w in items]
    counts = [int(share) for share in shares]
    short = total - sum(counts)
    # ties broken by position, so the split is deterministic
    order = sorted(range(len(items)), key=lambda i: (-(shares[i] - counts[i]), i))
    for i in order[:short]:
        counts[i] += 1
    return {key: count for (key, _), count in zip(items, counts, strict=True)}
