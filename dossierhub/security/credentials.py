"""Generated secrets kept under the stack's home, readable by its owner alone.

A secret is a small JSON file in ``<home>/credentials/<kind>/`` (directories mode 700, files
mode 600). They are never in the repository (the home is ignored by git) and never printed:
commands print the file's path.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from dossierhub.errors import HubError

__all__ = [
    "SCRAM_MECHANISM",
    "CredentialsError",
    "KafkaCredential",
    "kafka_credential_path",
    "load_kafka_credential",
    "new_password",
    "read_secret",
    "save_kafka_credential",
    "secrets_dir",
    "write_secret",
]

SCRAM_MECHANISM = "SCRAM-SHA-512"


class CredentialsError(HubError):
    """A credential file is missing or unreadable."""

    def __init__(self, path: Path, problem: str, *, hint: str | None = None) -> None:
        super().__init__(f"{path}: {problem}", hint=hint)
        self.path = path


def new_password() -> str:
    # url-safe: it goes into JAAS lines and URLs unquoted
    return secrets.token_urlsafe(24)


def secrets_dir(home: Path, kind: str) -> Path:
    """``<home>/credentials/<kind>``, created owner-only."""
    path = home / "credentials" / kind
    path.mkdir(parents=True, exist_ok=True)
    for level in (home / "credentials", path):
        level.chmod(0o700)
    return path


def write_secret(path: Path, data: dict[str, str]) -> Path:
    """Write ``data`` as JSON readable by the owner alone (created with mode 600, never wider
    even for an instant)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2)
        out.write("\n")
    tmp.chmod(0o600)
    tmp.replace(path)
    return path


def read_secret(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise CredentialsError(path, "no such credential file") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise CredentialsError(path, f"unreadable ({exc})") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise CredentialsError(path, "expected a JSON object of strings")
    return data


@dataclass(frozen=True)
class KafkaCredential:
    username: str
    password: str
    mechanism: str = SCRAM_MECHANISM

    def __repr__(self) -> str:  # never a password in a log line or a traceback
        return f"KafkaCredential(username={self.username!r}, mechanism={self.mechanism!r})"

    def as_dict(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password, "mechanism": self.mechanism}

    def client_config(self) -> dict[str, str]:
        """librdkafka (confluent-kafka) settings for this principal."""
        return {
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": self.mechanism,
            "sasl.username": self.username,
            "sasl.password": self.password,
        }


def kafka_credential_path(home: Path, username: str) -> Path:
    return home / "credentials" / "kafka" / f"{username}.json"


def save_kafka_credential(home: Path, credential: KafkaCredential) -> Path:
    secrets_dir(home, "kafka")
    return write_secret(kafka_credential_path(home, credential.username), credential.as_dict())


def load_kafka_credential(home: Path, username: str) -> KafkaCredential:
    path = kafka_credential_path(home, username)
    try:
        data = read_secret(path)
    except CredentialsError as exc:
        exc.hint = (
            "in sasl mode `dossierhub stack up` writes the hub's principals and "
            "`dossierhub agencies add CODE` an agency's; check DOSSIERHUB_KAFKA_USER"
        )
        raise
    try:
        return KafkaCredential(
            data["username"], data["password"], data.get("mechanism", SCRAM_MECHANISM)
        )
    except KeyError as exc:
        raise CredentialsError(path, f"missing key {exc.args[0]!r}") from exc
