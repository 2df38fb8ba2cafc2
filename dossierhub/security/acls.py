"""The ACLs of every principal, as data: who may do what on which topic or group.

Pure functions, so the sets can be reviewed and unit-tested without a broker;
:mod:`dossierhub.security.kafka_admin` applies them. Everything is ALLOW from any host; with
``allow.everyone.if.no.acl.found=false`` on the broker, anything not listed here is denied.

- an agency (``User:agency-<CODE>``) may write to its own inbound topic and nothing else: no
  read anywhere, not even its own topic (the hub vouches for what it accepted, not the agency);
- ``processors`` (the Faust app: validator, dossier agent, aggregates) reads every inbound
  topic and the hub's topics, writes the hub's topics, owns its changelogs and its group;
- ``sink`` reads the topics it loads and commits in its own group, and writes nothing;
- ``monitor`` (``dossierhub lag``, the exporter) describes topics and groups, reads no data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from schemas import topics
from schemas.topics import inbound_topic

__all__ = [
    "ADMIN_USER",
    "BROKER_USER",
    "CONTROLLER_USER",
    "PROCESSORS_APP_ID",
    "SERVICE_NAMES",
    "SINK_GROUP",
    "SINK_READS",
    "Acl",
    "Operation",
    "Pattern",
    "Resource",
    "agency_acls",
    "agency_user",
    "service_acls",
    "service_user",
]

#: super users (``super.users`` on the broker): the broker itself, the controller listener's
#: principal, and the hub's administrator (topics, schemas, ACLs, agencies)
BROKER_USER: Final = "broker"
CONTROLLER_USER: Final = "controller"
ADMIN_USER: Final = "hub-admin"

# Named here rather than imported from stream_processors / sinks, which depend on this package;
# tests/unit/test_security_acls.py checks they agree.
PROCESSORS_APP_ID: Final = "dossierhub-processors"
SINK_GROUP: Final = "dossierhub-sink"
#: the topics the sink loads (sinks.tables.SINK_TOPICS)
SINK_READS: Final = (
    topics.CATALOG_EVENTS,
    topics.DOSSIER_EVENTS,
    topics.FEEDBACK_EVENTS,
    topics.REFERENCE_EVENTS,
    topics.DOSSIER_OUTCOMES,
    topics.DOSSIER_ALERTS,
    topics.AGGREGATES,
)
#: every topic of the hub but the inbound ones: the processors read and write all of them
_HUB_TOPICS: Final = (*SINK_READS, topics.DEADLETTER, topics.DOSSIER_INTAKE)

SERVICE_NAMES: Final = ("processors", "sink", "monitor")


class Resource(StrEnum):
    TOPIC = "topic"
    GROUP = "group"
    CLUSTER = "cluster"


class Pattern(StrEnum):
    LITERAL = "literal"
    PREFIXED = "prefixed"


class Operation(StrEnum):
    READ = "read"
    WRITE = "write"
    CREATE = "create"
    DESCRIBE = "describe"
    DESCRIBE_CONFIGS = "describe_configs"
    IDEMPOTENT_WRITE = "idempotent_write"
    ALL = "all"


#: Kafka's name of the one cluster resource
CLUSTER_NAME: Final = "kafka-cluster"


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW rule: ``principal`` may ``operation`` on ``resource`` ``name`` (``pattern``)."""

    principal: str
    resource: Resource
    name: str
    pattern: Pattern
    operation: Operation

    def __str__(self) -> str:
        return f"{self.principal} {self.operation} {self.resource}:{self.pattern}:{self.name}"


def agency_user(agency_code: str) -> str:
    """The SCRAM user name of an agency; raises ValidationError for a malformed code."""
    inbound_topic(agency_code)  # validates the code
    return f"agency-{agency_code}"


def service_user(service: str) -> str:
    if service not in SERVICE_NAMES:
        from dossierhub.errors import ConfigError

        raise ConfigError("service", service, f"expected one of {', '.join(SERVICE_NAMES)}")
    return f"svc-{service}"


def _principal(user: str) -> str:
    return f"User:{user}"


def agency_acls(agency_code: str) -> frozenset[Acl]:
    """Write (and describe, which a producer needs for metadata) on its own inbound topic, and
    idempotent writes: the SDK's producer is idempotent. Nothing to read."""
    who = _principal(agency_user(agency_code))
    topic = inbound_topic(agency_code)
    return frozenset(
        {
            Acl(who, Resource.TOPIC, topic, Pattern.LITERAL, Operation.WRITE),
            Acl(who, Resource.TOPIC, topic, Pattern.LITERAL, Operation.DESCRIBE),
            Acl(who, Resource.CLUSTER, CLUSTER_NAME, Pattern.LITERAL, Operation.IDEMPOTENT_WRITE),
        }
    )


def service_acls(service: str, *, app_id: str = PROCESSORS_APP_ID) -> frozenset[Acl]:
    """The least privilege of one hub service (see the module docstring)."""
    who = _principal(service_user(service))
    rules: set[Acl] = set()

    def allow(resource: Resource, name: str, pattern: Pattern, *ops: Operation) -> None:
        rules.update(Acl(who, resource, name, pattern, op) for op in ops)

    read = (Operation.READ, Operation.DESCRIBE)
    if service == "processors":
        # DESCRIBE_CONFIGS: `dossierhub run` checks the topics' declared configs at start
        allow(
            Resource.TOPIC,
            topics.INBOUND_PREFIX,
            Pattern.PREFIXED,
            *read,
            Operation.DESCRIBE_CONFIGS,
        )
        for topic in _HUB_TOPICS:
            allow(
                Resource.TOPIC,
                topic,
                Pattern.LITERAL,
                *read,
                Operation.WRITE,
                Operation.DESCRIBE_CONFIGS,
            )
        # the intake is the processors' own buffer: `dossierhub run` creates it
        allow(Resource.TOPIC, topics.DOSSIER_INTAKE, Pattern.LITERAL, Operation.CREATE)
        # its tables' changelogs and Faust's own topics (leader, repartition) start with the
        # app id; Faust creates and configures them itself
        allow(Resource.TOPIC, app_id, Pattern.PREFIXED, Operation.ALL)
        allow(Resource.GROUP, app_id, Pattern.PREFIXED, *read)
        # the reference reader's throw-away group (assign only, never commits)
        allow(Resource.GROUP, "dossierhub-reference-", Pattern.PREFIXED, *read)
        allow(Resource.CLUSTER, CLUSTER_NAME, Pattern.LITERAL, Operation.IDEMPOTENT_WRITE)
    elif service == "sink":
        for topic in SINK_READS:
            allow(Resource.TOPIC, topic, Pattern.LITERAL, *read)
        allow(Resource.GROUP, SINK_GROUP, Pattern.LITERAL, *read)
    else:  # monitor: offsets and lag, no records
        allow(Resource.TOPIC, "*", Pattern.LITERAL, Operation.DESCRIBE)
        allow(Resource.GROUP, "*", Pattern.LITERAL, Operation.DESCRIBE)
    return frozenset(rules)
