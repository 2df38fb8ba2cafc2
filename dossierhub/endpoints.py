"""Where the hub's services are: from settings (external services) or the local stack.

Every command that talks to Kafka, the registry or the warehouse starts here, so "which
broker?" has one answer: ``DOSSIERHUB_*`` variables first, else the stack of ``DOSSIERHUB_HOME``.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

from confluent_kafka.admin import AdminClient

from dossierhub.errors import ConfigError, ServiceUnreachableError
from dossierhub.settings import Settings

__all__ = ["Endpoints", "check_kafka", "check_registry", "kafka_security"]

_librdkafka_log = logging.getLogger("dossierhub.librdkafka")
_librdkafka_log.addHandler(logging.NullHandler())
_librdkafka_log.propagate = False


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap: str
    registry_url: str
    warehouse_url: str
    #: SASL settings of the principal this process connects as (empty: plaintext); never in
    #: a repr, it holds a password
    kafka_security: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def resolve(cls, settings: Settings) -> Endpoints:
        from dossierhub.stack import load_ports

        ports = load_ports(settings.home)
        bootstrap = settings.kafka_bootstrap or (ports and f"127.0.0.1:{ports['kafka']}")
        registry = settings.registry_url or (
            ports and f"http://127.0.0.1:{ports['registry']}/apis/ccompat/v7"
        )
        if not bootstrap or not registry:
            missing = "DOSSIERHUB_KAFKA_BOOTSTRAP" if not bootstrap else "DOSSIERHUB_REGISTRY_URL"
            raise ConfigError(
                missing,
                None,
                f"not set and no local stack in {settings.home}",
                hint="run `dossierhub stack up`, or set it to an external service",
            )
        return cls(bootstrap, registry, settings.effective_warehouse_url, kafka_security(settings))

    def kafka_config(self) -> dict[str, object]:
        """librdkafka settings every client of the hub shares (with SASL in secured mode)."""
        return {
            "bootstrap.servers": self.kafka_bootstrap,
            "logger": _librdkafka_log,
            **self.kafka_security,
        }


def kafka_security(settings: Settings) -> dict[str, str]:
    """librdkafka's SASL settings for ``DOSSIERHUB_KAFKA_USER`` in sasl mode, else nothing."""
    if settings.kafka_security != "sasl":
        return {}
    from dossierhub.security.credentials import load_kafka_credential

    return load_kafka_credential(settings.home, settings.kafka_user).client_config()


def check_kafka(
    bootstrap: str, timeout_s: float = 5.0, *, security: Mapping[str, str] | None = None
) -> int:
    """Number of brokers in the cluster at ``bootstrap``, or a one-line unreachable error."""
    config = {"bootstrap.servers": bootstrap, "logger": _librdkafka_log, **(security or {})}
    admin = AdminClient(config)  # type: ignore[arg-type]
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except Exception as exc:  # KafkaException(_TRANSPORT / _TIMED_OUT)
        raise ServiceUnreachableError(
            "kafka",
            bootstrap,
            _kafka_reason(exc),
            hint="check DOSSIERHUB_KAFKA_BOOTSTRAP, or start the local stack: dossierhub stack up",
        ) from exc
    if not metadata.brokers:
        raise ServiceUnreachableError("kafka", bootstrap, "no broker in the cluster metadata")
    return len(metadata.brokers)


def check_registry(url: str, timeout_s: float = 5.0) -> int:
    """Number of subjects in the Confluent-compatible registry at ``url``."""
    try:
        with urllib.request.urlopen(f"{url}/subjects", timeout=timeout_s) as response:
            subjects = json.loads(response.read())
    except (urllib.error.URLError, OSError, json.JSONDecodeError) as exc:
        raise ServiceUnreachableError(
            "registry",
            url,
            str(getattr(exc, "reason", exc)),
            hint="check DOSSIERHUB_REGISTRY_URL (a Confluent-compatible API, e.g. "
            "…/apis/ccompat/v7), or start the local stack: dossierhub stack up",
        ) from exc
    return len(subjects) if isinstance(subjects, list) else 0


def _kafka_reason(exc: Exception) -> str:
    text = str(exc)
    if "_TRANSPORT" in text or "_TIMED_OUT" in text or "timed out" in text.lower():
        return "no broker answered within the timeout"
    return text.splitlines()[0] if text else type(exc).__name__
