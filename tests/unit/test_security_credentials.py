"""Secrets under the home: owner-only, never in a repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from dossierhub.security.credentials import (
    CredentialsError,
    KafkaCredential,
    load_kafka_credential,
    save_kafka_credential,
)


def test_a_saved_credential_is_owner_only_and_loads_back(tmp_path: Path) -> None:
    credential = KafkaCredential("agency-000.00.15.H29", "s3cret-value")
    path = save_kafka_credential(tmp_path, credential)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert load_kafka_credential(tmp_path, credential.username) == credential


def test_the_password_is_not_in_the_repr() -> None:
    assert "s3cret" not in repr(KafkaCredential("u", "s3cret"))


def test_a_missing_credential_names_the_file_and_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError) as caught:
        load_kafka_credential(tmp_path, "svc-sink")
    assert caught.value.path == tmp_path / "credentials" / "kafka" / "svc-sink.json"
    assert "DOSSIERHUB_KAFKA_USER" in (caught.value.hint or "")
