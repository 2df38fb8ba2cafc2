"""Who may do what on the hub: stored credentials, the ACLs of each principal, applying them.

- :mod:`.credentials` — generated passwords kept under ``<home>/credentials`` (mode 600);
- :mod:`.acls` — the ACL set of an agency or a hub service, as a pure function;
- :mod:`.kafka_admin` — creating, listing and revoking principals on the broker.
"""

from dossierhub.security.acls import (
    ADMIN_USER,
    BROKER_USER,
    CONTROLLER_USER,
    SERVICE_NAMES,
    Acl,
    agency_acls,
    agency_user,
    service_acls,
    service_user,
)
from dossierhub.security.credentials import (
    CredentialsError,
    KafkaCredential,
    kafka_credential_path,
    load_kafka_credential,
    new_password,
    read_secret,
    save_kafka_credential,
    secrets_dir,
    write_secret,
)

__all__ = [
    "ADMIN_USER",
    "BROKER_USER",
    "CONTROLLER_USER",
    "SERVICE_NAMES",
    "Acl",
    "CredentialsError",
    "KafkaCredential",
    "agency_acls",
    "agency_user",
    "kafka_credential_path",
    "load_kafka_credential",
    "new_password",
    "read_secret",
    "save_kafka_credential",
    "secrets_dir",
    "service_acls",
    "service_user",
    "write_secret",
]
