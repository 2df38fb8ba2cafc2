"""The dossiers of a simulated year, streamed in event-time order with memory for open ones only.

Each dossier's fate is drawn first, exactly (``Quota``): resolved on time, resolved overdue,
withdrawn, or still open at the end of the year; then its timestamps are laid out so that the
hub, which classifies from timestamps alone, finds that fate: an on-time dossier is resolved on
or before its appointment date, an overdue one one to five working days after it. The events
carry no flag; a change in the hub's rules would change the report, as it should.

Dossiers arrive on the working days of the year (office hours, Asia/Ho_Chi_Minh); the opening
backlog arrives in the previous year's last working days and is resolved in January. The
dossiers still open at the end are the last ones received.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Any, Final

from producers.scenario import DossierTargets, ScenarioError
from stream_processors.dossier import HCMC_TZ, WorkingCalendar

from .catalog import LEVELS, Catalog, Procedure
from .days import working_days
from .people import person, pool_size
from .sampling import Quota, apportion, stream

__all__ = ["DossierPlan", "Fate", "SimEvent", "dossier_events"]

#: share of dossiers per authority level (wards handle most: certification, civil status)
_LEVEL_WEIGHTS: Final = {"PROVINCE": 0.25, "DISTRICT": 0.30, "COMMUNE": 0.45}
#: overdue dossiers must be received by then to be resolved late within the year
_OVERDUE_CUTOFF: Final = (11, 1)
_BACKLOG_DAYS: Final = 5  # working days at the end of the previous year the backlog came in
_MIN_BACKLOG_WORKING_DAYS: Final = 10  # a backlog dossier's procedure lasts into January
_SUPPLEMENT_SHARE: Final = 0.05
_TRANSFER_SHARE: Final = 0.04
_REFUSED_SHARE: Final = 0.03
_POSTAL_SHARE: Final = 0.05
_RATED_SHARE: Final = 0.05
_OFFICE: Final = (time(7, 30), time(17, 0))

#: turns a raw identity into the ``applicant_*_hash`` fields (the SDK's pseudonymizer)
Pseudonymize = Callable[..., Mapping[str, str | None]]


class Fate(Enum):
    ON_TIME = "on_time"
    OVERDUE = "overdue"
    WITHDRAWN = "withdrawn"
    OPEN = "open"


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One event to publish: who sends it, when, of which type, with which body."""

    at: datetime
    agency: str
    event_type: str
    payload: dict[str, Any]
    #: stable label of the event within its subject (for the deterministic event id)
    label: str


@dataclass(frozen=True)
class DossierPlan:
    """How many dossiers arrive on each day, and which of them are closed within the year."""

    arrivals: tuple[tuple[date, int], ...]  # backlog days first, then the year's working days
    backlog: int
    closed: int  # the first ``closed`` dossiers in arrival order close during the year
    overdue_eligible: int  # closed dossiers received early enough to end late within the year

    @property
    def total(self) -> int:
        return sum(n for _, n in self.arrivals)


def plan_dossiers(targets: DossierTargets, year: int, calendar: WorkingCalendar) -> DossierPlan:
    days = working_days(date(year, 1, 1), date(year, 12, 31), calendar)
    previous = working_days(date(year - 1, 12, 1), date(year - 1, 12, 31), calendar)
    backlog_days = previous[-_BACKLOG_DAYS:]
    arrivals: list[tuple[date, int]] = []
    if targets.opening_backlog:
        split = apportion(targets.opening_backlog, dict.fromkeys(backlog_days, 1.0))
        arrivals += [(d, split[d]) for d in backlog_days]
    if targets.received:
        # fewer dossiers around Tết and in the summer holidays, more before year end
        weights = {d: _seasonal_weight(d) for d in days}
        split = apportion(targets.received, weights)
        arrivals += [(d, split[d]) for d in days]
    closed = targets.resolved + targets.withdrawn
    cutoff = date(year, *_OVERDUE_CUTOFF)
    early = sum(n for d, n in arrivals if d < cutoff)
    eligible = min(closed, early)
    if targets.resolved_overdue > eligible:
        raise ScenarioError(
            "scenario",
            "dossiers.resolved_overdue",
            f"{targets.resolved_overdue} overdue, but only {eligible} closed dossiers are received "
            f"before {cutoff} (early enough to be resolved late within the year)",
        )
    plan = DossierPlan(
        tuple((d, n) for d, n in arrivals if n), targets.opening_backlog, closed, eligible
    )
    return plan


