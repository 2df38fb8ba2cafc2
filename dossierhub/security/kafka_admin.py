"""Principals and ACLs on the broker, through confluent-kafka's Admin API.

A principal is a SCRAM-SHA-512 credential (its password generated here and saved under the
home, mode 600) plus the ACL set of :mod:`dossierhub.security.acls`. Revoking deletes both:
the ACLs first, so requests on connections that are already open fail at once (the broker
authorizes every request), then the credential, so no new connection authenticates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from dossierhub.errors import HubError
from dossierhub.security.acls import Acl, Operation, Pattern, Resource
from dossierhub.security.credentials import (
    KafkaCredential,
    kafka_credential_path,
    new_password,
    save_kafka_credential,
)

__all__ = ["KafkaAdminError", "PrincipalAdmin", "PrincipalResult"]

_RESOURCE = {
    Resource.TOPIC: ResourceType.TOPIC,
    Resource.GROUP: ResourceType.GROUP,
    Resource.CLUSTER: ResourceType.BROKER,  # confluent-kafka's name for the cluster resource
}
_PATTERN = {
    Pattern.LITERAL: ResourcePatternType.LITERAL,
    Pattern.PREFIXED: ResourcePatternType.PREFIXED,
}
_OPERATION = {
    Operation.READ: AclOperation.READ,
    Operation.WRITE: AclOperation.WRITE,
    Operation.CREATE: AclOperation.CREATE,
    Operation.DESCRIBE: AclOperation.DESCRIBE,
    Operation.DESCRIBE_CONFIGS: AclOperation.DESCRIBE_CONFIGS,
    Operation.IDEMPOTENT_WRITE: AclOperation.IDEMPOTENT_WRITE,
    Operation.ALL: AclOperation.ALL,
}
# SCRAM's recommended minimum; the broker rejects fewer
_ITERATIONS = 8192


class KafkaAdminError(HubError):
    """The broker refused or failed an ACL or credential request."""

    def __init__(self, what: str, cause: str, *, hint: str | None = None) -> None:
        super().__init__(f"kafka: {what}: {cause}", hint=hint)
        self.what = what


@dataclass(frozen=True)
class PrincipalResult:
    user: str
    credentials: Path
    acls: int


def _binding(acl: Acl) -> AclBinding:
    return AclBinding(
        _RESOURCE[acl.resource],
        acl.name,
        _PATTERN[acl.pattern],
        acl.principal,
        "*",
        _OPERATION[acl.operation],
        AclPermissionType.ALLOW,
    )


def _from_binding(binding: Any) -> Acl:
    resource = {v: k for k, v in _RESOURCE.items()}[binding.restype]
    pattern = {v: k for k, v in _PATTERN.items()}[binding.resource_pattern_type]
    operation = {v: k for k, v in _OPERATION.items()}.get(binding.operation, Operation.ALL)
    return Acl(binding.principal, resource, binding.name, pattern, operation)


def _filter(principal: str | None) -> AclBindingFilter:
    """Every rule (of ``principal`` if given): None matches anything in a filter, which
    confluent-kafka's annotations do not say."""
    return AclBindingFilter(
        ResourceType.ANY,
        None,  # type: ignore[arg-type]
        ResourcePatternType.ANY,
        principal,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        AclOperation.ANY,
        AclPermissionType.ANY,
    )


def _wait(future: Future[Any], what: str, timeout_s: float) -> Any:
    try:
        return future.result(timeout=timeout_s)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else exc
        cause = error.str() if hasattr(error, "str") else str(error)
        raise KafkaAdminError(what, cause) from exc
    except TimeoutError as exc:
        raise KafkaAdminError(what, f"no answer within {timeout_s:.0f}s") from exc


class PrincipalAdmin:
    """Create, list and remove SCRAM principals and their ACLs (as a super user)."""

    def __init__(
        self, kafka_config: Mapping[str, object], home: Path, *, timeout_s: float = 30.0
    ) -> None:
        self._admin = AdminClient(dict(kafka_config))  # type: ignore[arg-type]
        self._home = home
        self._timeout_s = timeout_s

    # -- credentials -------------------------------------------------------------------
    def upsert_user(self, user: str, password: str | None = None) -> Path:
        """Create ``user`` (or give it a new password) and save the credential file."""
        credential = KafkaCredential(user, password or new_password())
        upsertion = UserScramCredentialUpsertion(
            user,
            ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, _ITERATIONS),
            credential.password.encode(),
        )
        futures = self._admin.alter_user_scram_credentials([upsertion])
        _wait(futures[user], f"set the SCRAM credential of {user}", self._timeout_s)
        return save_kafka_credential(self._home, credential)

    def delete_user(self, user: str) -> bool:
        """Delete ``user``'s credential; False if it had none."""
        deletion = UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_512)
        futures = self._admin.alter_user_scram_credentials([deletion])
        try:
            _wait(futures[user], f"delete the SCRAM credential of {user}", self._timeout_s)
        except KafkaAdminError as exc:
            if "RESOURCE_NOT_FOUND" in str(exc) or "not found" in str(exc).lower():
                return False
            raise
        kafka_credential_path(self._home, user).unlink(missing_ok=True)
        return True

    def users(self) -> list[str]:
        """Every user with a SCRAM credential on the cluster."""
        future = self._admin.describe_user_scram_credentials()  # no users: one future
        described = _wait(cast("Future[Any]", future), "list SCRAM users", self._timeout_s)
        return sorted(described)

    # -- ACLs --------------------------------------------------------------------------
    def grant(self, acls: Iterable[Acl]) -> int:
        bindings = [_binding(acl) for acl in sorted(acls)]
        if not bindings:
            return 0
        futures = self._admin.create_acls(bindings)
        for binding, future in futures.items():
            _wait(future, f"create ACL {binding}", self._timeout_s)
        return len(bindings)

    def acls(self, principal: str | None = None) -> list[Acl]:
        """The ALLOW rules on the cluster, of ``principal`` (``User:name``) or of everyone."""
        query = _filter(principal)
        found = _wait(self._admin.describe_acls(query), "describe ACLs", self._timeout_s)
        return sorted(_from_binding(b) for b in found)

    def revoke_all(self, principal: str) -> int:
        """Delete every ACL of ``principal``; the number deleted."""
        query = _filter(principal)
        futures = self._admin.delete_acls([query])
        deleted = _wait(futures[query], f"delete the ACLs of {principal}", self._timeout_s)
        return len(deleted)

    # -- a principal as a whole ----------------------------------------------------------
    def provision(self, user: str, acls: Iterable[Acl]) -> PrincipalResult:
        """Credential (kept if the home already has one) and exactly ``acls``: rules the
        principal holds beyond them are removed, so re-running narrows, never widens."""
        path = kafka_credential_path(self._home, user)
        existing = _existing_password(path)
        path = self.upsert_user(user, existing)
        wanted = frozenset(acls)
        principal = f"User:{user}"
        if set(self.acls(principal)) != set(wanted):
            self.revoke_all(principal)
            self.grant(wanted)
        return PrincipalResult(user, path, len(wanted))

    def remove(self, user: str) -> tuple[int, bool]:
        """ACLs first (open connections lose access on their next request), then the
        credential (no new connection authenticates). Returns (ACLs deleted, had credential)."""
        deleted = self.revoke_all(f"User:{user}")
        had = self.delete_user(user)
        return deleted, had


def _existing_password(path: Path) -> str | None:
    from dossierhub.security.credentials import CredentialsError, read_secret

    try:
        return read_secret(path).get("password")
    except CredentialsError:
        return None
