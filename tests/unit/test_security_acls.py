"""The ACL sets of agencies and hub services, computed without a broker."""

from __future__ import annotations

import pytest

from dossierhub.errors import ConfigError, ValidationError
from dossierhub.security.acls import (
    PROCESSORS_APP_ID,
    SERVICE_NAMES,
    SINK_GROUP,
    SINK_READS,
    Acl,
    Operation,
    Pattern,
    Resource,
    agency_acls,
    service_acls,
)
from schemas.topics import DEADLETTER, DOSSIER_EVENTS, INBOUND_PREFIX, inbound_topic

CODE = "000.00.15.H29"


def test_an_agency_may_write_its_own_inbound_topic_and_nothing_else() -> None:
    who = f"User:agency-{CODE}"
    assert agency_acls(CODE) == {
        Acl(who, Resource.TOPIC, inbound_topic(CODE), Pattern.LITERAL, Operation.WRITE),
        Acl(who, Resource.TOPIC, inbound_topic(CODE), Pattern.LITERAL, Operation.DESCRIBE),
        Acl(who, Resource.CLUSTER, "kafka-cluster", Pattern.LITERAL, Operation.IDEMPOTENT_WRITE),
    }


def test_agencies_share_no_rule_but_idempotent_writes() -> None:
    mine, theirs = agency_acls(CODE), agency_acls("000.00.16.H29")
    topics_mine = {a.name for a in mine if a.resource is Resource.TOPIC}
    topics_theirs = {a.name for a in theirs if a.resource is Resource.TOPIC}
    assert topics_mine.isdisjoint(topics_theirs)


def test_a_malformed_agency_code_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        agency_acls("000.00.15.H29*")
    assert caught.value.value == "000.00.15.H29*"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_no_service_is_granted_all_on_anything_but_its_own_prefix(service: str) -> None:
    for acl in service_acls(service):
        if acl.operation is Operation.ALL:
            assert (acl.resource, acl.pattern, acl.name) == (
                Resource.TOPIC,
                Pattern.PREFIXED,
                PROCESSORS_APP_ID,
            )


def test_the_sink_reads_its_topics_in_its_group_and_writes_nothing() -> None:
    acls = service_acls("sink")
    assert {a.operation for a in acls} == {Operation.READ, Operation.DESCRIBE}
    assert {a.name for a in acls if a.resource is Resource.TOPIC} == set(SINK_READS)
    assert {a.name for a in acls if a.resource is Resource.GROUP} == {SINK_GROUP}


def test_the_processors_read_every_inbound_topic_and_write_the_hub_topics() -> None:
    acls = service_acls("processors")
    who = "User:svc-processors"
    prefix = Acl(who, Resource.TOPIC, INBOUND_PREFIX, Pattern.PREFIXED, Operation.READ)
    assert prefix in acls
    # but may not write to an agency's topic (it would publish as that agency)
    assert not any(
        a.operation is Operation.WRITE and a.name.startswith(INBOUND_PREFIX) for a in acls
    )
    for topic in (DOSSIER_EVENTS, DEADLETTER):
        assert Acl(who, Resource.TOPIC, topic, Pattern.LITERAL, Operation.WRITE) in acls


def test_the_monitor_reads_no_records() -> None:
    assert {a.operation for a in service_acls("monitor")} == {Operation.DESCRIBE}


def test_an_unknown_service_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        service_acls("validator")
    assert caught.value.value == "validator"


def test_names_agree_with_the_services_that_use_them() -> None:
    # acls.py names them itself (the services import this package, not the reverse)
    from sinks.sink import DEFAULT_GROUP
    from sinks.tables import SINK_TOPICS
    from stream_processors.config import DEFAULT_APP_ID

    assert SINK_GROUP == DEFAULT_GROUP
    assert set(SINK_READS) == set(SINK_TOPICS)
    assert PROCESSORS_APP_ID == DEFAULT_APP_ID
