"""Committing the intake offsets the dossier table has folded, beside Faust's own commits.

faust-streaming 0.15 commits a partition from the acknowledgements of the events its streams
delivered, and only along an unbroken run of them from the offset it last committed. After a
restart with a rebalance, its consumer can resume a partition past records that no stream was
given (seen in the crash test: committed 405, first record delivered 459). No event ever
acknowledges those records, so Faust never commits that partition again: its lag stays at the
whole backlog, the watchdog says ERR, a restart reads it all again, and ``run --until-idle``
never ends.

The dossier stage knows what it folded: each batch persists the last intake offset folded
per partition (``~position|N``), reading back what the consumer went past (``refill``). Once
that position is acknowledged in the changelog, committing position + 1 never commits a record
that is not folded; and it moves Faust's committed mark past the hole, after which its own
acknowledgements of the partition line up again.

These commits take Faust's commit slot (``Consumer._commit_fut``, which lets one commit run at
a time). Without it, a Faust commit computed from older acknowledgements could reach the broker
after one of these and move the group's offset back; at the end of a partition's records
nothing commits again, and the partition stays behind for good.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from faust.types import TP

__all__ = ["commit_folded", "commit_next"]


async def commit_folded(
    consumer: Any, topic: str, positions: Mapping[int, int], *, events: Iterable[Any]
) -> None:
    """Commit ``position + 1`` for each partition of ``topic`` whose group offset is behind
    it, once ``positions`` are persisted; ``events`` are the batch's (see ``commit_next``)."""
    offsets = {TP(topic, p): done + 1 for p, done in positions.items()}
    await commit_next(consumer, offsets, events=events)


async def commit_next(consumer: Any, offsets: Mapping[TP, int], *, events: Iterable[Any]) -> None:
    """Commit each partition's next offset to read where the group's is behind it, once the
    records before it are done with (persisted, sent). Partitions this worker no longer owns
    are left to their new owner (Faust drops them).

    The batch's Faust ``events`` are acknowledged first: Faust drops an acknowledgement below
    its committed mark, and the event would stay "unacked" for good (its stop then waits for
    them, and times out). ``take_events`` acknowledging them again later changes nothing.
    """
    for event in events:
        event.ack()
    async with _commit_slot(consumer):
        # Faust's record of what it committed (private: faust-streaming has no public API to
        # commit an offset of one's choosing; updating the record is what lets it commit
        # again). Read inside the slot: a commit that ran meanwhile may have moved it.
        committed: Mapping[TP, int | None] = consumer._committed_offset
        due = {}
        for tp, offset in offsets.items():
            mark = committed.get(tp)
            if mark is None or mark < offset:
                due[tp] = offset
        if due:
            await consumer._commit_offsets(due)


@asynccontextmanager
async def _commit_slot(consumer: Any) -> AsyncIterator[None]:
    """Hold Faust's commit slot, as its ``Consumer.commit`` does: wait while a commit runs,
    then mark one running (a Faust commit that comes meanwhile waits, and skips its turn)."""
    while (running := consumer._commit_fut) is not None:
        try:
            # shielded: cancelling this task must not cancel the other commit's slot
            await asyncio.shield(running)
        except asyncio.CancelledError:
            if not running.cancelled():
                raise  # this task is being cancelled
            if consumer._commit_fut is running:  # its holder was: the slot is free
                consumer._commit_fut = None
    slot: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    consumer._commit_fut = slot
    try:
        yield
    finally:
        if consumer._commit_fut is slot:
            consumer._commit_fut = None
        if not slot.done():
            slot.set_result(None)
