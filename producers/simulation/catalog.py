"""The procedure catalog of a simulated year: who is in force on 1 January, what the year's
publication decisions change, and which procedures offer online services by 31 December.

The plan is built backwards from the scenario's end-of-year targets, so they hold by
construction: end = start - abolished - replaced + replacements + new, per authority level,
and the online set is drawn from the procedures in force at the end.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Final

from producers.scenario import ProcedureTargets, ScenarioError
from stream_processors.dossier import HCMC_TZ, WorkingCalendar

from .days import working_days
from .sampling import apportion, stream

__all__ = ["Catalog", "Fate", "Procedure", "plan_catalog"]

LEVELS: Final = ("PROVINCE", "DISTRICT", "COMMUNE")

# (field code, Vietnamese field name, word in the name of the department that handles it at
# province level, typical processing times in working days; 0 = same day)
_FIELDS: Final[tuple[tuple[str, str, str, tuple[int, ...]], ...]] = (
    ("H29-HT", "Hộ tịch", "Tư pháp", (0, 1, 3, 5)),
    ("H29-CT", "Chứng thực", "Tư pháp", (0, 0, 1)),
    ("H29-LLTP", "Lý lịch tư pháp", "Tư pháp", (10,)),
    ("H29-DD", "Đất đai", "Tài nguyên", (10, 15, 20, 30)),
    ("H29-MT", "Môi trường", "Tài nguyên", (15, 20, 30)),
    ("H29-XD", "Xây dựng", "Xây dựng", (7, 15, 20)),
    ("H29-QHKT", "Quy hoạch - kiến trúc", "Quy hoạch", (15, 20, 25)),
    ("H29-DKKD", "Đăng ký kinh doanh", "Kế hoạch", (3, 5)),
    ("H29-DT", "Đầu tư", "Kế hoạch", (15, 25)),
    ("H29-LD", "Lao động - việc làm", "Lao động", (5, 7, 10)),
    ("H29-BTXH", "Bảo trợ xã hội", "Lao động", (7, 10, 15)),
    ("H29-YT", "Khám bệnh, chữa bệnh", "Y tế", (10, 20, 30)),
    ("H29-DUOC", "Dược phẩm", "Y tế", (15, 30)),
    ("H29-GD", "Giáo dục và đào tạo", "Giáo dục", (5, 10, 15)),
    ("H29-GTVT", "Đường bộ", "Giao thông", (3, 5, 10)),
    ("H29-CTH", "Thương mại", "Công Thương", (5, 7, 15)),
    ("H29-NV", "Tổ chức - công vụ", "Nội vụ", (10, 15)),
    ("H29-TTTT", "Báo chí - xuất bản", "Thông tin", (5, 10)),
    ("H29-KHCN", "Khoa học và công nghệ", "Khoa học", (10, 15)),
    ("H29-VH", "Văn hóa - thể thao", "Văn hóa", (5, 7)),
    ("H29-TC", "Tài chính - ngân sách", "Tài chính", (5, 10)),
    ("H29-NN", "Nông nghiệp", "Nông nghiệp", (5, 10, 15)),
    ("H29-DL", "Du lịch", "Du lịch", (5, 10)),
    ("H29-NGV", "Ngoại vụ", "Ngoại vụ", (5, 7)),
    ("H29-ATTP", "An toàn thực phẩm", "thực phẩm", (7, 15)),
)
# District and ward committees handle few fields; most of their dossiers are civil status,
# certification, land, building permits and household businesses.
_LOCAL_FIELDS: Final = ("H29-HT", "H29-CT", "H29-DD", "H29-XD", "H29-DKKD", "H29-BTXH", "H29-LD")
_CHANGED_COMPONENTS: Final = (
    "processing_time",
    "dossier_components",
    "fees",
    "forms",
    "legal_basis",
)
_LEGAL_BASIS: Final = ("Nghị định 63/2010/NĐ-CP", "Thông tư 02/2017/TT-VPCP")
# The last decision is signed early enough that every change takes effect within the year.
_LAST_SIGNING: Final = (12, 8)
_UPGRADED_SHARE: Final = 0.15  # online services moved from partial to full during the year


class Fate(StrEnum):
    """What happens to a procedure during the year."""

    STABLE = "stable"  # in force all year, untouched
    AMENDED = "amended"  # in force all year, amended by a decision
    REPLACED = "replaced"  # in force at the start, replaced by a new code
    ABOLISHED = "abolished"  # in force at the start, abolished
    NEW = "new"  # standardized and published during the year
    REPLACEMENT = "replacement"  # the new code of a replaced procedure


@dataclass(frozen=True)
class Procedure:
    code: str
    name: str
    level: str
    field_code: str
    #: working days to the appointment date; 0 = returned the same day
    working_days: int
    fate: Fate
    #: the department that resolves it (province level); None for district and commune levels
    department: str | None
    #: FULL / PARTIAL online service at the end of the year, None without one
    online_at_end: str | None = None

    @property
    def in_force_all_year(self) -> bool:
        return self.fate in (Fate.STABLE, Fate.AMENDED)

    @property
    def processing_time(self) -> dict[str, Any]:
        if self.working_days == 0:
            return {"value": 0, "unit": "SAME_DAY"}
        return {"value": self.working_days, "unit": "WORKING_DAY"}

    @property
    def service_code(self) -> str:
        return f"{self.code}-DVC"


@dataclass(frozen=True)
class CatalogEvent:
    at: datetime
    event_type: str
    payload: dict[str, Any]


@dataclass
class Catalog:
    procedures: list[Procedure]
    events: list[CatalogEvent] = field(default_factory=list)

    def usable(self, level: str) -> list[Procedure]:
        """Procedures of ``level`` a dossier can be filed under all year."""
        return [p for p in self.procedures if p.level == level and p.in_force_all_year]


def plan_catalog(
    targets: ProcedureTargets,
    *,
    year: int,
    seed: int,
    departments: Sequence[tuple[str, str]],
    calendar: WorkingCalendar,
) -> Catalog:
    """The catalog for ``targets``; ``departments`` are (agency code, name) of city departments."""
    rng = stream(seed, "catalog")
    end = targets.by_level
    new = _split(targets.standardized_new, end, "procedures.published.standardized_new")
    abolished = _split(targets.abolished, end, "procedures.published.abolished")
    start = {lv: end[lv] - new[lv] + abolished[lv] for lv in LEVELS}
    changeable = {lv: start[lv] - abolished[lv] for lv in LEVELS}
    replaced = _split(targets.replaced, changeable, "procedures.published.replaced")
    amended = _split(targets.amended, changeable, "procedures.published.amended")
    for lv in LEVELS:
        if replaced[lv] + amended[lv] > changeable[lv]:
            raise ScenarioError(
                "scenario",
                "procedures.published",
                f"{lv.lower()} level: {replaced[lv] + amended[lv]} amended or replaced of "
                f"{changeable[lv]} that stay in force",
            )
    total = sum(start.values()) + targets.standardized_new + targets.replaced
    codes = iter(_codes(total, rng))
    departments_by_word = _departments_for_fields(departments)
    procedures: list[Procedure] = []
    for lv in LEVELS:
        fates = (
            [Fate.ABOLISHED] * abolished[lv]
            + [Fate.REPLACED] * replaced[lv]
            + [Fate.AMENDED] * amended[lv]
            + [Fate.STABLE] * (changeable[lv] - replaced[lv] - amended[lv])
            + [Fate.NEW] * new[lv]
            + [Fate.REPLACEMENT] * replaced[lv]
        )
        rng.shuffle(fates)
        procedures.extend(
            _procedure(next(codes), lv, fate, rng, departments_by_word) for fate in fates
        )
    procedures = _with_online_services(procedures, targets, rng)
    catalog = Catalog(procedures)
    events = _events(catalog, targets, year=year, rng=rng, calendar=calendar)
    catalog.events = sorted(events, key=lambda e: e.at)  # stable: a decision before its items
    return catalog


def _split(total: int, weights: dict[str, int], name: str) -> dict[str, int]:
    if total == 0:
        return dict.fromkeys(LEVELS, 0)
    if sum(weights.values()) <= 0:
        raise ScenarioError("scenario", name, f"{total} procedures but none to take them from")
    return apportion(total, {lv: float(weights[lv]) for lv in LEVELS})


def _codes(n: int, rng: random.Random) -> list[str]:
    """``n`` distinct national procedure codes (``d.dddddd``)."""
    numbers = rng.sample(range(2 * 20_000), n)
    return [f"{1 + m // 20_000}.{m % 20_000 + 100:06d}" for m in numbers]


def _departments_for_fields(departments: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The department code handling each field at province level (by name, else in turn)."""
    if not departments:
        raise ScenarioError("directory", "agencies", "has no city department")
    chosen: dict[str, str] = {}
    for i, (field_code, _, word, _) in enumerate(_FIELDS):
        named = [code for code, name in departments if word.casefold() in name.casefold()]
        chosen[field_code] = named[0] if named else departments[i % len(departments)][0]
    return chosen


