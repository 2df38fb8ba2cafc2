"""The state value: statuses and DVCQG codes, the dict form, retention."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from dossierhub.errors import ValidationError
from schemas.dvcqg import DvcqgStatus
from stream_processors.dossier import STATE_FORMAT_VERSION, DossierState, Status, is_expired
from tests.unit.test_dossier_events import (
    apology,
    ev,
    march_received,
    resolved,
    state_of,
    supplement_requested,
    supplemented,
    vn,
)


def test_status_codes_are_the_dvcqg_codes() -> None:
    assert [s.value for s in Status] == list(range(1, 11))
    for status in Status:
        assert status.dvcqg == DvcqgStatus(status.value)
        assert status.name == status.dvcqg.name
        assert status.is_terminal is status.dvcqg.is_terminal


def _rich() -> DossierState:
    return state_of(
        [
            ev("DossierSubmitted", vn(2023, 3, 14)),
            march_received(),
            supplement_requested(vn(2023, 3, 16)),
            supplemented(vn(2023, 3, 17)),
            supplement_requested(vn(2023, 3, 20), seq=2),
            ev("FinancialObligationRequested", vn(2023, 3, 21)),
            ev("PaymentCompleted", vn(2023, 3, 21, 11)),
            apology(vn(2023, 3, 24)),
            resolved(vn(2023, 4, 3)),
        ]
    )


def test_dict_form_is_json_safe_and_round_trips() -> None:
    state = _rich()
    data = state.to_dict()
    text = json.dumps(data)
    assert DossierState.from_dict(json.loads(text)) == state
    assert data["format"] == STATE_FORMAT_VERSION
    assert data["status"] == "RESOLVED"
    assert data["received_at"] == "2023-03-15T02:12:00+00:00"


def test_dict_form_refuses_unknown_versions_and_fields() -> None:
    data = _rich().to_dict()
    with pytest.raises(ValidationError):
        DossierState.from_dict({**data, "format": 99})
    with pytest.raises(ValidationError):
        DossierState.from_dict({**data, "surprise": 1})
    with pytest.raises(ValidationError):
        DossierState.from_dict({**data, "received_at": "2023-03-15T02:12:00"})


def test_state_views() -> None:
    state = _rich()
    assert state.supplement_request_count == 2
    assert state.open_pause is not None
    assert state.open_pause.sequence_no == 2
    assert state.ended_at == vn(2023, 4, 3)
    assert not state.is_in_progress
    assert not state.is_closed  # resolved, not yet returned


def test_closed_dossiers_expire_after_retention() -> None:
    returned = state_of(
        [march_received(), resolved(vn(2023, 3, 28)), ev("ResultReturned", vn(2023, 3, 29))]
    )
    retention = timedelta(days=30)
    assert not is_expired(returned, vn(2023, 4, 27), retention)
    assert is_expired(returned, vn(2023, 4, 28), retention)


def test_open_and_resolved_dossiers_never_expire() -> None:
    far = vn(2030, 1, 1)
    assert not is_expired(state_of([march_received()]), far, timedelta(days=1))
    assert not is_expired(_rich(), far, timedelta(days=1))
