"""The hub's one settings object.

This is the only module that reads the environment. Everything else receives a
:class:`Settings` explicitly, so a test or a second stack can run side by side with its own.

Environment variables (all optional):

=============================  ===============================================================
``DOSSIERHUB_HOME``            data dir of the local stack (logs, Kafka log dirs, registry and
                               ClickHouse data, the embedded warehouse). Default: ``.dossierhub/``
                               in the checkout.
``DOSSIERHUB_KAFKA_BOOTSTRAP`` ``host:port`` of an external Kafka; default: the local stack's.
``DOSSIERHUB_REGISTRY_URL``    URL of an external Confluent-compatible schema registry;
                               default: the local stack's Apicurio (``…/apis/ccompat/v7``).
``DOSSIERHUB_WAREHOUSE_URL``   ``chdb:///path`` (embedded, the default: ``<home>/warehouse``) or
                               ``clickhouse://user:password@host:port/database``.
``DOSSIERHUB_KAFKA_HEAP``      JVM heap of the local broker. Default ``1g``.
``DOSSIERHUB_REGISTRY_HEAP``   JVM heap of the local registry. Default ``512m``.
``DOSSIERHUB_JAVA``            Java for Kafka (17+). Default: ``java`` on PATH.
``DOSSIERHUB_REGISTRY_JAVA``   Java for Apicurio 3.3 (21+). Default: the newest JDK found under
                               ``/usr/lib/jvm``; without one, Apicurio 3.0 runs on Java 17.
``DOSSIERHUB_STARTUP_TIMEOUT`` seconds to wait for each service to become ready. Default 120.
``DOSSIERHUB_LAG_STALL_SECONDS`` a consumer group's partition whose committed offset has not
                               moved for this long while it lags is STALL (a member owns it) or
                               STOP (nobody does): ``dossierhub lag``, the exporter. Default 120.
``DOSSIERHUB_LAG_STOP_SECONDS`` not moved for this long while lagging is STOP even with an
                               owner. Default 600; at least the stall time.
``DOSSIERHUB_DELIVERY_TIMEOUT`` seconds a published event may wait for the broker's
                               acknowledgement before the publisher reports it undelivered.
                               Default 60.
``DOSSIERHUB_SINK_BATCH_ROWS`` the sink inserts once this many messages are buffered.
                               Default 50000 (throughput in a replay).
``DOSSIERHUB_SINK_BATCH_SECONDS`` … or once the oldest buffered message waited this long.
                               Default 1 (latency in quiet hours).
``DOSSIERHUB_KAFKA_SECURITY``  ``plaintext`` (default: no authentication, loopback only) or
                               ``sasl``: SASL/SCRAM-SHA-512 and the StandardAuthorizer with
                               per-principal ACLs (README, "Security").
``DOSSIERHUB_KAFKA_USER``      in ``sasl`` mode, the principal this process connects as; its
                               password is read from ``<home>/credentials/kafka/<user>.json``
                               (written by ``stack up`` / ``agencies``). Default ``hub-admin``.
``DOSSIERHUB_HTTP_HOST``       address the hub's HTTP endpoints (processors' web views,
                               ``/metrics``, ``/healthz``) listen on. Default ``127.0.0.1``.
``DOSSIERHUB_WAREHOUSE_ANALYST_URL`` ``clickhouse://…`` URL ``warehouse query`` connects with;
                               default: the warehouse URL with the local server's read-only
                               ``analyst`` user when its credentials are in the home.
``DOSSIERHUB_PSEUDONYM_KEY``   the key the publisher SDK pseudonymizes citizens' identifiers
                               with (HMAC-SHA-256), as hex or base64 (hex is tried first);
                               at least 16 bytes. Never printed. Default: read from the key file.
``DOSSIERHUB_PSEUDONYM_KEY_FILE`` a file holding that key as hex or base64 text. Default
                               ``<home>/secrets/pseudonym.key``, created with 32 random bytes
                               (mode 600) when neither variable is set and it does not exist.
=============================  ===============================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from dossierhub.errors import ConfigError

__all__ = ["KAFKA_SECURITY_MODES", "PROJECT_ROOT", "Settings"]

#: the checkout this package runs from (an editable install keeps the sources here)
PROJECT_ROOT = Path(__file__).resolve().parent.parent

_PREFIX = "DOSSIERHUB_"
_KNOWN = {
    "HOME",
    "LAG_STALL_SECONDS",
    "LAG_STOP_SECONDS",
    "KAFKA_BOOTSTRAP",
    "REGISTRY_URL",
    "WAREHOUSE_URL",
    "KAFKA_HEAP",
    "REGISTRY_HEAP",
    "JAVA",
    "REGISTRY_JAVA",
    "STARTUP_TIMEOUT",
    "DELIVERY_TIMEOUT",
    "LOG_LEVEL",
    "SINK_BATCH_ROWS",
    "SINK_BATCH_SECONDS",
    "KAFKA_SECURITY",
    "KAFKA_USER",
    "HTTP_HOST",
    "WAREHOUSE_ANALYST_URL",
    "PSEUDONYM_KEY",
    "PSEUDONYM_KEY_FILE",
}

#: the Kafka security modes of ``DOSSIERHUB_KAFKA_SECURITY``
KAFKA_SECURITY_MODES = ("plaintext", "sasl")


@dataclass(frozen=True)
class Settings:
    """Typed, immutable configuration; build it with :meth:`from_env`."""

    home: Path = field(default_factory=lambda: PROJECT_ROOT / ".dossierhub")
    kafka_bootstrap: str | None = None
    registry_url: str | None = None
    warehouse_url: str | None = None
    kafka_heap: str = "1g"
    registry_heap: str = "512m"
    java: str = "java"
    registry_java: str | None = None
    lag_stall_after_s: float = 120.0
    lag_stop_after_s: float = 600.0
    startup_timeout_s: float = 120.0
    delivery_timeout_s: float = 60.0
    log_level: str = "INFO"
    sink_batch_rows: int = 50_000
    sink_batch_seconds: float = 1.0
    kafka_security: str = "plaintext"
    kafka_user: str = "hub-admin"
    http_host: str = "127.0.0.1"
    warehouse_analyst_url: str | None = None
    #: the pseudonymization key as given (hex or base64 text); decoded by producers.pseudonyms
    pseudonym_key: str | None = field(default=None, repr=False)
    pseudonym_key_file: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``DOSSIERHUB_*`` variables; unknown ones are rejected (a typo is not a default)."""
        env = os.environ if env is None else env
        unknown = sorted(
            k for k in env if k.startswith(_PREFIX) and k[len(_PREFIX) :] not in _KNOWN
        )
        if unknown:
            known = ", ".join(sorted(_PREFIX + k for k in _KNOWN))
            raise ConfigError(
                unknown[0], env[unknown[0]], "unknown setting", hint=f"known: {known}"
            )

        def get(name: str) -> str | None:
            value = env.get(_PREFIX + name, "").strip()
            return value or None

        values: dict[str, object] = {}
        if home := get("HOME"):
            values["home"] = Path(home).expanduser().resolve()
        if bootstrap := get("KAFKA_BOOTSTRAP"):
            values["kafka_bootstrap"] = _check_bootstrap(bootstrap)
        if registry := get("REGISTRY_URL"):
            values["registry_url"] = _check_http_url("DOSSIERHUB_REGISTRY_URL", registry)
        if warehouse := get("WAREHOUSE_URL"):
            values["warehouse_url"] = _check_warehouse_url(warehouse)
        for name, attr in (("KAFKA_HEAP", "kafka_heap"), ("REGISTRY_HEAP", "registry_heap")):
            if heap := get(name):
                values[attr] = _check_heap(_PREFIX + name, heap)
        values.update(_lag_thresholds(get("LAG_STALL_SECONDS"), get("LAG_STOP_SECONDS")))
        if java := get("JAVA"):
            values["java"] = java
        if registry_java := get("REGISTRY_JAVA"):
            values["registry_java"] = registry_java
        if timeout := get("STARTUP_TIMEOUT"):
            values["startup_timeout_s"] = _positive_float(_PREFIX + "STARTUP_TIMEOUT", timeout)
        if delivery := get("DELIVERY_TIMEOUT"):
            values["delivery_timeout_s"] = _positive_float(_PREFIX + "DELIVERY_TIMEOUT", delivery)
        if rows := get("SINK_BATCH_ROWS"):
            values["sink_batch_rows"] = _positive_int(_PREFIX + "SINK_BATCH_ROWS", rows)
        if seconds := get("SINK_BATCH_SECONDS"):
            values["sink_batch_seconds"] = _positive_float(_PREFIX + "SINK_BATCH_SECONDS", seconds)
        if security := get("KAFKA_SECURITY"):
            if security.lower() not in KAFKA_SECURITY_MODES:
                raise ConfigError(
                    _PREFIX + "KAFKA_SECURITY", security, "expected plaintext or sasl"
                )
            values["kafka_security"] = security.lower()
        if user := get("KAFKA_USER"):
            values["kafka_user"] = _check_principal_name(_PREFIX + "KAFKA_USER", user)
        if http_host := get("HTTP_HOST"):
            values["http_host"] = http_host
        if analyst := get("WAREHOUSE_ANALYST_URL"):
            if not analyst.startswith("clickhouse://"):
                raise ConfigError(
                    _PREFIX + "WAREHOUSE_ANALYST_URL",
                    redact_url(analyst),
                    "expected clickhouse://user:password@host:port/database",
                )
            values["warehouse_analyst_url"] = _check_warehouse_url(analyst)
        if level := get("LOG_LEVEL"):
            values["log_level"] = level.upper()
        values.update(_pseudonym_key(get("PSEUDONYM_KEY"), get("PSEUDONYM_KEY_FILE")))
        return cls(**values)  # type: ignore[arg-type]

    def with_home(self, home: Path) -> Settings:
        return replace(self, home=home)

    @property
    def effective_pseudonym_key_file(self) -> Path:
        """Where the pseudonymization key is read from when no key is given inline."""
        return self.pseudonym_key_file or self.home / "secrets" / "pseudonym.key"

    @property
    def default_warehouse_url(self) -> str:
        return f"chdb://{self.home / 'warehouse'}"

    @property
    def effective_warehouse_url(self) -> str:
        return self.warehouse_url or self.default_warehouse_url

    def redacted(self) -> dict[str, str | None]:
        """Settings as strings with passwords masked, for logs and ``--format json``."""
        return {
            "home": str(self.home),
            "kafka_bootstrap": self.kafka_bootstrap,
            "registry_url": self.registry_url,
            "warehouse_url": redact_url(self.effective_warehouse_url),
            "kafka_security": self.kafka_security,
            "kafka_user": self.kafka_user if self.kafka_security == "sasl" else None,
            "http_host": self.http_host,
        }


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def _check_bootstrap(value: str) -> str:
    for server in value.split(","):
        host, sep, port = server.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(
                "DOSSIERHUB_KAFKA_BOOTSTRAP", value, "expected host:port[,host:port…]"
            )
    return value