def _procedure(
    code: str, level: str, fate: Fate, rng: random.Random, departments: dict[str, str]
) -> Procedure:
    if level == "PROVINCE":
        field_code, field_name, _, times = rng.choice(_FIELDS)
    else:
        field_code = rng.choice(_LOCAL_FIELDS)
        _, field_name, _, times = next(f for f in _FIELDS if f[0] == field_code)
        # the same kind of procedure is quicker at a ward than at a department
        times = tuple(min(t, 15 if level == "DISTRICT" else 5) for t in times)
    return Procedure(
        code=code,
        name=f"Thủ tục {field_name.lower()} {code}",
        level=level,
        field_code=field_code,
        working_days=rng.choice(times),
        fate=fate,
        department=departments[field_code] if level == "PROVINCE" else None,
    )


def _with_online_services(
    procedures: list[Procedure], targets: ProcedureTargets, rng: random.Random
) -> list[Procedure]:
    at_end = [i for i, p in enumerate(procedures) if p.fate not in (Fate.ABOLISHED, Fate.REPLACED)]
    online = rng.sample(at_end, targets.online_full + targets.online_partial)
    levels = ["FULL"] * targets.online_full + ["PARTIAL"] * targets.online_partial
    result = list(procedures)
    for i, level in zip(online, levels, strict=True):
        result[i] = replace(result[i], online_at_end=level)
    return result


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), HCMC_TZ)


