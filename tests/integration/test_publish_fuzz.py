"""``dossierhub publish`` of a file of events drawn from the schemas, against the real broker and
registry: every line arrives and decodes to the event written, and raw applicant identifiers in
the file reach the topic only as their pseudonyms."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Final

import fastavro
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from dossierhub.errors import HubError
from dossierhub.settings import Settings
from dossierhub.stack import Stack
from producers import Pseudonymizer
from schemas import decode, event_types, example_event, inbound_topic, validate_event
from schemas.admin import TopicAdmin
from schemas.topics import inbound_topic_spec
from tests.fuzzing import shaped_events, tried
from tests.helpers import as_json, read_topic, run_cli

KEY: Final = bytes(range(100, 132))
NAMES: Final = [t.name for t in event_types()]
LINES: Final = 40
RAW: Final = {
    "applicant_id": "079190000123",
    "applicant_name": "Trần Thị Mai",
    "applicant_phone": "+84 912 345 678",
}


def _valid(name: str, event: dict[str, Any]) -> bool:
    try:
        validate_event(event, event_type=name)
    except HubError:
        return False
    return True


_drawn = st.sampled_from(NAMES).flatmap(
    lambda name: shaped_events(name).filter(lambda e, n=name: _valid(n, e))
)


@pytest.fixture(scope="module")
def agency(stack: Stack, applied_contract: None) -> str:
    n = uuid.uuid4().int
    code = f"{n % 1000:03d}.{n // 1000 % 100:02d}.{n // 100000 % 100:02d}.F{n // 10**7 % 100:02d}"
    admin = TopicAdmin({"bootstrap.servers": stack.kafka.bootstrap})
    assert all(r.ok for r in admin.apply([inbound_topic_spec(code, 1)]))
    return code


# One file, drawn once: the CLI and the broker are what is under test here, not the drawing.
@settings(
    max_examples=1,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    events=st.lists(
        _drawn, min_size=LINES, max_size=LINES, unique_by=lambda e: e["envelope"]["event_id"]
    )
)
def test_a_drawn_file_is_published_line_for_line(
    events: list[dict[str, Any]],
    agency: str,
    stack: Stack,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    raw_line = as_json(example_event("DossierReceived", event_id=uuid.uuid4()))
    for hashed in ("applicant_id_hash", "applicant_name_hash", "applicant_phone_hash"):
        del raw_line[hashed]
    raw_line.update(RAW)
    path: Path = tmp_path_factory.mktemp("publish-fuzz") / "drawn.jsonl"
    with path.open("w") as out:
        for event in events:
            event["envelope"]["agency_code"] = agency
            out.write(json.dumps(as_json(event)) + "\n")
        raw_line["envelope"]["agency_code"] = agency
        out.write(json.dumps(raw_line, ensure_ascii=False) + "\n")
    tried("publish: drawn JSON lines through the CLI to the broker", LINES + 1)

    result = run_cli(
        "publish",
        "--agency",
        agency,
        "--file",
        str(path),
        home=settings.home,
        env={"DOSSIERHUB_PSEUDONYM_KEY": KEY.hex()},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert json.loads(result.stdout)["published"] == LINES + 1

    registry = SchemaRegistryClient({"url": stack.registry.url})

    def lookup(schema_id: int) -> Any:
        return fastavro.parse_schema(json.loads(registry.get_schema(schema_id).schema_str))

    records = read_topic(stack.kafka.bootstrap, inbound_topic(agency))
    decoded = {}
    for record in records:
        _, event = decode(record.value, lookup)
        decoded[event["envelope"]["event_id"]] = event
    for event in events:
        assert decoded[event["envelope"]["event_id"]] == event
    from_raw = decoded[uuid.UUID(raw_line["envelope"]["event_id"])]
    expected = Pseudonymizer(KEY).applicant(
        citizen_id=RAW["applicant_id"], name=RAW["applicant_name"], phone=RAW["applicant_phone"]
    )
    assert {k: from_raw[k] for k in expected} == expected
    everything = b"".join(r.value for r in records)
    for raw_value in RAW.values():
        assert raw_value.encode() not in everything
