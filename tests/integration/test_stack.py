"""The local stack against its promises: real services, durable data, clear errors."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from dossierhub.settings import Settings
from dossierhub.stack import Stack
from dossierhub.stack._process import free_port
from sinks.warehouse import connect
from tests.helpers import run_cli


def test_status_json_reports_every_service_healthy_with_its_version(
    stack: Stack, settings: Settings
) -> None:
    result = run_cli("stack", "status", "--format", "json", home=settings.home)
    assert result.returncode == 0, result.stderr
    services = {s["name"]: s for s in json.loads(result.stdout)["services"]}
    assert set(services) == {"kafka", "registry", "clickhouse", "chdb"}
    for name in ("kafka", "registry", "clickhouse"):
        service = services[name]
        assert service["running"], service
        assert service["healthy"], service
        assert isinstance(service["pid"], int)
        assert service["version"], service
        assert service["data_dir"].startswith(str(settings.home))
    assert services["kafka"]["version"].startswith("4.")
    assert services["registry"]["version"].startswith("3.")
    assert services["clickhouse"]["version"].startswith("18.16")
    assert services["kafka"]["url"] == f"127.0.0.1:{stack.ports['kafka']}"
    assert services["registry"]["url"].endswith("/apis/ccompat/v7")
    assert services["clickhouse"]["url"].startswith("clickhouse://")


def test_up_is_idempotent(stack: Stack, settings: Settings) -> None:
    pids = {s.name: s.pid for s in stack.status()}
    result = run_cli("stack", "up", home=settings.home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("already running") == 3, result.stdout
    assert {s.name: s.pid for s in stack.status()} == pids


def test_acknowledged_messages_survive_kill_9_of_the_broker(stack: Stack, topic_name: str) -> None:
    bootstrap = stack.kafka.bootstrap
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic_name, num_partitions=3, replication_factor=1)])[
        topic_name
    ].result(timeout=30)

    sent = [f"message-{i}".encode() for i in range(10_000)]
    failures: list[KafkaError] = []

    def delivered(err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            failures.append(err)

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    for i, value in enumerate(sent):
        producer.produce(topic_name, value=value, key=str(i % 97).encode(), on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(60) == 0
    assert failures == []

    stack.kafka.process.kill9()
    assert not stack.kafka.process.is_running()
    stack.kafka.start()

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"kill9-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic_name])
    received: list[bytes] = []
    try:
        idle_polls = 0
        while len(received) < len(sent) and idle_polls < 60:
            batch = consumer.consume(num_messages=1000, timeout=1.0)
            idle_polls = 0 if batch else idle_polls + 1
            for message in batch:
                assert message.error() is None, message.error()
                received.append(message.value())
        # read on for a moment: nothing more (no duplicates) may arrive
        received.extend(m.value() for m in consumer.consume(num_messages=1000, timeout=2.0))
    finally:
        consumer.close()
    assert len(received) == len(sent)
    assert sorted(received) == sorted(sent)


def test_registered_schema_is_readable_by_id_after_a_registry_restart(stack: Stack) -> None:
    client = SchemaRegistryClient({"url": stack.registry.url})
    name = f"Probe{uuid.uuid4().hex[:8]}"
    schema_str = json.dumps(
        {
            "type": "record",
            "name": name,
            "namespace": "vn.hcmc.dossierhub.test",
            "fields": [{"name": "code", "type": "string"}, {"name": "n", "type": "long"}],
        }
    )
    schema_id = client.register_schema(
        f"vn.hcmc.dossierhub.test.{name}", Schema(schema_str, "AVRO")
    )

    stack.registry.stop()
    assert not stack.registry.process.is_running()
    stack.registry.start()

    fresh = SchemaRegistryClient({"url": stack.registry.url})  # no cache from before
    fetched = fresh.get_schema(schema_id)
    assert json.loads(fetched.schema_str) == json.loads(schema_str)


def test_same_ddl_insert_and_select_give_identical_rows_on_server_and_chdb(
    stack: Stack, tmp_path: object
) -> None:
    table = f"t_{uuid.uuid4().hex[:8]}"
    ddl = (
        f"CREATE TABLE {table} (id UInt64, agency String, received Date,"
        f" at DateTime('UTC'), days Nullable(Int32), tags Array(String))"
        f" ENGINE = MergeTree() PARTITION BY toYYYYMM(received) ORDER BY (agency, id)"
    )
    rows = [
        (1, "000.00.15.H29", dt.date(2023, 1, 3), dt.datetime(2023, 1, 3, 1, 2, 3), 5, ["a", "b"]),
        (2, "000.00.41.H29", dt.date(2023, 2, 28), dt.datetime(2023, 2, 28, 23, 59, 59), None, []),
        (
            2**64 - 1,
            "Sở Tư pháp",
            dt.date(2023, 12, 31),
            dt.datetime(2023, 12, 31, 16, 59),
            -1,
            ["ư'"],
        ),
    ]
    columns = ("id", "agency", "received", "at", "days", "tags")
    query = (
        f"SELECT id, agency, received, at, days, tags, toYYYYMM(received), length(tags)"
        f" FROM {table} ORDER BY id"
    )
    results = []
    for url in (stack.clickhouse.url, f"chdb://{tmp_path}/wh"):
        with connect(url) as warehouse:
            warehouse.execute(ddl)
            assert warehouse.insert_rows(table, columns, rows) == 3
            results.append(warehouse.query(query))
    server_rows, chdb_rows = results
    assert [row[:6] for row in server_rows] == rows
    assert server_rows == chdb_rows


def test_unreachable_services_give_one_line_errors_without_traceback(
    stack: Stack, settings: Settings
) -> None:
    migrated = run_cli("warehouse", "migrate", home=settings.home)  # health checks it is
    assert migrated.returncode == 0, migrated.stderr
    closed = free_port()
    result = run_cli(
        "health",
        "--timeout",
        "2",
        home=settings.home,
        env={
            "DOSSIERHUB_KAFKA_BOOTSTRAP": f"127.0.0.1:{closed}",
            "DOSSIERHUB_REGISTRY_URL": f"http://127.0.0.1:{closed}/apis/ccompat/v7",
        },
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert f"cannot reach 127.0.0.1:{closed}" in lines["kafka"]
    assert "DOSSIERHUB_KAFKA_BOOTSTRAP" in lines["kafka"]
    assert "cannot reach" in lines["registry"]
    assert "True" in lines["warehouse"]


def test_malformed_setting_is_a_one_line_error(settings: Settings) -> None:
    result = run_cli(
        "health", home=settings.home, env={"DOSSIERHUB_KAFKA_BOOTSTRAP": "broker-without-port"}
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "DOSSIERHUB_KAFKA_BOOTSTRAP='broker-without-port'" in result.stderr
    assert "host:port" in result.stderr
