"""Scenario files: the targets a simulated year must realize, checked before anything is sent.

A scenario is JSON of exactly this shape (``scenarios/hcmc-2023.json`` is the city's 2023)::

    {"name": "hcmc-2023", "year": 2023, "timezone": "Asia/Ho_Chi_Minh",
     "procedures": {"in_force": {"province": 1487, "district": 219, "commune": 128},
                    "online": {"full": 464, "partial": 276},
                    "published": {"decisions": 65, "standardized_new": 140, "amended": 273,
                                  "replaced": 75, "abolished": 169}},
     "dossiers": {"opening_backlog": 499, "received": 22583451, "resolved_on_time": 22471574,
                  "resolved_overdue": 37649, "withdrawn": 0, "received_online": 11722887,
                  "apology_letters": 37649},
     "feedback": {"about_procedures": 1106, "out_of_scope": 7055}}

plus one optional key, ``"calendar": {"extra_days_off": ["2023-..."], "make_up_working_days":
[...]}``, for days off a government decree adds to the ``holidays`` package's Vietnam calendar.

Every problem is a :class:`ScenarioError` naming the field (``dossiers.received_online``) and
what is wrong with it, so a file is fixed in one round.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dossierhub.errors import HubError

__all__ = [
    "HUB_TIMEZONE",
    "DossierTargets",
    "FeedbackTargets",
    "ProcedureTargets",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "parse_scenario",
    "scale_count",
]

# A scenario is a few hundred bytes; anything far larger is not one (and json.loads of a huge
# hostile file would only waste memory before failing).
_MAX_BYTES: Final = 1_000_000
_MAX_COUNT: Final = 10**9  # a billion dossiers a year is no city's scenario
_MAX_DAYS_LISTED: Final = 366
HUB_TIMEZONE: Final = "Asia/Ho_Chi_Minh"


class ScenarioError(HubError):
    """A scenario file is unreadable, incomplete or inconsistent; ``field`` names the spot."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        super().__init__(
            f"scenario {source}: {field}: {problem}",
            hint="see producers/scenario.py for the format; scenarios/hcmc-2023.json is an example",
        )
        self.source = source
        self.field = field


@dataclass(frozen=True)
class ProcedureTargets:
    province: int
    district: int
    commune: int
    online_full: int
    online_partial: int
    decisions: int
    standardized_new: int
    amended: int
    replaced: int
    abolished: int

    @property
    def in_force(self) -> int:
        return self.province + self.district + self.commune

    @property
    def by_level(self) -> dict[str, int]:
        """End-of-year procedures in force per ``AuthorityLevel`` symbol."""
        return {"PROVINCE": self.province, "DISTRICT": self.district, "COMMUNE": self.commune}

    @property
    def at_start(self) -> int:
        """The catalog on 1 January: new ones were not there yet, abolished ones still were."""
        return self.in_force - self.standardized_new + self.abolished


@dataclass(frozen=True)
class DossierTargets:
    opening_backlog: int
    received: int
    resolved_on_time: int
    resolved_overdue: int
    withdrawn: int
    received_online: int
    apology_letters: int

    @property
    def resolved(self) -> int:
        return self.resolved_on_time + self.resolved_overdue

    @property
    def closing_backlog(self) -> int:
        return self.opening_backlog + self.received - self.resolved - self.withdrawn


@dataclass(frozen=True)
class FeedbackTargets:
    about_procedures: int
    out_of_scope: int

    @property
    def received(self) -> int:
        return self.about_procedures + self.out_of_scope


@dataclass(frozen=True)
class Scenario:
    name: str
    year: int
    timezone: str
    procedures: ProcedureTargets
    dossiers: DossierTargets
    feedback: FeedbackTargets
    extra_days_off: tuple[date, ...] = ()
    make_up_working_days: tuple[date, ...] = ()
    #: the --scale the dossier counts were multiplied by (1 for the file as written)
    scale: float = 1.0

    def scaled(self, factor: float) -> Scenario:
        """Every dossier count times ``factor`` (round half up); procedures, feedback as is.

        The derived counts (resolved, closing backlog) follow from the scaled parts, and the
        result is checked like a file: a scale that makes it inconsistent is refused.
        """
        if not (isinstance(factor, int | float) and math.isfinite(factor) and factor > 0):
            raise ScenarioError(self.name, "--scale", f"{factor!r} is not a positive number")
        counts = {
            f.name: scale_count(getattr(self.dossiers, f.name), factor)
            for f in fields(DossierTargets)
        }
        result = replace(self, dossiers=DossierTargets(**counts), scale=self.scale * factor)
        _check_consistency(result, f"{self.name} at --scale {factor:g}")
        return result

    def targets(self) -> dict[str, Any]:
        """The figures the simulated year realizes, in the report's vocabulary."""
        p, d, f = self.procedures, self.dossiers, self.feedback
        return {
            "procedures": {
                "in_force": {**{k.lower(): v for k, v in p.by_level.items()}, "total": p.in_force},
                "online": {
                    "full": p.online_full,
                    "partial": p.online_partial,
                    "total": p.online_full + p.online_partial,
                },
                "published": {
                    "decisions": p.decisions,
                    "standardized_new": p.standardized_new,
                    "amended": p.amended,
                    "replaced": p.replaced,
                    "abolished": p.abolished,
                },
            },
            "dossiers": {
                **{f.name: getattr(d, f.name) for f in fields(DossierTargets)},
                "resolved": d.resolved,
                "closing_backlog": d.closing_backlog,
            },
            "feedback": {
                "received": f.received,
                "about_procedures": f.about_procedures,
                "out_of_scope": f.out_of_scope,
            },
        }


