"""Dead letters are counted per agency: whose inbound topic the refused record came on."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from dossierhub.monitoring.metrics import StageMetrics
from schemas.topics import DOSSIER_INTAKE, inbound_topic
from stream_processors.app import _inbound_agency_of, _reason
from stream_processors.messages import Source, dead_letter
from stream_processors.validator import Refusal

MISMATCH = Refusal.AGENCY_MISMATCH.value


def rejected(metrics: StageMetrics) -> dict[tuple[str, str], float]:
    return {
        (s.labels["agency"], s.labels["reason"]): s.value
        for family in text_string_to_metric_families(metrics.render().decode())
        if family.name == "dossierhub_inbound_rejected"
        for s in family.samples
        if s.name == "dossierhub_inbound_rejected_total"
    }


def test_agency_mismatches_are_counted_for_the_topic_they_came_on() -> None:
    metrics = StageMetrics()
    letters = [
        dead_letter(b"x", None, MISMATCH, "claims 000.00.16.H29", Source(inbound_topic(code), 0, n))
        for n, code in enumerate(["000.00.15.H29", "000.00.15.H29", "000.00.16.H29"])
    ]
    # a dead letter from a later stage has no inbound source: not an agency's rejection
    letters.append(dead_letter(b"y", None, "duplicate_event", "seen", Source(DOSSIER_INTAKE, 0, 9)))
    for letter in letters:
        if agency := _inbound_agency_of(letter):
            metrics.rejected_from(agency, _reason(letter))
    assert rejected(metrics) == {
        ("000.00.15.H29", MISMATCH): 2.0,
        ("000.00.16.H29", MISMATCH): 1.0,
    }
