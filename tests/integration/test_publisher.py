"""The publisher SDK and `dossierhub publish` against the real broker and registry."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import fastavro
import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient

from dossierhub.errors import ValidationError
from dossierhub.settings import Settings
from dossierhub.stack import Stack
from producers import DeliveryError, Publisher
from schemas import decode, event_type, example_events, inbound_topic
from schemas.registry import SchemaIds
from tests.helpers import as_json, run_cli

AGENCY = "000.00.15.H29"
# its own inbound topic, which no other test (nor the demo) writes to
CLI_AGENCY = "000.00.52.H29"


@pytest.fixture
def topic(stack: Stack) -> Iterator[str]:
    name = f"test.publisher.{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": stack.kafka.bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])[name].result(30)
    yield name
    admin.delete_topics([name])


@pytest.fixture
def schema_ids(stack: Stack, applied_contract: None) -> SchemaIds:
    return SchemaIds.connect(stack.registry.url)


def _consume_all(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes, bytes]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[tuple[bytes, bytes]] = []
    idle = 0
    try:
        while idle < (3 if len(out) >= expected else 30):
            batch = consumer.consume(num_messages=500, timeout=1.0)
            idle = 0 if batch else idle + 1
            for message in batch:
                assert message.error() is None, message.error()
                out.append((message.key(), message.value()))
    finally:
        consumer.close()
    return out


def _writer_schemas(registry_url: str) -> Callable[[int], Mapping[str, Any]]:
    client = SchemaRegistryClient({"url": registry_url})

    def lookup(schema_id: int) -> Mapping[str, Any]:
        parsed: Mapping[str, Any] = fastavro.parse_schema(
            json.loads(client.get_schema(schema_id).schema_str)
        )
        return parsed

    return lookup


def test_every_event_type_round_trips_field_by_field(
    stack: Stack, schema_ids: SchemaIds, topic: str
) -> None:
    examples = example_events()
    by_agency: dict[str, Publisher] = {}
    for event in examples.values():
        agency = event["envelope"]["agency_code"]
        if agency not in by_agency:
            by_agency[agency] = Publisher(
                agency, bootstrap=stack.kafka.bootstrap, schema_id_of=schema_ids.id_of, topic=topic
            )
        by_agency[agency].publish(event)
    assert sum(p.flush() for p in by_agency.values()) == len(examples)

    lookup = _writer_schemas(stack.registry.url)
    received = _consume_all(stack.kafka.bootstrap, topic, len(examples))
    assert len(received) == len(examples)
    for key, value in received:
        schema_id, decoded = decode(value, lookup)
        name = decoded["envelope"]["event_type"]
        assert schema_id == schema_ids.id_of(event_type(name))
        assert key.decode() == event_type(name).message_key(examples[name])
        sent = examples[name]
        assert set(decoded) == set(sent), name
        for field, value_sent in sent.items():
            assert decoded[field] == value_sent, f"{name}.{field}"


def test_an_invalid_event_raises_and_nothing_reaches_kafka(
    stack: Stack, schema_ids: SchemaIds, topic: str
) -> None:
    publisher = Publisher(
        AGENCY, bootstrap=stack.kafka.bootstrap, schema_id_of=schema_ids.id_of, topic=topic
    )
    bad = example_events()["DossierReceived"]
    bad["procedure_code"] = "2.48"
    with pytest.raises(ValidationError) as caught:
        publisher.publish(bad)
    assert caught.value.field == "procedure_code"
    assert caught.value.value == "2.48"
    foreign = example_events()["DossierReceived"]
    foreign["envelope"]["agency_code"] = "000.00.41.H29"
    with pytest.raises(ValidationError, match=r"envelope\.agency_code"):
        publisher.publish(foreign)
    assert publisher.flush() == 0
    assert _consume_all(stack.kafka.bootstrap, topic, 0) == []


def test_flush_reports_undelivered_events_and_retry_delivers_each_exactly_once(
    stack: Stack, schema_ids: SchemaIds, topic: str
) -> None:
    publisher = Publisher(
        AGENCY,
        bootstrap=stack.kafka.bootstrap,
        schema_id_of=schema_ids.id_of,
        topic=topic,
        delivery_timeout_s=5,
    )
    template = example_events()["DossierReceived"]
    sent_ids = set()
    stack.kafka.stop()
    try:
        for i in range(50):
            event = {**template, "dossier_code": f"000.00.15.H29-230315-{i:04d}"}
            event["envelope"] = {**template["envelope"], "event_id": uuid.uuid4()}
            sent_ids.add(str(event["envelope"]["event_id"]))
            publisher.publish(event)
        with pytest.raises(DeliveryError) as caught:
            publisher.flush()
    finally:
        stack.kafka.start()
    undelivered = caught.value.undelivered
    assert {u.event_id for u in undelivered} == sent_ids
    assert caught.value.delivered == 0
    assert "retry_undelivered" in caught.value.one_line()

    assert publisher.retry_undelivered() == 50
    assert publisher.flush(timeout_s=60) == 50

    lookup = _writer_schemas(stack.registry.url)
    received = [decode(v, lookup)[1] for _, v in _consume_all(stack.kafka.bootstrap, topic, 50)]
    assert sorted(str(e["envelope"]["event_id"]) for e in received) == sorted(sent_ids)


def _jsonl_line(event: Mapping[str, Any]) -> str:
    data = as_json(event)
    del data["envelope"]["event_id"]
    del data["envelope"]["agency_code"]  # filled in from --agency
    return json.dumps(data)


def test_publish_cli_reports_bad_lines_and_publishes_the_good_ones(
    stack: Stack, settings: Settings, applied_contract: None, tmp_path: Path
) -> None:
    topic_name = inbound_topic(CLI_AGENCY)
    applied = run_cli("topics", "apply", "--agency", CLI_AGENCY, home=settings.home)
    assert applied.returncode == 0, applied.stderr
    examples = example_events()
    good = [_jsonl_line(examples[n]) for n in ("DossierReceived", "DossierResolved")]
    bad = json.loads(good[0])
    bad["channel"] = "CARRIER_PIGEON"
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join([good[0], json.dumps(bad), "{oops", good[1]]) + "\n")

    args = ("publish", "--agency", CLI_AGENCY, "--file", str(path))
    strict = run_cli(*args, "--all-or-nothing", home=settings.home)
    assert strict.returncode == 1
    assert json.loads(strict.stdout)["published"] == 0

    result = run_cli(*args, home=settings.home)
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    assert summary["published"] == 2
    assert summary["rejected"] == 2
    assert [e["line"] for e in summary["errors"]] == [2, 3]
    assert "channel='CARRIER_PIGEON'" in summary["errors"][0]["error"]
    assert summary["per_event_type"] == {"DossierReceived": 1, "DossierResolved": 1}

    again = run_cli(*args, home=settings.home)
    assert json.loads(again.stdout)["published"] == 2
    lookup = _writer_schemas(stack.registry.url)
    events = [decode(v, lookup)[1] for _, v in _consume_all(stack.kafka.bootstrap, topic_name, 4)]
    assert len(events) == 4
    # the same file published twice carries the same (content-derived) ids: the hub sees repeats
    assert len({str(e["envelope"]["event_id"]) for e in events}) == 2
