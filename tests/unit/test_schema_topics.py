"""The declarative topic list."""

from __future__ import annotations

import pytest

from dossierhub.errors import ConfigError, ValidationError
from schemas import topics


def test_canonical_topics() -> None:
    specs = {spec.name: spec for spec in topics.canonical_topics(replication_factor=1)}
    assert set(specs) == {
        "hub.catalog.events",
        "hub.dossier.events",
        "hub.feedback.events",
        "hub.reference.events",
        "hub.dossier.outcomes",
        "hub.dossier.alerts",
        "hub.aggregates",
        "hub.deadletter",
    }
    for name in ("hub.catalog.events", "hub.dossier.events", "hub.feedback.events"):
        assert specs[name].config["retention.ms"] == "-1"
        assert specs[name].config["cleanup.policy"] == "delete"
    for name in ("hub.reference.events", "hub.dossier.outcomes", "hub.aggregates"):
        assert specs[name].config["cleanup.policy"] == "compact"
    assert specs["hub.dossier.events"].partitions == 6
    # Same key and partition count: a dossier's derived records share its partition number.
    assert specs["hub.dossier.outcomes"].partitions == specs["hub.dossier.events"].partitions
    assert all(spec.replication_factor == 1 for spec in specs.values())
    assert all(spec.config["min.insync.replicas"] == "1" for spec in specs.values())


def test_replication_factor_comes_from_the_caller() -> None:
    specs = topics.canonical_topics(replication_factor=3)
    assert {spec.replication_factor for spec in specs} == {3}
    assert {spec.config["min.insync.replicas"] for spec in specs} == {"2"}
    with pytest.raises(ConfigError):
        topics.canonical_topics(replication_factor=0)


def test_inbound_topic_per_agency() -> None:
    assert topics.inbound_topic("000.00.15.H29") == "hub.inbound.000.00.15.H29"
    assert topics.inbound_agency("hub.inbound.000.00.15.H29") == "000.00.15.H29"
    assert topics.inbound_agency("hub.dossier.events") is None
    with pytest.raises(ValidationError) as caught:
        topics.inbound_topic("STP")
    assert caught.value.field == "agency_code"
    assert caught.value.value == "STP"


def test_all_topics_adds_one_inbound_topic_per_agency_once() -> None:
    specs = topics.all_topics(1, ["000.00.41.H29", "000.00.15.H29", "000.00.15.H29"])
    names = [spec.name for spec in specs]
    assert names[-2:] == ["hub.inbound.000.00.15.H29", "hub.inbound.000.00.41.H29"]
    assert len(names) == len(set(names)) == 10
    assert specs[-1].config["retention.ms"] == "-1"
