"""Citizens' feedback and proposals (PAKN, Decree 20/2008) of a simulated year.

The city's PAKN system receives each item, classifies it within three working days as in
scope (about regulations or the performance of procedures, with its Art. 4 category) or out of
scope, then answers and publishes the in-scope ones and forwards or rejects the others.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from producers.scenario import FeedbackTargets
from stream_processors.dossier import HCMC_TZ, WorkingCalendar

from .days import working_days
from .dossiers import Pseudonymize, SimEvent
from .people import person
from .sampling import Quota, stream

__all__ = ["feedback_events"]

_CHANNELS: Final = ("PORTAL", "HOTLINE_1022", "WRITTEN", "EMAIL", "MOBILE_APP", "TELEPHONE")
_LAST_RECEIVED: Final = (11, 30)  # so that answers are published within the year


def feedback_events(
    targets: FeedbackTargets,
    *,
    year: int,
    seed: int,
    city: str,
    departments: Sequence[str],
    procedures: Sequence[str],
    calendar: WorkingCalendar,
    pseudonymize: Pseudonymize,
) -> Iterator[SimEvent]:
    """Every feedback event of the year, time-ordered."""
    rng = stream(seed, "feedback")
    in_scope = Quota(targets.about_procedures, targets.received, stream(seed, "feedback-scope"))
    days = working_days(date(year, 1, 3), date(year, *_LAST_RECEIVED), calendar)
    arrivals = sorted(
        datetime.combine(rng.choice(days), time(7, 30), HCMC_TZ)
        + timedelta(seconds=rng.randrange(9 * 3600))
        for _ in range(targets.received)
    )
    events: list[SimEvent] = []
    for number, at in enumerate(arrivals):
        fid = f"PAKN-{year}-{number + 1:06d}"

        def add(
            when: datetime, event_type: str, label: str, body: dict[str, Any], fid: str = fid
        ) -> None:
            events.append(
                SimEvent(when, city, event_type, {"feedback_id": fid, **body}, f"{fid}/{label}")
            )

        submitter = person(seed + 1, rng.randrange(max(1, targets.received)))
        add(at, "FeedbackReceived", "received", {
            "received_at": at,
            "channel": rng.choice(_CHANNELS),
            "kind": "PHAN_ANH" if rng.random() < 0.8 else "KIEN_NGHI",
            "submitter_type": "INDIVIDUAL",
            "submitter_id_hash": pseudonymize(citizen_id=submitter.citizen_id)["applicant_id_hash"],
            "related_procedure_code": rng.choice(procedures) if procedures else None,
            "related_dossier_code": None,
            "forwarded_from": None,
        })  # fmt: skip
        classified = _working_time(calendar, at, rng.randint(1, 3))
        if in_scope.take():
            category = rng.randint(1, 8)
            add(classified, "FeedbackClassified", "classified", {
                "classified_at": classified, "scope": "IN_SCOPE", "category": category,
                "topic": "OFFICIAL_BEHAVIOUR" if category == 1 else "REGULATION_POLICY_PROCEDURE",
            })  # fmt: skip
            resolved = _working_time(calendar, classified, rng.randint(2, 12))
            add(
                resolved,
                "FeedbackResolved",
                "resolved",
                {"resolved_at": resolved, "response_doc_no": f"{number + 1}/TB-VP"},
            )
            published = _working_time(calendar, resolved, rng.randint(1, 2))
            add(
                published,
                "FeedbackPublished",
                "published",
                {"published_at": published, "publication_url": None},
            )
        else:
            add(
                classified,
                "FeedbackClassified",
                "classified",
                {
                    "classified_at": classified,
                    "scope": "OUT_OF_SCOPE",
                    "category": None,
                    "topic": None,
                },
            )
            if rng.random() < 0.5 and departments:
                forwarded = _working_time(calendar, classified, rng.randint(1, 5))
                add(
                    forwarded,
                    "FeedbackForwarded",
                    "forwarded",
                    {
                        "forwarded_at": forwarded,
                        "to_agency_code": rng.choice(departments),
                        "reason_text": "Không thuộc thẩm quyền giải quyết của Thành phố",
                    },
                )
            else:
                rejected = _working_time(calendar, classified, 1)
                add(
                    rejected,
                    "FeedbackRejected",
                    "rejected",
                    {
                        "rejected_at": rejected,
                        "reason_code": "OUT_OF_SCOPE",
                        "reason_text": "Nội dung là khiếu nại, tố cáo",
                    },
                )
    events.sort(key=lambda e: e.at)
    return iter(events)


def _working_time(calendar: WorkingCalendar, after: datetime, working_days: int) -> datetime:
    """Same local time of day, ``working_days`` working days after ``after``."""
    local = after.astimezone(HCMC_TZ)
    day = calendar.add_working_days(local.date(), working_days)
    return datetime.combine(day, local.time(), HCMC_TZ)
