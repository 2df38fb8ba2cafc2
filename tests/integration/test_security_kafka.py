"""The secured broker (DOSSIERHUB_KAFKA_SECURITY=sasl): SCRAM principals and their ACLs.

One broker (and registry) of its own for the module, in a temp home on free ports, started as
``dossierhub stack up`` starts it (which also creates the hub services' principals).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from dossierhub.security import load_kafka_credential
from dossierhub.security.acls import ADMIN_USER
from dossierhub.settings import Settings
from dossierhub.stack import Stack
from schemas.admin import TopicAdmin
from schemas.topics import DEADLETTER, DOSSIER_EVENTS, canonical_topics, inbound_topic
from tests.helpers import run_cli

OWN = "000.00.15.H29"
OTHER = "000.00.16.H29"
SASL_ENV = {"DOSSIERHUB_KAFKA_SECURITY": "sasl"}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("secured-stack")
    local = Stack(Settings(home=home, kafka_security="sasl", kafka_heap="512m"))
    local.up(only=("kafka", "registry"), progress=lambda line: None)
    try:
        admin = TopicAdmin(config(local, ADMIN_USER))
        results = admin.apply(canonical_topics(replication_factor=1))
        assert all(r.ok for r in results), [r.as_dict() for r in results if not r.ok]
        for code in (OWN, OTHER):
            added = run_cli("agencies", "add", code, home=home, env=SASL_ENV)
            assert added.returncode == 0, added.stderr
        yield local
    finally:
        local.down(progress=lambda line: None)


def config(stack: Stack, user: str) -> dict[str, object]:
    credential = load_kafka_credential(stack.settings.home, user)
    return {"bootstrap.servers": stack.kafka.bootstrap, **credential.client_config()}


def produce(producer: Producer, topic: str) -> KafkaError | None:
    """Send one record and wait for its delivery report: None if delivered, else the error."""
    outcome: list[KafkaError | None] = []
    producer.produce(topic, b"payload", on_delivery=lambda err, _msg: outcome.append(err))
    assert producer.flush(30) == 0, f"no delivery report for {topic} within 30 s"
    assert outcome, f"no delivery report for {topic}"
    return outcome[0]


def code_of(error: KafkaError | None) -> int | None:
    return None if error is None else error.code()


def read_one(consumer: Consumer) -> None:
    """One record arrives within 30 s, without an error."""
    message = consumer.poll(30)
    assert message is not None, "no record within 30 s"
    assert message.error() is None, message.error()


def agency_producer(stack: Stack, code: str) -> Producer:
    # as the publisher SDK configures it: idempotent, acks=all
    return Producer(
        {
            **config(stack, f"agency-{code}"),
            "enable.idempotence": True,
            "message.timeout.ms": 20_000,
        }
    )


def first_error(consumer: Consumer, timeout_s: float = 20.0) -> KafkaError | None:
    """The first error a consumer reports within ``timeout_s``, or None if it reads or idles."""
    message = consumer.poll(timeout_s)
    return message.error() if message is not None else None


def test_credentials_are_owner_only(secured: Stack) -> None:
    folder = secured.settings.home / "credentials" / "kafka"
    files = sorted(folder.glob("*.json"))
    assert {f.stem for f in files} >= {ADMIN_USER, f"agency-{OWN}", "svc-sink", "svc-processors"}
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    assert folder.stat().st_mode & 0o777 == 0o700
    assert (secured.kafka.dir / "server.properties").stat().st_mode & 0o777 == 0o600


def test_agency_writes_its_own_inbound_topic_only(secured: Stack) -> None:
    producer = agency_producer(secured, OWN)
    assert produce(producer, inbound_topic(OWN)) is None
    refused = produce(agency_producer(secured, OWN), inbound_topic(OTHER))
    assert code_of(refused) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    refused = produce(agency_producer(secured, OWN), DOSSIER_EVENTS)
    assert code_of(refused) == KafkaError.TOPIC_AUTHORIZATION_FAILED


@pytest.mark.parametrize("topic", [inbound_topic(OWN), inbound_topic(OTHER), DOSSIER_EVENTS])
def test_agency_reads_nothing_not_even_its_own_topic(secured: Stack, topic: str) -> None:
    consumer = Consumer(
        {**config(secured, f"agency-{OWN}"), "group.id": f"agency-{uuid.uuid4().hex}"}
    )
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        error = first_error(consumer)
    finally:
        consumer.close()
    assert error is not None, f"agency {OWN} read {topic}"
    assert error.code() in (
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
    ), error


def connection_error(client_config: dict[str, object], timeout_s: float = 15.0) -> KafkaError:
    """The first client-level error (librdkafka's error callback) of a producer that tries to
    connect with ``client_config``."""
    errors: list[KafkaError] = []
    producer = Producer({**client_config, "error_cb": errors.append})
    deadline = time.monotonic() + timeout_s
    while not errors and time.monotonic() < deadline:
        producer.poll(0.2)
    assert errors, f"no connection error within {timeout_s:.0f} s"
    return errors[0]


def test_unknown_user_and_wrong_password_are_refused(secured: Stack) -> None:
    good = config(secured, f"agency-{OWN}")
    for bad in ({"sasl.username": "nobody"}, {"sasl.password": "wrong"}):
        error = connection_error({**good, **bad})
        assert error.code() == KafkaError._AUTHENTICATION, error


def test_revoke_stops_a_connected_producer(secured: Stack, tmp_path: Path) -> None:
    code = "000.00.17.H29"
    home = secured.settings.home
    assert run_cli("agencies", "add", code, home=home, env=SASL_ENV).returncode == 0
    producer = agency_producer(secured, code)  # reads the credential before it is deleted
    assert produce(producer, inbound_topic(code)) is None  # connected and authorized

    revoked = run_cli("agencies", "revoke", code, home=home, env=SASL_ENV)
    assert revoked.returncode == 0, revoked.stderr
    assert "3 ACLs deleted, credential deleted" in revoked.stdout

    error = produce(producer, inbound_topic(code))  # the same connection, its next request
    assert code_of(error) == KafkaError.TOPIC_AUTHORIZATION_FAILED, error
    assert not (home / "credentials" / "kafka" / f"agency-{code}.json").exists()
    listed = run_cli("agencies", "list", home=home, env=SASL_ENV)
    assert code not in listed.stdout
    assert OWN in listed.stdout


def test_sink_reads_its_topics_and_writes_nothing(secured: Stack) -> None:
    admin = Producer(config(secured, ADMIN_USER))
    assert produce(admin, DOSSIER_EVENTS) is None
    consumer = Consumer(
        {
            **config(secured, "svc-sink"),
            "group.id": "dossierhub-sink",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([DOSSIER_EVENTS])
        read_one(consumer)
        consumer.commit(asynchronous=False)  # its own group: allowed
    finally:
        consumer.close()
    refused = produce(Producer(config(secured, "svc-sink")), DOSSIER_EVENTS)
    assert code_of(refused) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    other_group = Consumer(
        {**config(secured, "svc-sink"), "group.id": "someone-else", "auto.offset.reset": "earliest"}
    )
    try:
        other_group.subscribe([DOSSIER_EVENTS])
        error = first_error(other_group)
    finally:
        other_group.close()
    assert code_of(error) == KafkaError.GROUP_AUTHORIZATION_FAILED, error


def test_processors_read_inbound_and_write_the_hub_topics(secured: Stack) -> None:
    assert produce(agency_producer(secured, OTHER), inbound_topic(OTHER)) is None
    consumer = Consumer(
        {
            **config(secured, "svc-processors"),
            "group.id": "dossierhub-processors",
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.subscribe([inbound_topic(OTHER)])
        read_one(consumer)
    finally:
        consumer.close()
    producer = Producer({**config(secured, "svc-processors"), "enable.idempotence": True})
    assert produce(producer, DEADLETTER) is None
    assert produce(producer, DOSSIER_EVENTS) is None


def test_plaintext_client_cannot_reach_the_secured_broker(secured: Stack) -> None:
    error = connection_error({"bootstrap.servers": secured.kafka.bootstrap})
    assert error.code() in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN), error


def test_the_pipeline_runs_on_least_privilege(secured: Stack) -> None:
    """Agencies publish as themselves, the processors and the sink run as their own principals:
    every event an agency sent that the validator accepted reaches the warehouse."""
    from producers import Publisher
    from schemas import Family, event_type
    from schemas.evolution import apply_schemas
    from schemas.examples import example_events
    from schemas.registry import Registry, SchemaIds
    from sinks.warehouse import connect

    home = secured.settings.home
    assert all(r.ok for r in apply_schemas(Registry(secured.registry.url)))
    by_agency: dict[str, list[dict[str, object]]] = {}
    for name, event in example_events().items():
        if event_type(name).family is not Family.DERIVED:
            by_agency.setdefault(str(event["envelope"]["agency_code"]), []).append(event)
    ids = SchemaIds.connect(secured.registry.url)
    for code, events in by_agency.items():
        assert run_cli("agencies", "add", code, home=home, env=SASL_ENV).returncode == 0
        credential = load_kafka_credential(home, f"agency-{code}")
        publisher = Publisher(
            code,
            bootstrap=secured.kafka.bootstrap,
            schema_id_of=ids.id_of,
            producer_config=credential.client_config(),
        )
        for event in events:
            publisher.publish(event)
        assert publisher.flush() == len(events)

    as_processors = {**SASL_ENV, "DOSSIERHUB_KAFKA_USER": "svc-processors"}
    ran = run_cli(
        "run",
        "--no-sink",
        "--until-idle",
        "--timeout",
        "120",
        "--store",
        "memory://",
        home=home,
        env=as_processors,
        timeout=180,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "accepted=0 " not in ran.stderr.splitlines()[-1], ran.stderr[-500:]

    warehouse = f"chdb://{home / 'warehouse'}"
    assert (
        run_cli(
            "warehouse", "migrate", home=home, env={"DOSSIERHUB_WAREHOUSE_URL": warehouse}
        ).returncode
        == 0
    )
    as_sink = {
        **SASL_ENV,
        "DOSSIERHUB_KAFKA_USER": "svc-sink",
        "DOSSIERHUB_WAREHOUSE_URL": warehouse,
    }
    sunk = run_cli("sink", "--until-idle", home=home, env=as_sink, timeout=180)
    assert sunk.returncode == 0, sunk.stderr[-2000:]
    with connect(warehouse) as loaded:
        agencies = {
            row[0] for row in loaded.query("SELECT DISTINCT agency_code FROM events_dossier")
        }
    assert agencies, "no dossier event reached the warehouse"
    assert agencies <= set(by_agency)
