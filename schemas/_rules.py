"""Cross-field rules, checked after the event has passed the schema checks.

Legal dates are local dates in Asia/Ho_Chi_Minh, so an instant is turned into its local date
before it is compared with one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Final

from dossierhub.errors import ValidationError

__all__ = ["HCMC_TZ", "check", "local_date"]

# Vietnam has kept UTC+7 without daylight saving since 1975; a fixed offset avoids depending on
# the tzdata package on slim images.
_HCMC_OFFSET: Final = timedelta(hours=7)
HCMC_TZ: Final = timezone(_HCMC_OFFSET, "Asia/Ho_Chi_Minh")

_Rule = Callable[[Mapping[str, Any]], None]


def local_date(instant: datetime) -> date:
    # Instants are nearly always UTC already; shifting the wall clock is then the same
    # conversion at a fifth of astimezone's cost (and overflows with the same OverflowError).
    if type(instant) is datetime and instant.tzinfo is UTC:
        return (instant + _HCMC_OFFSET).date()
    return instant.astimezone(HCMC_TZ).date()


def _envelope(name: str, event: Mapping[str, Any]) -> None:
    envelope = event["envelope"]
    if envelope["event_type"] != name:
        raise ValidationError("envelope.event_type", envelope["event_type"], f"expected {name}")
    if envelope["schema_version"] < 1:
        raise ValidationError("envelope.schema_version", envelope["schema_version"], "must be ≥ 1")


def _not_before_reception(field: str) -> _Rule:
    def rule(event: Mapping[str, Any]) -> None:
        received = local_date(event["received_at"])
        if event[field] < received:
            raise ValidationError(
                field, event[field], f"is before the local reception date {received.isoformat()}"
            )

    return rule


def _resolved_after_reception(event: Mapping[str, Any]) -> None:
    if event["resolved_at"] < event["received_at"]:
        raise ValidationError("resolved_at", event["resolved_at"], "is before received_at")


def _at_least(field: str, minimum: int) -> _Rule:
    def rule(event: Mapping[str, Any]) -> None:
        value = event.get(field)
        if value is not None and value < minimum:
            raise ValidationError(field, value, f"must be ≥ {minimum}")

    return rule


def _processing_time(field: str) -> _Rule:
    def rule(event: Mapping[str, Any]) -> None:
        time = event.get(field)
        if time is None:
            return
        minimum = 0 if time["unit"] == "SAME_DAY" else 1
        if time["value"] < minimum:
            raise ValidationError(f"{field}.value", time["value"], f"must be ≥ {minimum}")

    return rule


def _online_level(event: Mapping[str, Any]) -> None:
    if event["level"] == "NONE":
        raise ValidationError("level", "NONE", "an online service is FULL or PARTIAL")


def _validity(event: Mapping[str, Any]) -> None:
    valid_to = event.get("valid_to")
    if valid_to is not None and valid_to < event["valid_from"]:
        raise ValidationError("valid_to", valid_to, "is before valid_from")


def _new_appointment(event: Mapping[str, Any]) -> None:
    new = event.get("new_appointment_date")
    if new is not None and new < event["previous_appointment_date"]:
        raise ValidationError("new_appointment_date", new, "is before previous_appointment_date")


def _category(event: Mapping[str, Any]) -> None:
    category = event.get("category")
    if category is not None and not 1 <= category <= 8:
        raise ValidationError("category", category, "Decree 20/2008 Art. 4 has categories 1-8")


def _score(event: Mapping[str, Any]) -> None:
    score, scale = event.get("score"), event.get("scale_max")
    if score is not None and (score < 1 or (scale is not None and score > scale)):
        raise ValidationError("score", score, f"must be between 1 and scale_max ({scale})")


def _fees(event: Mapping[str, Any]) -> None:
    for index, fee in enumerate(event["fees"]):
        if fee["amount_vnd"] < 0:
            raise ValidationError(f"fees[{index}].amount_vnd", fee["amount_vnd"], "must be ≥ 0")


def _calendar(event: Mapping[str, Any]) -> None:
    year = event["year"]
    for field in ("holidays", "make_up_working_days"):
        for index, day in enumerate(event[field]):
            if day.year != year:
                raise ValidationError(f"{field}[{index}]", day, f"is not in {year}")
    for index, day in enumerate(event["make_up_working_days"]):
        if day.weekday() < 5:
            raise ValidationError(
                f"make_up_working_days[{index}]", day, "a make-up working day is a weekend day"
            )
    both = set(event["holidays"]) & set(event["make_up_working_days"])
    if both:
        raise ValidationError("holidays", sorted(both), "also listed as make-up working days")


def _window(event: Mapping[str, Any]) -> None:
    if event["window_end"] <= event["window_start"]:
        raise ValidationError("window_end", event["window_end"], "must be after window_start")


_PROCEDURE_RULES: Final = (_processing_time("processing_time"),)

_RULES: Final[Mapping[str, tuple[_Rule, ...]]] = {
    "ProcedurePublished": _PROCEDURE_RULES,
    "ProcedureAmended": _PROCEDURE_RULES,
    "ProcedureReplaced": _PROCEDURE_RULES,
    "ProcedureAbolished": _PROCEDURE_RULES,
    "OnlineServiceOffered": (_online_level,),
    "OnlineServiceLevelChanged": (_online_level,),
    "OnlineServiceWithdrawn": (_online_level,),
    "DossierReceived": (
        _processing_time("processing_time"),
        _not_before_reception("appointment_date"),
    ),
    "DossierSupplementRequested": (_at_least("sequence_no", 1),),
    "DossierSupplemented": (_at_least("sequence_no", 1),),
    "DossierAssigned": (_at_least("step_no", 1),),
    "DossierStepCompleted": (_at_least("step_no", 1),),
    "DossierTransferred": (_processing_time("allotted_time"),),
    "FinancialObligationRequested": (_fees,),
    "PaymentCompleted": (_at_least("amount_vnd", 0),),
    "ApologyIssued": (_at_least("sequence_no", 1), _new_appointment),
    "ServiceRated": (_score,),
    "FeedbackClassified": (_category,),
    "AgencyRegistered": (_validity,),
    "AgencyChanged": (_validity,),
    "AdministrativeUnitChanged": (_validity,),
    "WorkingCalendarPublished": (_calendar,),
    "DossierOutcome": (
        _not_before_reception("due_date"),
        _resolved_after_reception,
        _at_least("days_taken", 0),
        _at_least("days_late", 0),
    ),
    "DossierDueSoon": (_at_least("working_days_left", 0),),
    "AggregateUpdated": (_window,),
}


def check(name: str, event: Mapping[str, Any]) -> None:
    """Apply the envelope rules and the rules of event type ``name``; raise on the first break."""
    _envelope(name, event)
    for rule in _RULES.get(name, ()):
        rule(event)
