"""The .avsc files and the event-type catalog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema
from fastavro.schema import load_schema, to_parsing_canonical_form

import schemas
from schemas import Family, catalog, topics
from schemas.dvcqg import DvcqgStatus, dvcqg_status
from schemas.errors import UnknownEventTypeError

AVRO_DIR = Path(schemas.__file__).parent / "avro"
AVSC_FILES = sorted(AVRO_DIR.glob("*.avsc"))
EVENT_TYPES = schemas.event_types()
ALL_NAMES = [t.name for t in EVENT_TYPES]


def _fields(schema: Any, named: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every field of every record reachable from ``schema``, as (record fullname, field)."""
    seen: set[str] = set()
    out: list[tuple[str, dict[str, Any]]] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            if node in named and node not in seen:
                seen.add(node)
                walk(named[node])
        elif isinstance(node, list):
            for branch in node:
                walk(branch)
        elif isinstance(node, dict):
            if node.get("type") == "record":
                seen.add(node["name"])
                for field in node["fields"]:
                    out.append((node["name"], field))
                    walk(field["type"])
            elif node.get("type") == "array":
                walk(node["items"])

    walk(schema)
    return out


def test_there_are_40_event_types_with_unique_names() -> None:
    assert len(ALL_NAMES) == 40
    assert len(set(ALL_NAMES)) == 40


