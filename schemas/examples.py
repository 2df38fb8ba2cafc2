"""One realistic, valid example per event type, for tests and for smoke runs against a broker.

The story: a citizen asks the Department of Justice (Sở Tư pháp, 000.00.15.H29) for a judicial
record certificate in March 2023. Names, codes and numbers are illustrative, not looked up in
the national database; personal data appears only as HMAC pseudonyms made with a throwaway key.
Every call returns fresh objects, so callers may mutate them.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from .catalog import Family, event_types
from .catalog import event_type as _lookup_event_type
from .envelope import HUB_AGENCY_CODE, HUB_PRODUCER_SYSTEM, make_envelope

__all__ = ["HUB_AGENCY_CODE", "example_event", "example_events", "pseudonym"]

_JUSTICE: Final = "000.00.15.H29"
_CITY: Final = "000.00.00.H29"
_DISTRICT_1: Final = "000.00.41.H29"
_POLICE: Final = "000.00.29.G01"
_PROCEDURE: Final = "2.000488"
_DOSSIER: Final = "000.00.15.H29-230315-0042"
_DECISION: Final = "1234/QĐ-UBND"
_EXAMPLE_KEY: Final = b"dossierhub-example-key-not-a-secret"
_ID_NAMESPACE: Final = uuid.UUID("6f1c1d3e-8f0a-4c59-9a5e-2f4b7a1d0c11")
_CITY_SYSTEM: Final = "hcmc-tthc-information-system"

# 09:12:34.567 in Ho Chi Minh City on Wednesday 15 March 2023.
_RECEIVED_AT: Final = datetime(2023, 3, 15, 2, 12, 34, 567000, tzinfo=UTC)


def pseudonym(raw: str, key: bytes = _EXAMPLE_KEY) -> str:
    """HMAC-SHA-256 hex of ``raw``, the form personal data takes in events."""
    return hmac.new(key, raw.encode("utf-8"), hashlib.sha256).hexdigest()


def _at(days: int, hours: float = 0) -> datetime:
    return _RECEIVED_AT + timedelta(days=days, hours=hours)


def _time(value: int, unit: str = "WORKING_DAY") -> dict[str, Any]:
    return {"value": value, "unit": unit}


def _procedure(**extra: Any) -> dict[str, Any]:
    return {
        "procedure_code": _PROCEDURE,
        "authority_level": "PROVINCE",
        "field_code": "H29-LLTP",
        "processing_time": _time(10),
        "valid_from": date(2023, 4, 1),
        "decision_no": _DECISION,
        **extra,
    }


def _applicant() -> dict[str, Any]:
    return {
        "applicant_id_hash": pseudonym("079190000001"),
        "applicant_name_hash": pseudonym("NGUYỄN VĂN AN"),
        "applicant_phone_hash": pseudonym("+84901234567"),
    }


def _online(level: str) -> dict[str, Any]:
    return {
        "service_code": "2.000488.000.00.15.H29-DVC",
        "procedure_code": _PROCEDURE,
        "level": level,
        "valid_from": date(2023, 4, 1),
    }


def _agency(**extra: Any) -> dict[str, Any]:
    return {
        "agency_code": _JUSTICE,
        "name": "Sở Tư pháp Thành phố Hồ Chí Minh",
        "level": "CITY_DEPARTMENT",
        "parent_code": _CITY,
        "admin_unit_code": "79",
        "valid_from": date(2019, 1, 1),
        "valid_to": None,
        "successor_code": None,
        **extra,
    }


def _outcome_fields() -> dict[str, Any]:
    return {
        "dossier_code": _DOSSIER,
        "due_date": date(2023, 3, 29),
        "resolving_agency_code": _JUSTICE,
        "procedure_code": _PROCEDURE,
        "authority_level": "PROVINCE",
    }


# Each builder returns (emitting agency, occurred_at, body without the envelope).
_Example = tuple[str, datetime, dict[str, Any]]


def _catalog() -> dict[str, Callable[[], _Example]]:
    signed = datetime(2023, 3, 10, 3, 0, tzinfo=UTC)
    return {
        "PublicationDecisionIssued": lambda: (
            _CITY,
            signed,
            {
                "decision_no": _DECISION,
                "signed_date": date(2023, 3, 10),
                "effective_date": date(2023, 4, 1),
                "issuing_authority": "Chủ tịch Ủy ban nhân dân Thành phố",
                "items": [
                    {"procedure_code": _PROCEDURE, "change_type": "AMENDED", "internal": False},
                    {
                        "procedure_code": "1.001193",
                        "change_type": "STANDARDIZED_NEW",
                        "internal": False,
                    },
                    {"procedure_code": "2.000489", "change_type": "ABOLISHED", "internal": False},
                ],
                "legal_basis": ["Nghị định 63/2010/NĐ-CP", "Thông tư 02/2017/TT-VPCP"],
            },
        ),
        "ProcedurePublished": lambda: (
            _CITY,
            signed,
            _procedure(
                procedure_code="1.001193",
                name="Thủ tục đăng ký khai sinh",
                authority_level="COMMUNE",
                processing_time=_time(0, "SAME_DAY"),
                internal=False,
                local_code="1.001193.000.00.00.H29",
                requires_paper_result=True,
                fee_bearing=False,
            ),
        ),
        "ProcedureAmended": lambda: (
            _CITY,
            signed,
            _procedure(
                name="Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam",
                changed_components=["processing_time", "fees"],
                internal=False,
            ),
        ),
        "ProcedureReplaced": lambda: (
            _CITY,
            signed,
            _procedure(procedure_code="2.000490", replaced_by_code=_PROCEDURE),
        ),
        "ProcedureAbolished": lambda: (
            _CITY,
            signed,
            _procedure(procedure_code="2.000489", csdlqg_record_no="CSDLQG-2.000489"),
        ),
        "OnlineServiceOffered": lambda: (
            _JUSTICE,
            signed,
            {
                **_online("FULL"),
                "providing_agency_code": _JUSTICE,
                "online_payment_integrated": True,
            },
        ),
        "OnlineServiceLevelChanged": lambda: (
            _JUSTICE,
            signed,
            {**_online("PARTIAL"), "previous_level": "FULL"},
        ),
        "OnlineServiceWithdrawn": lambda: (_JUSTICE, signed, _online("PARTIAL")),
    }


def _dossier() -> dict[str, Callable[[], _Example]]:
    return {
        "DossierSubmitted": lambda: (
            _JUSTICE,
            _at(-1),
            {
                "procedure_code": _PROCEDURE,
                "service_code": "2.000488.000.00.15.H29-DVC",
                "channel": "ONLINE",
                "submitted_at": _at(-1),
                **_applicant(),
                "applicant_type": "CITIZEN",
                "vneid_authenticated": True,
                "submitted_via_national_portal": False,
            },
        ),
        "DossierReceived": lambda: (
            _JUSTICE,
            _RECEIVED_AT,
            {
                "procedure_code": _PROCEDURE,
                "channel": "ONLINE",
                "online_level": "FULL",
                "receiving_agency_code": _JUSTICE,
                "resolving_agency_code": _JUSTICE,
                "processing_time": _time(10),
                "received_at": _RECEIVED_AT,
                "appointment_date": date(2023, 3, 29),
                "receipt_no": "GTN-2023-0042",
                "service_code": "2.000488.000.00.15.H29-DVC",
                **_applicant(),
                "carried_over": False,
                "digitized_at_reception": True,
            },
        ),
        "DossierReceptionRefused": lambda: (
            _JUSTICE,
            _at(0, 1),
            {
                "refused_at": _at(0, 1),
                "procedure_code": _PROCEDURE,
                "reason_code": "KHONG_DUNG_THAM_QUYEN",
                "reason_text": "Hồ sơ không thuộc thẩm quyền tiếp nhận",
            },
        ),
        "DossierSupplementRequested": lambda: (
            _JUSTICE,
            _at(1),
            {
                "requested_at": _at(1),
                "sequence_no": 1,
                "stage": "APPRAISAL",
                "requesting_agency_code": _JUSTICE,
                "missing_items": ["Bản sao giấy khai sinh"],
            },
        ),
        "DossierSupplemented": lambda: (
            _JUSTICE,
            _at(2),
            {"supplemented_at": _at(2), "sequence_no": 1, "new_appointment_date": None},
        ),
        "DossierAssigned": lambda: (
            _JUSTICE,
            _at(0, 2),
            {
                "assigned_at": _at(0, 2),
                "step_no": 1,
                "from_unit": "Bộ phận Một cửa",
                "to_unit": "Phòng Lý lịch tư pháp",
                "handler_id_hash": pseudonym("can-bo-0815"),
                "step_due_at": _at(5),
            },
        ),
        "DossierStepCompleted": lambda: (
            _JUSTICE,
            _at(4),
            {
                "completed_at": _at(4),
                "step_no": 1,
                "step_name": "Thẩm định",
                "unit": "Phòng Lý lịch tư pháp",
                "handler_id_hash": pseudonym("can-bo-0815"),
                "step_due_at": _at(5),
            },
        ),
        "DossierTransferred": lambda: (
            _JUSTICE,
            _at(4, 1),
            {
                "transferred_at": _at(4, 1),
                "to_agency_code": _POLICE,
                "linkage_type": "VERTICAL",
                "linked_procedure_code": None,
                "allotted_time": _time(5),
                "due_date": date(2023, 3, 27),
            },
        ),
        "InterAgencyResultReceived": lambda: (
            _JUSTICE,
            _at(9),
            {"received_at": _at(9), "from_agency_code": _POLICE, "outcome": "APPROVED"},
        ),
        "FinancialObligationRequested": lambda: (
            _JUSTICE,
            _at(0, 0.5),
            {
                "requested_at": _at(0, 0.5),
                "fees": [
                    {"fee_type": "FEE", "amount_vnd": 200_000, "description": "Phí cấp phiếu LLTP"},
                    {"fee_type": "OTHER", "amount_vnd": 5_000, "description": "Phiếu thứ 3 trở đi"},
                ],
                "collection_stage": "AT_RECEPTION",
            },
        ),
        "PaymentCompleted": lambda: (
            _JUSTICE,
            _at(0, 0.75),
            {
                "paid_at": _at(0, 0.75),
                "amount_vnd": 205_000,
                "payment_channel": "NATIONAL_PORTAL",
                "e_receipt_no": "BL-2023-000123",
            },
        ),
        "DossierResolved": lambda: (
            _JUSTICE,
            _at(12),
            {
                "resolved_at": _at(12),
                "outcome": "APPROVED",
                "refusal_reason": None,
                "result_docs": [
                    {
                        "result_code": "KQ-LLTP",
                        "doc_no": "LLTP-2023-0042",
                        "signed_at": _at(12),
                        "electronic": True,
                        "digitally_signed": True,
                    }
                ],
            },
        ),
        "ResultReturned": lambda: (
            _JUSTICE,
            _at(13),
            {
                "returned_at": _at(13),
                "return_channel": "POSTAL",
                "pushed_to_citizen_data_store": True,
            },
        ),
        "WithdrawalRequested": lambda: (
            _JUSTICE,
            _at(3),
            {"requested_at": _at(3), "reason_text": None},
        ),
        "DossierStopped": lambda: (
            _JUSTICE,
            _at(3, 2),
            {"stopped_at": _at(3, 2), "reason": "WITHDRAWN", "reason_text": None},
        ),
        "AppointmentChanged": lambda: (
            _JUSTICE,
            _at(13),
            {
                "changed_at": _at(13),
                "previous_appointment_date": date(2023, 3, 29),
                "new_appointment_date": date(2023, 4, 3),
                "reason_code": "CHO_KET_QUA_LIEN_THONG",
                "cause_agency_code": _POLICE,
                "apology_id": "PXL-2023-0007",
            },
        ),
        "ApologyIssued": lambda: (
            _JUSTICE,
            _at(13),
            {
                "apology_id": "PXL-2023-0007",
                "issued_at": _at(13),
                "responsible_agency_code": _JUSTICE,
                "reason_text": "Chờ kết quả xác minh liên thông",
                "previous_appointment_date": date(2023, 3, 29),
                "new_appointment_date": date(2023, 4, 3),
                "exemption_reason": None,
                "delivery_channels": ["SMS", "EMAIL"],
                "sequence_no": 1,
            },
        ),
        "ServiceRated": lambda: (
            _JUSTICE,
            _at(14),
            {"rated_at": _at(14), "satisfied": True, "score": 5, "scale_max": 5},
        ),
    }


def _feedback() -> dict[str, Callable[[], _Example]]:
    fid = {"feedback_id": "PAKN-2023-000815"}
    return {
        "FeedbackReceived": lambda: (
            _CITY,
            _at(20),
            {
                **fid,
                "received_at": _at(20),
                "channel": "PORTAL",
                "kind": "PHAN_ANH",
                "submitter_type": "INDIVIDUAL",
                "submitter_id_hash": pseudonym("079190000001"),
                "related_procedure_code": _PROCEDURE,
                "related_dossier_code": _DOSSIER,
                "forwarded_from": None,
            },
        ),
        "FeedbackClassified": lambda: (
            _CITY,
            _at(21),
            {
                **fid,
                "classified_at": _at(21),
                "scope": "IN_SCOPE",
                "category": 1,
                "topic": "OFFICIAL_BEHAVIOUR",
            },
        ),
        "FeedbackRejected": lambda: (
            _CITY,
            _at(21),
            {**fid, "rejected_at": _at(21), "reason_code": "THIEU_THONG_TIN", "reason_text": None},
        ),
        "FeedbackForwarded": lambda: (
            _CITY,
            _at(22),
            {
                **fid,
                "forwarded_at": _at(22),
                "to_agency_code": _JUSTICE,
                "reason_text": "Thuộc thẩm quyền Sở Tư pháp",
            },
        ),
        "FeedbackResolved": lambda: (
            _JUSTICE,
            _at(30),
            {**fid, "resolved_at": _at(30), "response_doc_no": "456/STP-HCTP"},
        ),
        "FeedbackPublished": lambda: (
            _CITY,
            _at(31),
            {**fid, "published_at": _at(31), "publication_url": "https://example.invalid/pakn/815"},
        ),
    }


def _reference() -> dict[str, Callable[[], _Example]]:
    at = datetime(2022, 12, 30, 3, 0, tzinfo=UTC)
    return {
        "AgencyRegistered": lambda: (_CITY, at, _agency()),
        "AgencyChanged": lambda: (
            _CITY,
            at,
            _agency(
                agency_code=_DISTRICT_1,
                name="Ủy ban nhân dân Quận 1",
                level="DISTRICT_COMMITTEE",
                admin_unit_code="760",
                valid_from=date(2019, 1, 1),
                valid_to=date(2025, 6, 30),
            ),
        ),
        "AdministrativeUnitChanged": lambda: (
            _CITY,
            at,
            {
                "unit_code": "769",
                "name": "Thành phố Thủ Đức",
                "type": "PROVINCIAL_CITY",
                "parent_code": "79",
                "legal_basis": "Nghị quyết 1111/NQ-UBTVQH14",
                "valid_from": date(2021, 1, 1),
                "valid_to": date(2025, 6, 30),
                "merged_from": ["762", "763"],
            },
        ),
        "WorkingCalendarPublished": lambda: (
            _CITY,
            at,
            {
                "year": 2023,
                "holidays": [
                    date(2023, 1, 2),
                    *(date(2023, 1, day) for day in (20, 23, 24, 25, 26)),
                    date(2023, 5, 1),
                    date(2023, 5, 2),
                    date(2023, 5, 3),
                    date(2023, 9, 1),
                    date(2023, 9, 4),
                ],
                "make_up_working_days": [date(2023, 1, 14)],
                "source": "Thông báo của Bộ LĐTBXH về lịch nghỉ lễ, Tết năm 2023",
            },
        ),
    }


def _derived() -> dict[str, Callable[[], _Example]]:
    return {
        "DossierOutcome": lambda: (
            HUB_AGENCY_CODE,
            _at(12),
            {
                "dossier_code": _DOSSIER,
                "outcome_class": "ON_TIME",
                "received_at": _RECEIVED_AT,
                "resolved_at": _at(12),
                "due_date": date(2023, 3, 29),
                "days_taken": 8,
                "days_late": 0,
                "receiving_agency_code": _JUSTICE,
                "resolving_agency_code": _JUSTICE,
                "procedure_code": _PROCEDURE,
                "authority_level": "PROVINCE",
                "channel": "ONLINE",
                "apology_issued": False,
                "resolution": "APPROVED",
            },
        ),
        "DossierBecameOverdue": lambda: (
            HUB_AGENCY_CODE,
            _at(15),
            {**_outcome_fields(), "detected_at": _at(15)},
        ),
        "DossierDueSoon": lambda: (
            HUB_AGENCY_CODE,
            _at(13),
            {**_outcome_fields(), "detected_at": _at(13), "working_days_left": 1},
        ),
        "AggregateUpdated": lambda: (
            HUB_AGENCY_CODE,
            datetime(2023, 4, 1, 0, 5, tzinfo=UTC),
            {
                "window_kind": "MONTH",
                "window_start": date(2023, 3, 1),
                "window_end": date(2023, 4, 1),
                "dimension_kind": "AGENCY",
                "dimension_key": _JUSTICE,
                "counts": {
                    "received": 18_240,
                    "received_online": 15_102,
                    "carried_over": 1_311,
                    "resolved": 17_950,
                    "resolved_early": 9_004,
                    "resolved_on_time": 8_921,
                    "resolved_overdue": 25,
                    "in_progress": 1_601,
                    "in_progress_overdue": 3,
                    "apologies_issued": 25,
                    "ended_unresolved": 7,
                },
                "source_partition": 2,
                "as_of_offset": 41_207,
            },
        ),
    }


_BUILDERS: Final = {**_catalog(), **_dossier(), **_feedback(), **_reference(), **_derived()}


def example_event(event_type_name: str, *, event_id: uuid.UUID | None = None) -> dict[str, Any]:
    """A valid example of ``event_type_name``; the id is stable per type unless given."""
    known = _lookup_event_type(event_type_name)
    agency, occurred_at, body = _BUILDERS[known.name]()
    body_key = {"dossier_code": _DOSSIER} if known.family is Family.DOSSIER else {}
    envelope = make_envelope(
        known.name,
        agency_code=agency,
        occurred_at=occurred_at,
        event_id=event_id if event_id is not None else uuid.uuid5(_ID_NAMESPACE, known.name),
        recorded_at=occurred_at + timedelta(seconds=2),
        producer_system=HUB_PRODUCER_SYSTEM if known.family is Family.DERIVED else _CITY_SYSTEM,
        correlation_id="example-2023-03",
    )
    return {"envelope": envelope, **body_key, **body}


def example_events() -> dict[str, dict[str, Any]]:
    """One example per event type, by name, in contract order."""
    return {known.name: example_event(known.name) for known in event_types()}