def _seasonal_weight(day: date) -> float:
    if (day.month == 1 and day.day > 15) or (day.month == 2 and day.day < 5):
        return 0.7
    if day.month in (7, 8):
        return 0.9
    if day.month == 12:
        return 1.15
    return 1.0


@dataclass(frozen=True)
class _Agencies:
    districts: tuple[str, ...]
    communes: tuple[str, ...]
    parent: Mapping[str, str | None]


class _Procedures:
    """Usable procedures per level, each list weighted so that a few procedures are common."""

    def __init__(self, catalog: Catalog) -> None:
        self.by_level: dict[str, list[Procedure]] = {}
        self.online: dict[str, list[Procedure]] = {}
        for lv in LEVELS:
            usable = catalog.usable(lv)
            if usable:
                self.by_level[lv] = usable
                self.online[lv] = [p for p in usable if p.online_at_end] or usable
        # A backlog dossier is still within its time on 1 January: a procedure long enough.
        self.backlog = [
            p
            for lv in LEVELS
            for p in self.by_level.get(lv, ())
            if p.working_days >= _MIN_BACKLOG_WORKING_DAYS
        ]
        self.levels = [lv for lv in LEVELS if lv in self.by_level]
        self.level_weights = list(itertools.accumulate(_LEVEL_WEIGHTS[lv] for lv in self.levels))
        lists = [*self.by_level.values(), *self.online.values(), self.backlog]
        self._weights = {id(lst): _popularity(len(lst)) for lst in lists}

    def pick(self, rng: random.Random, *, online: bool, backlog: bool) -> Procedure:
        if backlog:
            candidates = self.backlog
        else:
            level = rng.choices(self.levels, cum_weights=self.level_weights)[0]
            candidates = (self.online if online else self.by_level)[level]
        return rng.choices(candidates, cum_weights=self._weights[id(candidates)])[0]


def _popularity(n: int) -> list[float]:
    """Cumulative Zipf weights: the first procedures of a list draw most dossiers."""
    return list(itertools.accumulate(1.0 / (rank + 1) for rank in range(n)))


def dossier_events(
    targets: DossierTargets,
    *,
    year: int,
    seed: int,
    catalog: Catalog,
    agencies: Sequence[Any],
    calendar: WorkingCalendar,
    pseudonymize: Pseudonymize,
    planned: Counter[str] | None = None,
) -> Iterator[SimEvent]:
    """Every dossier event of the year (and the backlog's from the year before), time-ordered.

    ``planned`` counts each dossier's drawn fate (``Fate`` values) as it is generated.
    """
    plan = plan_dossiers(targets, year, calendar)
    return _Year(
        targets=targets,
        plan=plan,
        year=year,
        seed=seed,
        catalog=catalog,
        agencies=agencies,
        calendar=calendar,
        pseudonymize=pseudonymize,
        planned=Counter() if planned is None else planned,
    ).events()