@pytest.mark.parametrize("path", AVSC_FILES, ids=lambda p: p.name)
def test_every_avsc_loads_and_is_named_after_its_fullname(path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert path.name == f"{raw['namespace']}.{raw['name']}.avsc"
    assert raw["namespace"].startswith(schemas.NAMESPACE)
    parsed = load_schema(str(path))
    assert isinstance(parsed, dict)


def test_every_file_is_an_event_or_a_shared_type_some_event_uses() -> None:
    referenced: set[str] = set()
    for known in EVENT_TYPES:
        referenced |= set(known.schema["__named_schemas"])
    file_names = {p.name.removesuffix(".avsc") for p in AVSC_FILES}
    assert {t.fullname for t in EVENT_TYPES} <= file_names
    assert file_names <= referenced


@pytest.mark.parametrize("known", EVENT_TYPES, ids=lambda t: t.name)
def test_event_record_embeds_the_envelope_first(known: catalog.EventType) -> None:
    fields = known.schema["fields"]
    assert fields[0]["name"] == "envelope"
    assert fields[0]["type"]["name"] == "vn.hcmc.dossierhub.Envelope"
    assert known.fullname == f"vn.hcmc.dossierhub.{known.family.value}.{known.name}"


@pytest.mark.parametrize("known", EVENT_TYPES, ids=lambda t: t.name)
def test_registered_form_is_self_contained_and_equal_to_the_loaded_one(
    known: catalog.EventType,
) -> None:
    text = known.registered_schema
    assert "__fastavro" not in text
    standalone = parse_schema(json.loads(text))  # no named types given: must not need any
    assert to_parsing_canonical_form(standalone) == to_parsing_canonical_form(known.schema)
    assert text == known.registered_schema  # stable string, so the registry sees no new version


@pytest.mark.parametrize("known", EVENT_TYPES, ids=lambda t: t.name)
def test_every_field_has_a_doc_and_every_nullable_field_defaults_to_null(
    known: catalog.EventType,
) -> None:
    for record, field in _fields(known.schema, known.schema["__named_schemas"]):
        assert field.get("doc"), f"{record}.{field['name']} has no doc"
        if isinstance(field["type"], list) and "null" in field["type"]:
            assert field["type"][0] == "null", f"{record}.{field['name']}"
            assert field.get("default", "absent") is None, f"{record}.{field['name']}"


@pytest.mark.parametrize("known", EVENT_TYPES, ids=lambda t: t.name)
def test_personal_data_appears_only_pseudonymized(known: catalog.EventType) -> None:
    for record, field in _fields(known.schema, known.schema["__named_schemas"]):
        name = field["name"]
        if name.endswith("_hash"):
            assert field.get("pii") == "pseudonymized", f"{record}.{name}"
            assert "never the raw value" in field["doc"]
        assert name not in {"citizen_id", "applicant_id", "applicant_name", "applicant_phone"}


def test_envelope_fields_match_the_contract() -> None:
    envelope = schemas.event_type("DossierReceived").schema["fields"][0]["type"]
    by_name = {f["name"]: f for f in envelope["fields"]}
    assert list(by_name) == [
        "event_id",
        "event_type",
        "schema_version",
        "occurred_at",
        "recorded_at",
        "agency_code",
        "producer_system",
        "correlation_id",
        "causation_id",
        "rule_regime",
    ]
    assert by_name["event_id"]["type"] == {"type": "string", "logicalType": "uuid"}
    assert by_name["occurred_at"]["type"]["logicalType"] == "timestamp-millis"
    assert by_name["rule_regime"]["default"] == "ND61_107"
    assert by_name["rule_regime"]["type"]["symbols"] == ["ND61_107", "ND118_2025"]


def test_appointment_date_is_a_local_date() -> None:
    received = schemas.event_type("DossierReceived").schema
    by_name = {f["name"]: f for f in received["fields"]}
    assert by_name["appointment_date"]["type"] == {"type": "int", "logicalType": "date"}
    assert by_name["carried_over"]["default"] is False
    assert "on_time" not in " ".join(by_name)


@pytest.mark.parametrize("known", EVENT_TYPES, ids=lambda t: t.name)
def test_key_fields_are_required_top_level_fields(known: catalog.EventType) -> None:
    fields = {f["name"]: f for f in known.schema["fields"]}
    for key in known.key_fields:
        assert key in fields
        assert not isinstance(fields[key]["type"], list), f"{key} must not be nullable"


def test_keys_and_topics_per_family() -> None:
    expected = {
        Family.CATALOG: topics.CATALOG_EVENTS,
        Family.DOSSIER: topics.DOSSIER_EVENTS,
        Family.FEEDBACK: topics.FEEDBACK_EVENTS,
        Family.REFERENCE: topics.REFERENCE_EVENTS,
    }
    for known in EVENT_TYPES:
        if known.family in expected:
            assert known.topic == expected[known.family], known.name
    assert schemas.event_type("PublicationDecisionIssued").key_fields == ("decision_no",)
    assert schemas.event_type("OnlineServiceOffered").key_fields == ("procedure_code",)
    assert schemas.event_type("WorkingCalendarPublished").key_fields == ("year",)
    assert schemas.event_type("DossierOutcome").topic == topics.DOSSIER_OUTCOMES
    assert schemas.event_type("DossierDueSoon").topic == topics.DOSSIER_ALERTS
    assert schemas.event_type("AggregateUpdated").topic == topics.AGGREGATES
    canonical = {spec.name for spec in topics.canonical_topics(1)}
    assert {t.topic for t in EVENT_TYPES} <= canonical


def test_message_key() -> None:
    received = schemas.example_event("DossierReceived")
    assert schemas.event_type("DossierReceived").message_key(received) == received["dossier_code"]
    calendar = schemas.example_event("WorkingCalendarPublished")
    assert schemas.event_type("WorkingCalendarPublished").message_key(calendar) == "2023"
    aggregate = schemas.example_event("AggregateUpdated")
    key = schemas.event_type("AggregateUpdated").message_key(aggregate)
    assert key == "MONTH|2023-03-01|AGENCY|000.00.15.H29|2"


def test_subject_is_the_record_fullname() -> None:
    assert schemas.subject_for("DossierReceived") == "vn.hcmc.dossierhub.dossier.DossierReceived"
    for known in EVENT_TYPES:
        assert schemas.subject_for(known.name) == known.fullname
        assert schemas.event_type_by_fullname(known.fullname) is known
    assert schemas.COMPATIBILITY == "FULL_TRANSITIVE"


def test_unknown_event_type() -> None:
    with pytest.raises(UnknownEventTypeError) as caught:
        schemas.event_type("DossierLost")
    assert caught.value.name == "DossierLost"
    with pytest.raises(UnknownEventTypeError):
        dvcqg_status("DossierLost")


def test_every_dossier_event_has_an_explicit_dvcqg_decision() -> None:
    expected = {
        "DossierSubmitted": 1,
        "DossierReceived": 2,
        "DossierReceptionRefused": 3,
        "DossierAssigned": 4,
        "DossierStepCompleted": 4,
        "DossierTransferred": 4,
        "InterAgencyResultReceived": 4,
        "DossierSupplemented": 4,
        "DossierSupplementRequested": 5,
        "FinancialObligationRequested": 6,
        "WithdrawalRequested": 7,
        "DossierStopped": 8,
        "DossierResolved": 9,
        "ResultReturned": 10,
        "PaymentCompleted": None,
        "AppointmentChanged": None,
        "ApologyIssued": None,
        "ServiceRated": None,
    }
    dossier_names = {t.name for t in schemas.event_types(Family.DOSSIER)}
    assert dossier_names == set(expected)
    for name, code in expected.items():
        assert dvcqg_status(name) == code, name
    assert dvcqg_status("FeedbackReceived") is None
    assert DvcqgStatus(10).vietnamese == "Đã trả kết quả"
    assert {s for s in DvcqgStatus if s.is_terminal} == {3, 8, 10}


def test_readme_lists_every_event_type_with_its_topic_and_key() -> None:
    readme = (AVRO_DIR.parent / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(" `"): line for line in readme.splitlines() if "| `" in line}
    for known in EVENT_TYPES:
        row = rows.get(known.name)
        assert row is not None, f"{known.name} missing from schemas/README.md"
        assert f"`{known.topic}`" in row, known.name
        assert known.key_fields[0] in row, known.name
        status = dvcqg_status(known.name)
        if status is not None:
            assert f"| {int(status)} {status.vietnamese} |" in row, known.name