def _check_principal_name(name: str, value: str) -> str:
    """A principal's name is also a file name under the home: letters, digits, ``.-_`` only."""
    if not value or not all(c.isalnum() or c in ".-_" for c in value) or value[0] == ".":
        raise ConfigError(name, value, "expected letters, digits, '.', '-' or '_'")
    return value


def _check_http_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(name, value, "expected an http(s):// URL")
    return value.rstrip("/")


def _check_warehouse_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme == "chdb" and parts.path:
        return value
    if parts.scheme == "clickhouse" and parts.hostname:
        return value
    raise ConfigError(
        "DOSSIERHUB_WAREHOUSE_URL",
        redact_url(value),
        "expected chdb:///path or clickhouse://user:password@host:port/database",
    )


def _lag_thresholds(stall: str | None, stop: str | None) -> dict[str, float]:
    stall_s = _positive_float(_PREFIX + "LAG_STALL_SECONDS", stall) if stall else 120.0
    stop_s = _positive_float(_PREFIX + "LAG_STOP_SECONDS", stop) if stop else 600.0
    if stop_s < stall_s:
        raise ConfigError(
            _PREFIX + "LAG_STOP_SECONDS",
            stop_s,
            f"must be at least DOSSIERHUB_LAG_STALL_SECONDS ({stall_s})",
        )
    return {"lag_stall_after_s": stall_s, "lag_stop_after_s": stop_s}


def _pseudonym_key(key: str | None, key_file: str | None) -> dict[str, object]:
    if key and key_file:
        # Two sources of a secret are one too many: which one hashed last month's data?
        raise ConfigError(
            _PREFIX + "PSEUDONYM_KEY",
            "<redacted>",
            "set either it or DOSSIERHUB_PSEUDONYM_KEY_FILE, not both",
        )
    if key:
        return {"pseudonym_key": key}
    if key_file:
        return {"pseudonym_key_file": Path(key_file).expanduser().resolve()}
    return {}


def _check_heap(name: str, value: str) -> str:
    if not (value[:-1].isdigit() and value[-1].lower() in "mg"):
        raise ConfigError(name, value, "expected a JVM size such as 512m or 2g")
    return value


def _positive_float(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number <= 0:
        raise ConfigError(name, value, "expected a positive number of seconds")
    return number


def _positive_int(name: str, value: str) -> int:
    if not value.isdigit() or int(value) <= 0:
        raise ConfigError(name, value, "expected a positive whole number")
    return int(value)