def _events(
    catalog: Catalog,
    targets: ProcedureTargets,
    *,
    year: int,
    rng: random.Random,
    calendar: WorkingCalendar,
) -> Iterator[CatalogEvent]:
    """Baseline decisions of the previous year, then the year's decisions in date order."""
    before = [p for p in catalog.procedures if p.fate not in (Fate.NEW, Fate.REPLACEMENT)]
    baseline_signed = date(year - 1, 11, 15)
    baseline_from = date(year - 1, 12, 1)
    upgraded = {
        p.code
        for p in before
        if p.online_at_end == "FULL" and p.in_force_all_year and rng.random() < _UPGRADED_SHARE
    }
    for lv in LEVELS:
        items = [p for p in before if p.level == lv]
        if not items:
            continue
        decision_no = f"{_LEVEL_NO[lv]}/QĐ-UBND-{year - 1}"
        at = _local(baseline_signed, 9)
        yield CatalogEvent(
            at,
            "PublicationDecisionIssued",
            _decision(
                decision_no,
                baseline_signed,
                baseline_from,
                [(p.code, "STANDARDIZED_NEW") for p in items],
            ),
        )
        for p in items:
            yield CatalogEvent(at, "ProcedurePublished", _published(p, baseline_from, decision_no))
            if p.online_at_end and p.in_force_all_year:
                level = "PARTIAL" if p.code in upgraded else p.online_at_end
                yield CatalogEvent(at, "OnlineServiceOffered", _offered(p, level, baseline_from))
    # the year's decisions: every decision publishes at least one change
    changes = [(p, "STANDARDIZED_NEW") for p in catalog.procedures if p.fate is Fate.NEW]
    changes += [(p, "AMENDED") for p in catalog.procedures if p.fate is Fate.AMENDED]
    changes += [(p, "ABOLISHED") for p in catalog.procedures if p.fate is Fate.ABOLISHED]
    old = [p for p in catalog.procedures if p.fate is Fate.REPLACED]
    replacements = [p for p in catalog.procedures if p.fate is Fate.REPLACEMENT]
    pairs = _pairs(old, replacements)
    changes += [(new, "REPLACED") for new in replacements]
    rng.shuffle(changes)
    sizes = _chunk_sizes(len(changes), targets.decisions, rng)
    signing_days = _signing_days(targets.decisions, year, rng, calendar)
    position = 0
    for number, (size, signed) in enumerate(zip(sizes, signing_days, strict=True), start=1):
        chunk = changes[position : position + size]
        position += size
        effective = min(signed + timedelta(days=rng.randint(5, 15)), date(year, 12, 31))
        decision_no = f"{number * 37 % 4000 + 100}/QĐ-UBND"
        at = _local(signed, 10)
        yield CatalogEvent(
            at,
            "PublicationDecisionIssued",
            _decision(decision_no, signed, effective, [(p.code, change) for p, change in chunk]),
        )
        for p, change in chunk:
            yield from _change_events(
                p, change=change, at=at, effective=effective, decision_no=decision_no, pairs=pairs
            )
    for p in sorted((p for p in before if p.code in upgraded), key=lambda p: p.code):
        day = calendar.add_working_days(date(year, 1, 2), rng.randint(5, 200))
        yield CatalogEvent(
            _local(day, 14),
            "OnlineServiceLevelChanged",
            {
                "service_code": p.service_code,
                "procedure_code": p.code,
                "level": "FULL",
                "valid_from": day,
                "previous_level": "PARTIAL",
            },
        )


