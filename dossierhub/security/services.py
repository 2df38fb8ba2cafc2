"""Provisioning whole principals: the hub's services at ``stack up``, agencies on demand."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dossierhub.security.acls import (
    SERVICE_NAMES,
    agency_acls,
    agency_user,
    service_acls,
    service_user,
)
from dossierhub.security.kafka_admin import PrincipalAdmin, PrincipalResult

__all__ = ["AgencyEntry", "add_agency", "list_agencies", "provision_services", "revoke_agency"]

_AGENCY_PREFIX = "agency-"


def provision_services(home: Path, admin_config: Mapping[str, object]) -> list[PrincipalResult]:
    """Every hub service's principal with exactly its ACLs (idempotent)."""
    admin = PrincipalAdmin(admin_config, home)
    return [
        admin.provision(service_user(service), service_acls(service)) for service in SERVICE_NAMES
    ]


def add_agency(
    home: Path, admin_config: Mapping[str, object], agency_code: str, *, replication_factor: int
) -> tuple[PrincipalResult, bool]:
    """The agency's inbound topic (if missing), principal and ACLs. Returns the principal and
    whether the topic was created now."""
    from schemas.admin import TopicAdmin
    from schemas.topics import inbound_topic_spec

    user = agency_user(agency_code)  # validates the code before anything is contacted
    topics = TopicAdmin(admin_config)
    [result] = topics.apply([inbound_topic_spec(agency_code, replication_factor)])
    if not result.ok:
        from dossierhub.security.kafka_admin import KafkaAdminError

        raise KafkaAdminError(
            f"create the inbound topic of {agency_code}", "; ".join(result.errors)
        )
    created = result.status == "created"
    principal = PrincipalAdmin(admin_config, home).provision(user, agency_acls(agency_code))
    return principal, created


def revoke_agency(
    home: Path, admin_config: Mapping[str, object], agency_code: str
) -> tuple[int, bool]:
    """Delete the agency's ACLs, then its credential; its inbound topic and data stay."""
    return PrincipalAdmin(admin_config, home).remove(agency_user(agency_code))


@dataclass(frozen=True)
class AgencyEntry:
    code: str
    user: str
    has_credential: bool
    acls: int

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "user": self.user,
            "has_credential": self.has_credential,
            "acls": self.acls,
        }


def list_agencies(home: Path, admin_config: Mapping[str, object]) -> list[AgencyEntry]:
    """Agencies with a credential or an ACL on the cluster."""
    admin = PrincipalAdmin(admin_config, home)
    users = {u for u in admin.users() if u.startswith(_AGENCY_PREFIX)}
    counts: dict[str, int] = {}
    for acl in admin.acls():
        user = acl.principal.removeprefix("User:")
        if user.startswith(_AGENCY_PREFIX):
            counts[user] = counts.get(user, 0) + 1
    return [
        AgencyEntry(user.removeprefix(_AGENCY_PREFIX), user, user in users, counts.get(user, 0))
        for user in sorted(users | set(counts))
    ]
