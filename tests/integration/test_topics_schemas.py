"""``topics apply`` and ``schemas check | apply`` against the real broker and registry.

The canonical topics and subjects are applied once per session (``applied_contract``); tests
that change a declaration or a schema use uuid-named topics and a fresh record namespace, so
they never disturb the shared contract. What the tools claim is read back with plain
confluent-kafka clients, not with the code under test.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic, ResourceType
from confluent_kafka.schema_registry import (
    Schema,
    SchemaRegistryClient,
    record_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from dossierhub.settings import Settings
from dossierhub.stack import Stack
from dossierhub.stack._process import free_port
from schemas import COMPATIBILITY, decode, encode, event_type, event_types, example_events
from schemas._files import AVRO_DIR
from schemas.admin import Action, TopicAdmin
from schemas.evolution import SubjectStatus, apply_schemas, check_schemas
from schemas.registry import Registry, SchemaIds, SchemaNotRegisteredError, WriterSchemas
from schemas.topics import (
    TopicKind,
    TopicSpec,
    canonical_topics,
    inbound_topic,
    inbound_topic_spec,
)
from tests.helpers import run_cli

AGENCY = "000.00.15.H29"
EDITED = "DossierReceived"


@pytest.fixture
def raw_admin(stack: Stack) -> AdminClient:
    return AdminClient({"bootstrap.servers": stack.kafka.bootstrap})


@pytest.fixture
def admin(stack: Stack) -> TopicAdmin:
    return TopicAdmin({"bootstrap.servers": stack.kafka.bootstrap}, timeout_s=30)


@pytest.fixture
def registry(stack: Stack) -> Registry:
    return Registry(stack.registry.url)


@pytest.fixture
def raw_registry(stack: Stack) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": stack.registry.url, "timeout": 30})


@pytest.fixture
def spec_name(raw_admin: AdminClient) -> Iterator[str]:
    name = f"test.admin.{uuid.uuid4().hex[:10]}"
    yield name
    raw_admin.delete_topics([name], operation_timeout=30)


def _described(raw_admin: AdminClient, name: str) -> tuple[int, dict[str, tuple[str, bool]]]:
    """Partition count and config (value, set on the topic) as the broker reports them."""
    partitions = len(raw_admin.list_topics(name, timeout=10).topics[name].partitions)
    resource = ConfigResource(ResourceType.TOPIC, name)
    entries = raw_admin.describe_configs([resource])[resource].result(timeout=30)
    return partitions, {
        key: (entry.value, entry.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
        for key, entry in entries.items()
    }


def _spec(name: str, partitions: int, **config: str) -> TopicSpec:
    return TopicSpec(name, TopicKind.EVENT_LOG, partitions, 1, config, "test topic")


# ---- topics ----------------------------------------------------------------------------------


def test_topics_apply_makes_every_declared_topic_and_a_second_run_changes_nothing(
    stack: Stack, settings: Settings, raw_admin: AdminClient
) -> None:
    first = run_cli("topics", "apply", "--agency", AGENCY, "--format", "json", home=settings.home)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["replication_factor"] == 1  # the local stack has one broker
    declared = {s.name: s for s in (*canonical_topics(1), inbound_topic_spec(AGENCY, 1))}
    # "unchanged" where another test already applied the canonical topics this session
    assert {t["topic"]: t["status"] in ("created", "unchanged") for t in report["topics"]} == {
        name: True for name in declared
    }

    for name, spec in declared.items():
        partitions, config = _described(raw_admin, name)
        assert partitions == spec.partitions, name
        for key, value in spec.config.items():
            assert config[key] == (value, True), (name, key)
        if spec.kind is TopicKind.EVENT_LOG:
            assert config["retention.ms"] == ("-1", True), name
        if spec.kind is TopicKind.STATE:
            assert config["cleanup.policy"] == ("compact", True), name

    second = run_cli("topics", "apply", "--agency", AGENCY, "--format", "json", home=settings.home)
    assert second.returncode == 0, second.stderr
    assert {t["status"] for t in json.loads(second.stdout)["topics"]} == {"unchanged"}

    listed = run_cli("topics", "list", "--format", "json", home=settings.home)
    assert listed.returncode == 0, listed.stderr
    rows = {t["topic"]: t for t in json.loads(listed.stdout)["topics"]}
    assert rows["hub.dossier.events"]["partitions"] == 6
    assert rows["hub.reference.events"]["config"]["cleanup.policy"] == "compact"
    assert rows[inbound_topic(AGENCY)]["config"]["retention.ms"] == "-1"


def test_changed_declaration_is_applied_as_an_update(
    admin: TopicAdmin, raw_admin: AdminClient, spec_name: str
) -> None:
    v1 = _spec(spec_name, 3, **{"cleanup.policy": "delete", "retention.ms": "86400000"})
    [created] = admin.apply([v1])
    assert (created.status, created.ok) == ("created", True)
    [again] = admin.apply([v1])
    assert again.status == "unchanged"

    v2 = _spec(spec_name, 6, **{"cleanup.policy": "delete", "retention.ms": "-1"})
    [updated] = admin.apply([v2])
    assert (updated.status, updated.ok) == ("updated", True)
    assert updated.plan.changes() == ["partitions 3 → 6", "retention.ms 86400000 → -1"]
    partitions, config = _described(raw_admin, spec_name)
    assert partitions == 6
    assert config["retention.ms"] == ("-1", True)
    assert config["cleanup.policy"] == ("delete", True)
    assert [r.status for r in admin.apply([v2])] == ["unchanged"]


def test_config_inherited_from_the_broker_is_pinned_and_other_keys_are_left_alone(
    admin: TopicAdmin, raw_admin: AdminClient, spec_name: str
) -> None:
    raw_admin.create_topics(
        [
            NewTopic(
                spec_name, num_partitions=1, replication_factor=1, config={"segment.ms": "3600000"}
            )
        ]
    )[spec_name].result(timeout=30)
    [result] = admin.apply([_spec(spec_name, 1, **{"retention.bytes": "-1"})])
    assert result.status == "updated"
    assert result.plan.changes() == ["retention.bytes (default) → -1"]
    _, config = _described(raw_admin, spec_name)
    assert config["retention.bytes"] == ("-1", True)
    assert config["segment.ms"] == ("3600000", True)  # undeclared: an incremental alter keeps it


def test_topic_created_since_it_was_planned_is_updated_instead(
    admin: TopicAdmin, raw_admin: AdminClient, spec_name: str
) -> None:
    spec = _spec(spec_name, 2, **{"retention.ms": "-1"})
    [plan] = admin.plan([spec])
    assert plan.action is Action.CREATE
    raw_admin.create_topics([NewTopic(spec_name, num_partitions=1, replication_factor=1)])[
        spec_name
    ].result(timeout=30)
    [result] = admin.execute([plan])
    assert (result.status, result.ok) == ("updated", True)
    partitions, config = _described(raw_admin, spec_name)
    assert (partitions, config["retention.ms"]) == (2, ("-1", True))


def test_fewer_partitions_are_reported_and_nothing_is_removed(
    admin: TopicAdmin, raw_admin: AdminClient, spec_name: str
) -> None:
    admin.apply([_spec(spec_name, 4, **{"retention.ms": "-1"})])
    [result] = admin.apply([_spec(spec_name, 2, **{"retention.ms": "86400000"})])
    assert (result.status, result.ok) == ("conflict", False)
    assert result.errors == [
        "has 4 partitions, the declaration asks for 2: Kafka cannot remove partitions "
        "(recreate the topic or raise the declaration)"
    ]
    partitions, config = _described(raw_admin, spec_name)
    assert partitions == 4
    assert config["retention.ms"] == ("86400000", True)  # what Kafka can do is still done


def test_dry_run_changes_nothing_but_kafka_still_validates(
    admin: TopicAdmin, raw_admin: AdminClient, spec_name: str
) -> None:
    [planned] = admin.apply([_spec(spec_name, 3, **{"retention.ms": "-1"})], dry_run=True)
    assert (planned.status, planned.ok) == ("would be created", True)
    assert spec_name not in raw_admin.list_topics(timeout=10).topics

    [refused] = admin.apply([_spec(spec_name, 3, **{"cleanup.policy": "bogus"})], dry_run=True)
    assert refused.status == "failed"
    assert refused.failure is not None
    assert refused.failure.topic == spec_name
    message = refused.failure.one_line()
    assert message.startswith(f"topic {spec_name}: create failed: INVALID_CONFIG")
    assert "bogus" in message
    assert isinstance(refused.failure.__cause__, Exception)  # raised from Kafka's error


def test_more_replicas_than_brokers_is_a_one_line_error(settings: Settings, stack: Stack) -> None:
    result = run_cli("topics", "apply", "--replication-factor", "3", home=settings.home)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--replication-factor=3: the cluster has only 1 broker(s)" in result.stderr
    assert result.stderr.count("\n") == 1


def test_unreachable_broker_is_a_one_line_error(settings: Settings, stack: Stack) -> None:
    closed = f"127.0.0.1:{free_port()}"
    result = run_cli(
        "topics",
        "apply",
        "--timeout",
        "2",
        home=settings.home,
        env={"DOSSIERHUB_KAFKA_BOOTSTRAP": closed},
    )
    assert result.returncode == 2
    assert f"kafka: cannot reach {closed}" in result.stderr
    assert "Traceback" not in result.stderr


# ---- schemas: apply --------------------------------------------------------------------------


def test_schemas_apply_registers_every_event_type_with_backward_transitive(
    stack: Stack, settings: Settings, raw_registry: SchemaRegistryClient
) -> None:
    first = run_cli("schemas", "apply", "--format", "json", home=settings.home)
    assert first.returncode == 0, first.stderr
    subjects = {s["subject"]: s for s in json.loads(first.stdout)["subjects"]}
    assert set(subjects) == {t.subject for t in event_types()}
    for known in event_types():
        reported = subjects[known.subject]
        assert reported["status"] in ("registered", "unchanged"), reported
        assert raw_registry.get_compatibility(known.subject) == COMPATIBILITY
        looked_up = raw_registry.lookup_schema(
            known.subject, Schema(known.registered_schema, "AVRO")
        )
        assert (reported["id"], reported["version"]) == (looked_up.schema_id, looked_up.version)

    second = run_cli("schemas", "apply", "--format", "json", home=settings.home)
    assert second.returncode == 0, second.stderr
    again = {s["subject"]: s for s in json.loads(second.stdout)["subjects"]}
    assert {s["status"] for s in again.values()} == {"unchanged"}
    assert {k: s["id"] for k, s in again.items()} == {k: s["id"] for k, s in subjects.items()}


@dataclass(frozen=True)
class _Probe:
    """A one-record contract in its own namespace: isolated from the shared subjects."""

    namespace: str

    @property
    def subject(self) -> str:
        return f"{self.namespace}.Probe"

    def schema(self, *fields: dict[str, Any]) -> str:
        record = {"type": "record", "name": "Probe", "namespace": self.namespace}
        return json.dumps(record | {"fields": list(fields)}, sort_keys=True)

    @property
    def registered_schema(self) -> str:
        return self.schema(_CODE)


_CODE = {"name": "code", "type": "string"}
_COUNT_DEFAULT = {"name": "count", "type": "int", "default": 0}
_COUNT_REQUIRED = {"name": "count", "type": "int"}


@pytest.fixture
def probe() -> _Probe:
    return _Probe(f"vn.hcmc.dossierhub.test{uuid.uuid4().hex[:10]}")


def test_apply_reports_new_versions_unchanged_and_behind(registry: Registry, probe: _Probe) -> None:
    v1, v2 = probe.schema(_CODE), probe.schema(_CODE, _COUNT_DEFAULT)
    [first] = apply_schemas(registry, {probe.subject: v1})
    assert (first.status, first.version) == (SubjectStatus.REGISTERED, 1)
    assert first.detail.startswith("new version 1")
    [same] = apply_schemas(registry, {probe.subject: v1})
    assert (same.status, same.schema_id, same.version) == (
        SubjectStatus.UNCHANGED,
        first.schema_id,
        1,
    )
    [second] = apply_schemas(registry, {probe.subject: v2})
    assert (second.status, second.version) == (SubjectStatus.REGISTERED, 2)
    assert second.schema_id != first.schema_id
    [old] = check_schemas(registry, {probe.subject: v1})
    assert (old.status, old.version, old.ok) == (SubjectStatus.BEHIND, 1, True)
    assert old.detail == "the registry's latest is version 2"


# ---- schemas: check --------------------------------------------------------------------------


def test_check_is_transitive_where_the_registrys_latest_check_is_not(
    registry: Registry, raw_registry: SchemaRegistryClient, probe: _Probe
) -> None:
    apply_schemas(registry, {probe.subject: probe.schema(_CODE)})
    apply_schemas(registry, {probe.subject: probe.schema(_CODE, _COUNT_DEFAULT)})
    # v3 drops the default: it reads v2's records (they have count) but not v1's.
    v3 = probe.schema(_CODE, _COUNT_REQUIRED)
    # Why each version is asked about: Apicurio's "latest" endpoint ignores _TRANSITIVE.
    assert raw_registry.test_compatibility(probe.subject, Schema(v3, "AVRO"), version="latest")

    [checked] = check_schemas(registry, {probe.subject: v3})
    assert (checked.status, checked.ok) == (SubjectStatus.INCOMPATIBLE, False)
    assert checked.detail.startswith("FULL_TRANSITIVE refuses it: breaks version 1")
    assert "count" in checked.detail  # the registry's reason names the field

    [refused] = apply_schemas(registry, {probe.subject: v3})
    assert refused.status == SubjectStatus.INCOMPATIBLE
    assert "count" in refused.detail
    assert raw_registry.get_versions(probe.subject) == [1, 2]


def test_check_of_an_absent_subject_is_new_and_registers_nothing(
    registry: Registry, raw_registry: SchemaRegistryClient, probe: _Probe
) -> None:
    [checked] = check_schemas(registry, {probe.subject: probe.schema(_CODE)})
    assert (checked.status, checked.ok, checked.detail) == (SubjectStatus.NEW, True, "version 1")
    assert probe.subject not in raw_registry.get_subjects()


def _edited_copy(tmp_path: Path, edit: Callable[[list[dict[str, Any]]], None]) -> Path:
    avro = tmp_path / "avro"
    shutil.copytree(AVRO_DIR, avro)
    path = avro / f"{event_type(EDITED).fullname}.avsc"
    schema = json.loads(path.read_text())
    edit(schema["fields"])
    path.write_text(json.dumps(schema, ensure_ascii=False, indent=2))
    return avro


def _retype_procedure_code(fields: list[dict[str, Any]]) -> None:
    next(f for f in fields if f["name"] == "procedure_code")["type"] = "int"


def _add_required_field(fields: list[dict[str, Any]]) -> None:
    fields.append({"name": "counter_no", "type": "string"})


def _remove_procedure_code(fields: list[dict[str, Any]]) -> None:
    fields[:] = [f for f in fields if f["name"] != "procedure_code"]


def _add_optional_field(fields: list[dict[str, Any]]) -> None:
    fields.append({"name": "counter_no", "type": ["null", "string"], "default": None})


def _check_cli(settings: Settings, avro: Path) -> tuple[int, dict[str, Any], str]:
    result = run_cli(
        "schemas",
        "check",
        "--schemas-dir",
        str(avro),
        "--format",
        "json",
        home=settings.home,
    )
    report = json.loads(result.stdout) if result.stdout else {}
    return result.returncode, report, result.stderr


@pytest.mark.parametrize(
    "edit",
    [
        _retype_procedure_code,
        _add_required_field,
        _remove_procedure_code,
    ],
)
def test_check_cli_fails_on_an_incompatible_edit_and_names_the_subject(
    settings: Settings,
    applied_contract: None,
    raw_registry: SchemaRegistryClient,
    tmp_path: Path,
    edit: Callable[[list[dict[str, Any]]], None],
) -> None:
    subject = event_type(EDITED).subject
    before = raw_registry.get_versions(subject)
    code, report, stderr = _check_cli(settings, _edited_copy(tmp_path, edit))
    assert code == 1, stderr
    assert not report["ok"]
    bad = [s for s in report["subjects"] if not s["ok"]]
    assert [(s["subject"], s["status"]) for s in bad] == [(subject, "INCOMPATIBLE")]
    assert "breaks version" in bad[0]["detail"]
    assert {s["status"] for s in report["subjects"] if s["subject"] != subject} == {"unchanged"}
    assert raw_registry.get_versions(subject) == before  # check registers nothing

    table = run_cli("schemas", "check", "--schemas-dir", str(tmp_path / "avro"), home=settings.home)
    assert table.returncode == 1
    line = next(row for row in table.stdout.splitlines() if row.startswith(subject))
    assert "INCOMPATIBLE" in line


def test_check_cli_passes_a_compatible_edit(
    settings: Settings, applied_contract: None, tmp_path: Path
) -> None:
    code, report, stderr = _check_cli(settings, _edited_copy(tmp_path, _add_optional_field))
    assert code == 0, stderr
    edited = next(s for s in report["subjects"] if s["subject"] == event_type(EDITED).subject)
    assert (edited["status"], edited["ok"]) == ("compatible change", True)
    assert edited["detail"].startswith("would be version ")


def test_unreachable_registry_is_a_one_line_error(settings: Settings, stack: Stack) -> None:
    closed = f"http://127.0.0.1:{free_port()}/apis/ccompat/v7"
    result = run_cli(
        "schemas", "check", home=settings.home, env={"DOSSIERHUB_REGISTRY_URL": closed}
    )
    assert result.returncode == 2
    assert f"registry: cannot reach {closed}" in result.stderr
    assert result.stderr.count("\n") == 1


# ---- ids and the wire format -----------------------------------------------------------------


@pytest.mark.parametrize(
    "serializer_conf",
    [
        {"auto.register.schemas": False, "use.latest.version": True},
        {"auto.register.schemas": False, "use.latest.version": False},  # looks the schema up
    ],
    ids=["latest-version", "lookup"],
)
def test_confluent_serializer_writes_the_same_bytes_and_reads_ours(
    stack: Stack, applied_contract: None, serializer_conf: dict[str, object]
) -> None:
    client = SchemaRegistryClient({"url": stack.registry.url, "timeout": 30})
    ids = SchemaIds(client)
    writer_schemas = WriterSchemas(client)
    deserializer = AvroDeserializer(client)
    for name, event in example_events().items():
        known = event_type(name)
        context = SerializationContext(known.topic, MessageField.VALUE)
        serializer = AvroSerializer(
            client,
            schema_str=known.registered_schema,
            conf=serializer_conf | {"subject.name.strategy": record_subject_name_strategy},
        )
        ours = encode(event, ids.id_of(known), known.schema)
        assert serializer(event, context) == ours, name
        assert deserializer(ours, context) == event, name
        assert decode(ours, writer_schemas) == (ids.id_of(known), event), name


def test_schema_ids_match_the_registry_and_refuse_what_is_not_registered(
    stack: Stack, applied_contract: None, raw_registry: SchemaRegistryClient, probe: _Probe
) -> None:
    ids = SchemaIds.connect(stack.registry.url)
    for known, schema_id in zip(event_types(), ids.all().values(), strict=True):
        expected = raw_registry.lookup_schema(
            known.subject, Schema(known.registered_schema, "AVRO")
        )
        assert schema_id == expected.schema_id

    with pytest.raises(SchemaNotRegisteredError) as caught:
        ids.id_of(probe)
    assert probe.subject in caught.value.one_line()
    assert "dossierhub schemas apply" in caught.value.one_line()

    registering = SchemaIds.connect(stack.registry.url, register=True)
    new_id = registering.id_of(probe)
    assert raw_registry.get_schema(new_id).schema_str is not None
    assert ids.id_of(probe) == new_id


def test_writer_schemas_are_cached_and_unknown_ids_are_none(
    stack: Stack, applied_contract: None
) -> None:
    writer_schemas = WriterSchemas.connect(stack.registry.url)
    known = event_type(EDITED)
    schema_id = SchemaIds.connect(stack.registry.url).id_of(known)
    first = writer_schemas(schema_id)
    assert first is not None
    assert first["name"] == known.fullname
    assert writer_schemas(schema_id) is first  # identity: serde keeps its compiled writer
    assert writer_schemas(2_000_000_000) is None