_LEVEL_NO: Final = {"PROVINCE": 3001, "DISTRICT": 3002, "COMMUNE": 3003}


def _pairs(old: list[Procedure], replacements: list[Procedure]) -> dict[str, Procedure]:
    """New code → the procedure it replaces, pairing within each level."""
    pairs: dict[str, Procedure] = {}
    for lv in LEVELS:
        olds = [p for p in old if p.level == lv]
        news = [p for p in replacements if p.level == lv]
        pairs.update({new.code: o for new, o in zip(news, olds, strict=True)})
    return pairs


def _change_events(
    p: Procedure,
    *,
    change: str,
    at: datetime,
    effective: date,
    decision_no: str,
    pairs: dict[str, Procedure],
) -> Iterator[CatalogEvent]:
    if change == "STANDARDIZED_NEW":
        yield CatalogEvent(at, "ProcedurePublished", _published(p, effective, decision_no))
    elif change == "AMENDED":
        yield CatalogEvent(
            at,
            "ProcedureAmended",
            {
                **_common(p, effective, decision_no),
                "name": p.name,
                "changed_components": [_CHANGED_COMPONENTS[zlib.crc32(p.code.encode()) % 5]],
                "internal": False,
            },
        )
    elif change == "ABOLISHED":
        yield CatalogEvent(
            at,
            "ProcedureAbolished",
            {
                **_common(p, effective, decision_no),
                "csdlqg_record_no": None,
            },
        )
    else:  # REPLACED: the old code leaves, its replacement is published
        old = pairs[p.code]
        yield CatalogEvent(
            at,
            "ProcedureReplaced",
            {
                **_common(old, effective, decision_no),
                "replaced_by_code": p.code,
            },
        )
        yield CatalogEvent(at, "ProcedurePublished", _published(p, effective, decision_no))
    if change in ("STANDARDIZED_NEW", "REPLACED") and p.online_at_end:
        yield CatalogEvent(at, "OnlineServiceOffered", _offered(p, p.online_at_end, effective))


def _common(p: Procedure, valid_from: date, decision_no: str) -> dict[str, Any]:
    return {
        "procedure_code": p.code,
        "authority_level": p.level,
        "field_code": p.field_code,
        "processing_time": p.processing_time,
        "valid_from": valid_from,
        "decision_no": decision_no,
    }


def _published(p: Procedure, valid_from: date, decision_no: str) -> dict[str, Any]:
    return {
        **_common(p, valid_from, decision_no),
        "name": p.name,
        "internal": False,
        "local_code": None,
        "requires_paper_result": p.level != "COMMUNE",
        "fee_bearing": p.field_code in ("H29-DD", "H29-XD", "H29-DKKD", "H29-LLTP"),
    }


def _offered(p: Procedure, level: str, valid_from: date) -> dict[str, Any]:
    return {
        "service_code": p.service_code,
        "procedure_code": p.code,
        "level": level,
        "valid_from": valid_from,
        "providing_agency_code": p.department,
        "online_payment_integrated": level == "FULL",
    }


def _decision(
    decision_no: str, signed: date, effective: date, items: list[tuple[str, str]]
) -> dict[str, Any]:
    return {
        "decision_no": decision_no,
        "signed_date": signed,
        "effective_date": effective,
        "issuing_authority": "Chủ tịch Ủy ban nhân dân Thành phố",
        "items": [{"procedure_code": c, "change_type": t, "internal": False} for c, t in items],
        "legal_basis": list(_LEGAL_BASIS),
    }


def _chunk_sizes(n: int, decisions: int, rng: random.Random) -> list[int]:
    """``n`` changes over ``decisions`` decisions, each at least one, sizes varied."""
    if decisions == 0:
        return []
    extra = apportion(n - decisions, {i: rng.random() + 0.1 for i in range(decisions)})
    return [1 + extra[i] for i in range(decisions)]


def _signing_days(
    decisions: int, year: int, rng: random.Random, calendar: WorkingCalendar
) -> list[date]:
    days = working_days(date(year, 1, 9), date(year, *_LAST_SIGNING), calendar)
    return sorted(rng.choice(days) for _ in range(decisions))
