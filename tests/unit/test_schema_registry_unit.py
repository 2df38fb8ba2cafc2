"""Topic and registry administration without a broker: the diff, the schema source, the CLI's
argument checks. The real services are exercised in tests/integration/test_topics_schemas.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dossierhub.errors import ConfigError
from schemas import event_type, event_types
from schemas._files import AVRO_DIR
from schemas.admin import (
    Action,
    TopicAdminError,
    TopicResult,
    TopicState,
    is_declared,
    plan_topic,
    replication_factor_for,
)
from schemas.errors import SchemaLoadError
from schemas.registry import RegistryError, load_schemas
from schemas.topics import TopicKind, TopicSpec, canonical_topics, inbound_topic_spec
from tests.helpers import run_cli

_LOG = TopicSpec(
    name="test.log",
    kind=TopicKind.EVENT_LOG,
    partitions=6,
    replication_factor=1,
    config={"cleanup.policy": "delete", "retention.ms": "-1"},
    description="a test topic",
)


def _state(partitions: int = 6, replicas: int = 1, **config: tuple[str, bool]) -> TopicState:
    pinned = {"cleanup.policy": ("delete", True), "retention.ms": ("-1", True)}
    return TopicState("test.log", partitions, replicas, pinned | config)


def test_missing_topic_is_created() -> None:
    plan = plan_topic(_LOG, None)
    assert plan.action is Action.CREATE
    assert plan.changes() == []
    assert TopicResult(plan, dry_run=False).status == "created"
    assert TopicResult(plan, dry_run=True).status == "would be created"


def test_matching_topic_is_unchanged() -> None:
    plan = plan_topic(_LOG, _state())
    assert plan.action is Action.UNCHANGED
    assert (plan.errors, plan.warnings, plan.changes()) == ((), (), [])


def test_more_partitions_and_a_changed_config_are_an_update() -> None:
    plan = plan_topic(_LOG, _state(partitions=3, **{"retention.ms": ("604800000", True)}))
    assert plan.action is Action.UPDATE
    assert plan.adds_partitions
    assert plan.config_changes == {"retention.ms": ("604800000", "-1")}
    assert plan.changes() == ["partitions 3 → 6", "retention.ms 604800000 → -1"]


def test_value_inherited_from_the_broker_is_pinned_on_the_topic() -> None:
    # Equal today, but a change of the broker default would silently change the topic.
    plan = plan_topic(_LOG, _state(**{"retention.ms": ("-1", False)}))
    assert plan.action is Action.UPDATE
    assert plan.changes() == ["retention.ms (default) → -1"]


def test_fewer_partitions_is_an_error_not_a_change() -> None:
    plan = plan_topic(_LOG, _state(partitions=12))
    assert plan.action is Action.UNCHANGED
    assert not plan.adds_partitions
    assert len(plan.errors) == 1
    assert "has 12 partitions, the declaration asks for 6" in plan.errors[0]
    assert "cannot remove partitions" in plan.errors[0]
    assert not TopicResult(plan, dry_run=False).ok
    assert TopicResult(plan, dry_run=False).status == "conflict"


def test_other_replication_factor_is_a_warning() -> None:
    plan = plan_topic(_LOG, _state(replicas=3))
    assert plan.action is Action.UNCHANGED
    assert plan.warnings == (
        "replication factor is 3, declared 1: change it with a partition reassignment",
    )
    assert TopicResult(plan, dry_run=False).ok


def test_failure_is_reported_with_the_topic() -> None:
    failure = TopicAdminError("test.log", "create", "INVALID_CONFIG: bad value")
    result = TopicResult(plan_topic(_LOG, None), dry_run=False, failure=failure)
    assert result.status == "failed"
    assert not result.ok
    assert result.as_dict()["errors"] == [
        "topic test.log: create failed: INVALID_CONFIG: bad value"
    ]


@pytest.mark.parametrize(
    ("brokers", "requested", "expected"), [(1, None, 1), (2, None, 2), (5, None, 3), (5, 5, 5)]
)
def test_replication_factor(brokers: int, requested: int | None, expected: int) -> None:
    assert replication_factor_for(brokers, requested) == expected


def test_replication_factor_beyond_the_brokers_is_refused() -> None:
    with pytest.raises(ConfigError, match="only 1 broker"):
        replication_factor_for(1, 3)
    with pytest.raises(ConfigError, match="at least 1"):
        replication_factor_for(3, 0)


def test_declared_topics() -> None:
    assert all(is_declared(spec.name) for spec in canonical_topics(1))
    assert is_declared(inbound_topic_spec("000.00.15.H29", 1).name)
    assert not is_declared("hub.inbound.not-an-agency")
    assert not is_declared("__consumer_offsets")


def test_schemas_from_a_copied_directory_equal_the_packaged_registered_forms(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "avro"
    shutil.copytree(AVRO_DIR, copy)
    assert load_schemas(copy) == load_schemas()
    assert load_schemas() == {t.subject: t.registered_schema for t in event_types()}


def test_schemas_dir_without_a_file_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SchemaLoadError) as caught:
        load_schemas(tmp_path, [event_type("DossierReceived")])
    assert caught.value.path == tmp_path / "vn.hcmc.dossierhub.dossier.DossierReceived.avsc"
    assert "no such file" in str(caught.value)


def test_registry_error_is_one_line_with_subject_and_codes() -> None:
    error = RegistryError("register", "vn.x.Y", "incompatible", http_status=409, error_code=409)
    assert error.one_line() == "registry: register vn.x.Y: incompatible (HTTP 409, error 409)"


def test_cli_refuses_a_malformed_agency_code_before_contacting_kafka(tmp_path: Path) -> None:
    result = run_cli("topics", "apply", "--agency", "STP", home=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "agency_code='STP'" in result.stderr
    assert result.stderr.count("\n") == 1


def test_cli_refuses_an_unknown_event_type(tmp_path: Path) -> None:
    result = run_cli("schemas", "check", "--event-type", "DossierRecieved", home=tmp_path)
    assert result.returncode == 2
    assert "unknown event type 'DossierRecieved'" in result.stderr