class _Year:
    def __init__(
        self,
        *,
        targets: DossierTargets,
        plan: DossierPlan,
        year: int,
        seed: int,
        catalog: Catalog,
        agencies: Sequence[Any],
        calendar: WorkingCalendar,
        pseudonymize: Pseudonymize,
        planned: Counter[str],
    ) -> None:
        self.planned = planned
        self.targets, self.plan, self.year, self.seed = targets, plan, year, seed
        self.calendar = calendar
        self.pseudonymize = pseudonymize
        self.procedures = _Procedures(catalog)
        if plan.backlog and not self.procedures.backlog:
            raise ScenarioError(
                "scenario",
                "dossiers.opening_backlog",
                f"no procedure in force all year takes {_MIN_BACKLOG_WORKING_DAYS} working days "
                "or more, so no dossier of the previous year can still be open on 1 January",
            )
        self.agencies = _index_agencies(agencies)
        self.rng = stream(seed, "dossier-lives")
        fates = stream(seed, "dossier-fates")
        self.overdue = Quota(targets.resolved_overdue, plan.overdue_eligible, fates)
        self.withdrawn = Quota(targets.withdrawn, plan.closed - targets.resolved_overdue, fates)
        self.online = Quota(targets.received_online, targets.received, stream(seed, "channels"))
        self.apology = Quota(targets.apology_letters, targets.resolved_overdue, fates)
        self.people = pool_size(plan.total)
        self.first_day = working_days(date(year, 1, 1), date(year, 1, 31), calendar)[0]
        self.last_day = working_days(date(year, 12, 1), date(year, 12, 31), calendar)[-1]
        self.year_end = datetime.combine(date(year, 12, 31), time(23, 59), HCMC_TZ)
        self.cutoff = date(year, *_OVERDUE_CUTOFF)
        self.sequence: dict[tuple[str, date], int] = defaultdict(int)
        self.seq = itertools.count()

    def events(self) -> Iterator[SimEvent]:
        heap: list[tuple[datetime, int, SimEvent]] = []
        number = 0
        for day, count in self.plan.arrivals:
            for at in self._arrival_times(day, count):
                for event in self._life(number, at):
                    heapq.heappush(heap, (event.at, next(self.seq), event))
                number += 1
            next_day = datetime.combine(day + timedelta(days=1), time(0), HCMC_TZ)
            while heap and heap[0][0] < next_day:
                yield heapq.heappop(heap)[2]
        while heap:
            yield heapq.heappop(heap)[2]
        for quota, name in (
            (self.overdue, "resolved_overdue"),
            (self.withdrawn, "withdrawn"),
            (self.online, "received_online"),
            (self.apology, "apology_letters"),
        ):
            if not quota.done:  # the quotas are exact by construction; say so if not
                raise AssertionError(f"simulator left {quota.left} of dossiers.{name} unplaced")

    def _arrival_times(self, day: date, count: int) -> list[datetime]:
        start = datetime.combine(day, _OFFICE[0], HCMC_TZ)
        span = int((datetime.combine(day, _OFFICE[1], HCMC_TZ) - start).total_seconds())
        return [
            start + timedelta(seconds=s)
            for s in sorted(self.rng.randrange(span) for _ in range(count))
        ]

    def _fate(self, number: int, day: date) -> Fate:
        if number >= self.plan.closed:
            return Fate.OPEN
        if (day < self.cutoff) and self.overdue.take():
            return Fate.OVERDUE
        return Fate.WITHDRAWN if self.withdrawn.take() else Fate.ON_TIME

    def _life(self, number: int, received_at: datetime) -> list[SimEvent]:
        rng = self.rng
        day = received_at.date()
        backlog = number < self.plan.backlog
        online = False if backlog else self.online.take()
        fate = self._fate(number, day)
        self.planned[fate.value] += 1
        procedure = self.procedures.pick(rng, online=online, backlog=backlog)
        agency = self._agency(procedure, rng)
        code = self._code(agency, day)
        appointment = self.calendar.add_working_days(day, procedure.working_days)
        life = _Life(code, agency)
        life.add(
            received_at,
            "DossierReceived",
            "received",
            self._received(
                code=code,
                procedure=procedure,
                agency=agency,
                at=received_at,
                appointment=appointment,
                online=online,
                number=number,
            ),
        )
        if fate is Fate.OPEN:
            return life.events
        if fate is Fate.OVERDUE:
            end_day = self.calendar.add_working_days(appointment, rng.randint(1, 5))
            if end_day > self.last_day:  # only a calendar with weeks off late in the year
                raise ScenarioError(
                    "scenario",
                    "calendar",
                    f"dossier {code}, due {appointment}, cannot end overdue by {self.last_day}, "
                    "the year's last working day",
                )
            end = self._office_time(end_day, after=received_at)
            if self.apology.take():
                self._apology(life, number, received_at, appointment, end_day)
        else:
            # the backlog is resolved in the year, so from its first working day on
            first = self.first_day if backlog else day
            last = min(appointment, self.last_day)
            if last < first:  # only a calendar with weeks off early in the year
                raise ScenarioError(
                    "scenario",
                    "calendar",
                    f"dossier {code} (a backlog dossier due {appointment}) cannot end on time "
                    f"in the year, whose first working day is {first}",
                )
            span = self.calendar.working_days_between(first, last)
            end_day = self.calendar.add_working_days(first, rng.randint(0, span))
            end = self._office_time(end_day, after=received_at)
        if self._transfers(procedure) and rng.random() < _TRANSFER_SHARE:
            self._transfer(life, received_at, end)
        if fate is Fate.WITHDRAWN:
            life.add(
                end,
                "WithdrawalRequested",
                "withdrawal",
                {
                    "dossier_code": code,
                    "requested_at": end,
                    "reason_text": "Công dân xin rút hồ sơ",
                },
            )
            stopped = min(end + timedelta(minutes=30), self.year_end)
            life.add(
                stopped,
                "DossierStopped",
                "stopped",
                {
                    "dossier_code": code,
                    "stopped_at": stopped,
                    "reason": "WITHDRAWN",
                    "reason_text": None,
                },
            )
            return life.events
        if fate is Fate.ON_TIME and end_day > day and rng.random() < _SUPPLEMENT_SHARE:
            self._supplement(life, received_at, end)
        self._resolution(life, end, online)
        return life.events

    def _transfers(self, procedure: Procedure) -> bool:
        return procedure.level == "COMMUNE"

    def _agency(self, procedure: Procedure, rng: random.Random) -> str:
        if procedure.level == "PROVINCE" and procedure.department:
            return procedure.department
        pool = self.agencies.districts if procedure.level == "DISTRICT" else self.agencies.communes
        return pool[rng.randrange(len(pool))]

    def _code(self, agency: str, day: date) -> str:
        """Circular 01/2018 dossier code: agency, reception date, 4-digit daily sequence."""
        self.sequence[agency, day] += 1
        return f"{agency}-{day:%y%m%d}-{self.sequence[agency, day]:04d}"

    def _office_time(self, day: date, *, after: datetime) -> datetime:
        start = datetime.combine(day, _OFFICE[0], HCMC_TZ)
        end = datetime.combine(day, _OFFICE[1], HCMC_TZ)
        start = max(start, after + timedelta(minutes=10))
        if start >= end:  # received late in the day and ended the same day
            return min(after + timedelta(minutes=20), datetime.combine(day, time(23, 0), HCMC_TZ))
        return start + timedelta(seconds=self.rng.randrange(int((end - start).total_seconds())))

    def _received(
        self,
        *,
        code: str,
        procedure: Procedure,
        agency: str,
        at: datetime,
        appointment: date,
        online: bool,
        number: int,
    ) -> dict[str, Any]:
        rng = self.rng
        applicant = person(self.seed, rng.randrange(self.people))
        if online:
            channel, online_level = "ONLINE", procedure.online_at_end or "PARTIAL"
        else:
            channel = "POSTAL" if rng.random() < _POSTAL_SHARE else "COUNTER"
            online_level = "NONE"
        return {
            "dossier_code": code,
            "procedure_code": procedure.code,
            "channel": channel,
            "online_level": online_level,
            "receiving_agency_code": agency,
            "resolving_agency_code": agency,
            "processing_time": procedure.processing_time,
            "received_at": at,
            "appointment_date": appointment,
            "receipt_no": f"GTN-{number:08d}",
            "service_code": procedure.service_code if online else None,
            **self.pseudonymize(
                citizen_id=applicant.citizen_id, name=applicant.name, phone=applicant.phone
            ),
            "carried_over": number < self.plan.backlog,
            "digitized_at_reception": online or rng.random() < 0.5,
        }

    def _apology(
        self, life: _Life, number: int, received_at: datetime, due: date, end_day: date
    ) -> None:
        """Mẫu 04: before the due date passes, with a new appointment date."""
        issued = max(datetime.combine(due, time(10), HCMC_TZ), received_at + timedelta(minutes=30))
        life.add(
            issued,
            "ApologyIssued",
            "apology",
            {
                "dossier_code": life.code,
                "apology_id": f"PXL-{number:08d}",
                "issued_at": issued,
                "responsible_agency_code": life.agency,
                "reason_text": "Hồ sơ cần xác minh thêm với cơ quan liên quan",
                "previous_appointment_date": due,
                "new_appointment_date": end_day,
                "exemption_reason": None,
                "delivery_channels": ["LETTER", "SMS"],
                "sequence_no": 1,
            },
        )

    def _transfer(self, life: _Life, received_at: datetime, end: datetime) -> None:
        """A ward asks its district for an inter-agency step and gets the result back."""
        parent = self.agencies.parent.get(life.agency)
        if parent is None or end - received_at < timedelta(minutes=40):
            return
        sent = received_at + (end - received_at) / 3
        back = received_at + 2 * (end - received_at) / 3
        life.add(
            sent,
            "DossierTransferred",
            "transferred",
            {
                "dossier_code": life.code,
                "transferred_at": sent,
                "to_agency_code": parent,
                "linkage_type": "VERTICAL",
                "linked_procedure_code": None,
                "allotted_time": None,
                "due_date": None,
            },
        )
        life.add(
            back,
            "InterAgencyResultReceived",
            "inter-agency-result",
            {
                "dossier_code": life.code,
                "received_at": back,
                "from_agency_code": parent,
                "outcome": "APPROVED",
            },
        )

    def _supplement(self, life: _Life, received_at: datetime, end: datetime) -> None:
        """One request answered before the end: the clock pauses, the dossier stays on time."""
        asked = received_at + (end - received_at) / 4
        answered = received_at + (end - received_at) / 2
        life.add(
            asked,
            "DossierSupplementRequested",
            "supplement-requested",
            {
                "dossier_code": life.code,
                "requested_at": asked,
                "sequence_no": 1,
                "stage": "APPRAISAL",
                "requesting_agency_code": life.agency,
                "missing_items": ["Bản sao giấy tờ chứng minh nơi cư trú"],
            },
        )
        life.add(
            answered,
            "DossierSupplemented",
            "supplemented",
            {
                "dossier_code": life.code,
                "supplemented_at": answered,
                "sequence_no": 1,
                "new_appointment_date": None,
            },
        )

    def _resolution(self, life: _Life, end: datetime, online: bool) -> None:
        rng = self.rng
        refused = rng.random() < _REFUSED_SHARE
        life.add(
            end,
            "DossierResolved",
            "resolved",
            {
                "dossier_code": life.code,
                "resolved_at": end,
                "outcome": "REFUSED" if refused else "APPROVED",
                "refusal_reason": "Không đủ điều kiện theo quy định" if refused else None,
                "result_docs": [],
            },
        )
        returned = min(end + timedelta(hours=2), self.year_end)
        life.add(
            returned,
            "ResultReturned",
            "returned",
            {
                "dossier_code": life.code,
                "returned_at": returned,
                "return_channel": "ONLINE" if online else "COUNTER",
                "pushed_to_citizen_data_store": online,
            },
        )
        if rng.random() < _RATED_SHARE:
            rated = min(returned + timedelta(minutes=15), self.year_end)
            score = rng.randint(3, 5) if rng.random() < 0.9 else rng.randint(1, 2)
            life.add(
                rated,
                "ServiceRated",
                "rated",
                {
                    "dossier_code": life.code,
                    "rated_at": rated,
                    "satisfied": score >= 3,
                    "score": score,
                    "scale_max": 5,
                },
            )


class _Life:
    """The events of one dossier, as its agency sends them."""

    def __init__(self, code: str, agency: str) -> None:
        self.code, self.agency = code, agency
        self.events: list[SimEvent] = []

    def add(self, at: datetime, event_type: str, label: str, payload: dict[str, Any]) -> None:
        self.events.append(SimEvent(at, self.agency, event_type, payload, f"{self.code}/{label}"))


def _index_agencies(agencies: Sequence[Any]) -> _Agencies:
    districts = tuple(a.code for a in agencies if a.level == "DISTRICT_COMMITTEE")
    communes = tuple(a.code for a in agencies if a.level == "COMMUNE_COMMITTEE")
    if not districts or not communes:
        raise ScenarioError("directory", "agencies", "needs district and commune committees")
    return _Agencies(districts, communes, {a.code: a.parent_code for a in agencies})
