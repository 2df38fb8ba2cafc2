"""The live aggregates over Faust's web server (loopback only, see ``app``).

    GET /agencies/{code}/{window}      window: today | 7d | 30d | ytd
    GET /levels/{level}/{window}       level: PROVINCE | DISTRICT | COMMUNE | …
    GET /procedures/{code}/{window}
    GET /city/{window}
        ?date=YYYY-MM-DD   the local day the window ends on (default: today in Ho Chi Minh City)

A window's counts are the sum of its slices (``aggregates.partials``), one per intake partition.
A worker answers from the partitions it owns and asks the other workers of the app (Faust's
partition assignor knows who owns what) for theirs with ``?local=1``; ``partitions`` in the
answer lists the partitions summed, and ``complete`` says whether that was all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Final, cast

import aiohttp
import faust
from faust.web import Request, Response, View

from dossierhub.errors import HubError
from stream_processors.aggregates import COUNTERS, PartialCounts, add_all
from stream_processors.aggregates.reading import Asked, cells
from stream_processors.dossier import local_date

from .intake import slice_key

if TYPE_CHECKING:
    from .app import Processors

__all__ = ["local_answer", "register_views"]

_log = logging.getLogger(__name__)
_PEER_TIMEOUT_S: Final = 5.0


def local_answer(
    asked: Asked, partitions: frozenset[int], read: Callable[[str], Any]
) -> tuple[dict[str, int], list[int]]:
    """Counts of ``asked`` over the slices of ``partitions`` found by ``read`` (a table get)."""
    parts = []
    for cell in cells(asked):
        for partition in partitions:
            stored = read(slice_key(partition, cell))
            if stored is not None:
                parts.append(PartialCounts.from_dict(stored).counts)
    return add_all(parts), sorted(partitions)


def register_views(app: faust.App, processors: Processors) -> None:
    from .app import SLICES_TABLE

    async def answer(web: View, request: Request, dimension: str, key: str | None) -> Response:
        window = request.match_info["window"]
        try:
            anchor = _anchor(request.query.get("date"))
            asked = Asked.parse(dimension, key, window, anchor)
        except HubError as exc:
            return web.json({"error": exc.one_line()}, status=400)
        slices = cast(faust.Table[str, Any], app.tables[SLICES_TABLE])
        assigned = processors.handlers.assigned()
        counts, summed = local_answer(asked, assigned, slices.get)
        if request.query.get("local") != "1":
            peers = await _ask_peers(app, SLICES_TABLE, request, assigned)
            for peer_counts, peer_partitions in peers:
                counts = add_all([counts, peer_counts])
                summed.extend(peer_partitions)
        start, end = asked.span
        return web.json(
            {
                "dimension": asked.dimension.value,
                "key": asked.key,
                "window": {"name": asked.window.value, "start": str(start), "end": str(end)},
                "counts": counts,
                "partitions": sorted(summed),
                "complete": len(set(summed)) == processors.handlers.intake_partitions,
            }
        )

    @app.page("/city/{window}")
    async def city(web: View, request: Request, window: str) -> Response:
        return await answer(web, request, "city", None)

    @app.page("/{dimension}/{key}/{window}")
    async def by_dimension(
        web: View, request: Request, dimension: str, key: str, window: str
    ) -> Response:
        return await answer(web, request, dimension, key)


def _anchor(text: str | None) -> date:
    if not text:
        return local_date(datetime.now(UTC))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HubError(f"date={text!r}: expected YYYY-MM-DD") from None


async def _ask_peers(
    app: faust.App, table: str, request: Request, assigned: frozenset[int]
) -> list[tuple[dict[str, int], list[int]]]:
    me = str(app.conf.canonical_url).rstrip("/")
    try:
        hosts = app.router.table_metadata(table)
    except Exception as exc:  # no assignment yet (starting, rebalancing)
        _log.debug("no table metadata: %s", exc)
        return []
    answers = []
    timeout = aiohttp.ClientTimeout(total=_PEER_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for host in hosts:
            if host.rstrip("/") == me:
                continue
            url = f"{host.rstrip('/')}{request.url.path}"
            query = {**request.query, "local": "1"}
            try:
                async with session.get(url, params=query) as response:
                    data = await response.json()
            except (aiohttp.ClientError, TimeoutError) as exc:
                _log.warning("aggregates: peer %s did not answer: %s", host, exc)
                continue
            peer = {name: int(data["counts"].get(name, 0)) for name in COUNTERS}
            answers.append((peer, [int(p) for p in data["partitions"] if p not in assigned]))
    return answers
