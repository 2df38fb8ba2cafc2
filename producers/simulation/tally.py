"""What a simulated year actually contains, counted from the events as they are sent.

The summary of ``dossierhub simulate`` reports these counts, not the scenario's: a figure the
generator failed to realize shows up as a difference, not as a copy of the target.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from schemas import event_type
from stream_processors.dossier import local_date
from stream_processors.validator import route

__all__ = ["Tally"]


class Tally:
    def __init__(self, year: int) -> None:
        self.year = year
        self.by_topic: dict[str, Counter[str]] = defaultdict(Counter)
        self.inbound_topics: set[str] = set()
        self.realized: Counter[str] = Counter()
        self.events = 0
        self.last_time: datetime | None = None

    def observe(self, agency: str, event: Mapping[str, Any]) -> None:
        name = event["envelope"]["event_type"]
        self.events += 1
        self.by_topic[route(event_type(name))][name] += 1
        self.inbound_topics.add(agency)
        self.last_time = event["envelope"]["occurred_at"]
        count = _COUNTED.get(name)
        if count is not None:
            count(self, event)

    def _in_year(self, instant: datetime) -> bool:
        return local_date(instant).year == self.year

    def summary(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "agencies": len(self.inbound_topics),
            "by_topic": {t: dict(sorted(c.items())) for t, c in sorted(self.by_topic.items())},
            "realized": dict(sorted(self.realized.items())),
        }


def _received(tally: Tally, event: Mapping[str, Any]) -> None:
    if tally._in_year(event["received_at"]):
        tally.realized["dossiers.received"] += 1
        if event["channel"] == "ONLINE":
            tally.realized["dossiers.received_online"] += 1
    elif event["carried_over"]:
        tally.realized["dossiers.opening_backlog"] += 1


def _stopped(tally: Tally, event: Mapping[str, Any]) -> None:
    if event["reason"] == "WITHDRAWN" and tally._in_year(event["stopped_at"]):
        tally.realized["dossiers.withdrawn"] += 1


def _apology(tally: Tally, event: Mapping[str, Any]) -> None:
    if tally._in_year(event["issued_at"]):
        tally.realized["dossiers.apology_letters"] += 1


def _classified(tally: Tally, event: Mapping[str, Any]) -> None:
    scope = "about_procedures" if event["scope"] == "IN_SCOPE" else "out_of_scope"
    tally.realized[f"feedback.{scope}"] += 1


def _decision(tally: Tally, event: Mapping[str, Any]) -> None:
    if event["signed_date"].year != tally.year:
        return
    tally.realized["procedures.published.decisions"] += 1
    for item in event["items"]:
        tally.realized[f"procedures.published.{item['change_type'].lower()}"] += 1


_COUNTED = {
    "DossierReceived": _received,
    "DossierStopped": _stopped,
    "ApologyIssued": _apology,
    "FeedbackClassified": _classified,
    "PublicationDecisionIssued": _decision,
}