def scale_count(count: int, factor: float) -> int:
    """``count * factor`` rounded half up, exactly (Decimal, not binary floating point)."""
    product = Decimal(count) * Decimal(str(factor))
    return int(product.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def load_scenario(path: Path | str) -> Scenario:
    """Read and check a scenario file."""
    path = Path(path)
    source = str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(source, "file", f"cannot be read ({exc.strerror or exc})") from exc
    if len(raw) > _MAX_BYTES:
        raise ScenarioError(source, "file", f"is larger than {_MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(source, "file", f"is not UTF-8 (byte {exc.start})") from exc
    return parse_scenario(text, source=source)


def parse_scenario(text: str, *, source: str = "<text>") -> Scenario:
    """Check a scenario given as JSON text."""
    try:
        document = json.loads(text, parse_constant=_no_constant, parse_float=_no_float)
    except RecursionError as exc:
        raise ScenarioError(source, "file", "is nested too deeply to be a scenario") from exc
    except json.JSONDecodeError as exc:
        raise ScenarioError(
            source, "file", f"is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except ValueError as exc:  # from the parse hooks, or a number too long to convert
        raise ScenarioError(source, "file", str(exc)) from exc
    reader = _Reader(source)
    scenario = reader.scenario(document)
    _check_consistency(scenario, source)
    return scenario


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a count")


def _no_float(text: str) -> Any:
    raise ValueError(f"{text} is not a whole number (counts are integers)")


class _Reader:
    """Walks the document; every error names the dotted path of the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field: str, problem: str) -> ScenarioError:
        return ScenarioError(self.source, field, problem)

    def object(
        self, value: Any, field: str, keys: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(field or "file", f"must be a JSON object, not {_kind(value)}")
        missing = [k for k in keys if k not in value]
        if missing:
            raise self.fail(_join(field, missing[0]), "is missing")
        unknown = sorted(set(value) - set(keys) - set(optional))
        if unknown:
            raise self.fail(_join(field, unknown[0]), "is not a scenario field")
        return value

    def count(self, value: Any, field: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, f"must be a whole number, not {_kind(value)}")
        if value < 0:
            raise self.fail(field, f"{value} is negative")
        if value > _MAX_COUNT:
            raise self.fail(field, f"{value} is more than {_MAX_COUNT}")
        return value

    def counts(self, value: Any, field: str, keys: tuple[str, ...]) -> dict[str, int]:
        block = self.object(value, field, keys)
        return {key: self.count(block[key], _join(field, key)) for key in keys}

    def text(self, value: Any, field: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, f"must be a non-empty string, not {_kind(value)}")
        return value

    def days(self, value: Any, field: str, year: int) -> tuple[date, ...]:
        if not isinstance(value, list) or len(value) > _MAX_DAYS_LISTED:
            raise self.fail(field, f"must be a list of at most {_MAX_DAYS_LISTED} dates")
        days = []
        for i, item in enumerate(value):
            try:
                day = date.fromisoformat(item) if isinstance(item, str) else None
            except ValueError:
                day = None
            if day is None:
                raise self.fail(f"{field}[{i}]", f"{item!r} is not a date like {year}-01-02")
            if day.year not in (year - 1, year, year + 1):
                raise self.fail(f"{field}[{i}]", f"{day} is not near the scenario's year {year}")
            days.append(day)
        return tuple(sorted(set(days)))

    def scenario(self, document: Any) -> Scenario:
        top = self.object(
            document,
            "",
            ("name", "year", "timezone", "procedures", "dossiers", "feedback"),
            optional=("calendar",),
        )
        name = self.text(top["name"], "name")
        year = self.count(top["year"], "year")
        if not 2000 <= year <= 2100:
            raise self.fail("year", f"{year} is not a year between 2000 and 2100")
        timezone = self.text(top["timezone"], "timezone")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise self.fail("timezone", f"{timezone!r} is not an IANA time zone") from exc
        if timezone != HUB_TIMEZONE:
            # the hub classifies on-time by Ho Chi Minh City's local dates and calendar
            raise self.fail(
                "timezone", f"{timezone!r}: the hub's working calendar is {HUB_TIMEZONE}"
            )
        procedures = self.object(
            top["procedures"], "procedures", ("in_force", "online", "published")
        )
        in_force = self.counts(
            procedures["in_force"], "procedures.in_force", ("province", "district", "commune")
        )
        online = self.counts(procedures["online"], "procedures.online", ("full", "partial"))
        published = self.counts(
            procedures["published"],
            "procedures.published",
            ("decisions", "standardized_new", "amended", "replaced", "abolished"),
        )
        dossiers = self.counts(
            top["dossiers"], "dossiers", tuple(f.name for f in fields(DossierTargets))
        )
        feedback = self.counts(top["feedback"], "feedback", ("about_procedures", "out_of_scope"))
        extra_off: tuple[date, ...] = ()
        make_up: tuple[date, ...] = ()
        if "calendar" in top:
            calendar = self.object(
                top["calendar"], "calendar", (), optional=("extra_days_off", "make_up_working_days")
            )
            extra_off = self.days(
                calendar.get("extra_days_off", []), "calendar.extra_days_off", year
            )
            make_up = self.days(
                calendar.get("make_up_working_days", []), "calendar.make_up_working_days", year
            )
            both = sorted(set(extra_off) & set(make_up))
            if both:
                raise self.fail("calendar.make_up_working_days", f"{both[0]} is also a day off")
        return Scenario(
            name=name,
            year=year,
            timezone=timezone,
            procedures=ProcedureTargets(
                **in_force,
                online_full=online["full"],
                online_partial=online["partial"],
                **published,
            ),
            dossiers=DossierTargets(**dossiers),
            feedback=FeedbackTargets(**feedback),
            extra_days_off=extra_off,
            make_up_working_days=make_up,
        )


def _check_consistency(scenario: Scenario, source: str) -> None:
    """The relations between counts that a year of events can realize."""
    p, d = scenario.procedures, scenario.dossiers

    def fail(field: str, problem: str) -> ScenarioError:
        return ScenarioError(source, field, problem)

    online = p.online_full + p.online_partial
    if online > p.in_force:
        raise fail(
            "procedures.online",
            f"full + partial = {online} is more than the {p.in_force} procedures in force "
            "(online services are a subset of them)",
        )
    if p.standardized_new > p.in_force:
        raise fail(
            "procedures.published.standardized_new",
            f"{p.standardized_new} new procedures but only {p.in_force} in force at year end",
        )
    touched = p.standardized_new + p.amended + p.replaced + p.abolished
    if touched and not p.decisions:
        raise fail("procedures.published.decisions", f"is 0 but {touched} procedures were touched")
    if p.decisions > touched:
        raise fail(
            "procedures.published.decisions",
            f"{p.decisions} decisions cannot each publish one of only {touched} procedures",
        )
    # amended and replaced procedures were in force at the start and are not the abolished ones
    untouched_at_start = p.at_start - p.abolished
    if p.amended + p.replaced > untouched_at_start:
        raise fail(
            "procedures.published.amended",
            f"amended + replaced = {p.amended + p.replaced} is more than the "
            f"{untouched_at_start} procedures in force all year that could be changed",
        )
    if (d.opening_backlog or d.received) and p.at_start - p.abolished - p.replaced < 1:
        raise fail(
            "procedures",
            "no procedure is in force all year (at start, not abolished or replaced) for the "
            "dossiers to be filed under",
        )
    if d.received_online > d.received:
        raise fail(
            "dossiers.received_online",
            f"{d.received_online} is more than the {d.received} dossiers received",
        )
    if d.apology_letters > d.resolved_overdue:
        raise fail(
            "dossiers.apology_letters",
            f"{d.apology_letters} is more than the {d.resolved_overdue} dossiers resolved overdue "
            "(letters go to dossiers that end up overdue)",
        )
    if d.closing_backlog < 0:
        raise fail(
            "dossiers",
            f"opening_backlog + received - resolved_on_time - resolved_overdue - withdrawn = "
            f"{d.closing_backlog}: more dossiers closed than there were",
        )


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return f"a {type(value).__name__}"
