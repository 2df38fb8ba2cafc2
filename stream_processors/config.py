"""The processors' configuration, built from the hub's ``Settings`` and ``Endpoints``.

Faust can configure itself from environment variables; the hub does not let it (one settings
object reads the environment, ``dossierhub.settings``): everything the app needs is here,
and ``app.build_app`` passes it explicitly.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Final

from dossierhub.endpoints import Endpoints
from dossierhub.errors import ConfigError
from dossierhub.monitoring import StatusPolicy, policy_from
from dossierhub.settings import Settings

__all__ = ["DEFAULT_APP_ID", "ProcessorConfig", "free_port"]

DEFAULT_APP_ID: Final = "dossierhub-processors"


@dataclass(frozen=True, slots=True)
class ProcessorConfig:
    kafka_bootstrap: str
    registry_url: str
    #: Faust's data directory (its tables' local stores)
    datadir: Path
    #: librdkafka's SASL settings in secured mode (DOSSIERHUB_KAFKA_SECURITY=sasl), else empty;
    #: never in a repr (a password)
    kafka_security: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: the Faust app id, which is also the consumer group and the prefix of the changelogs
    app_id: str = DEFAULT_APP_ID
    #: table store: ``memory://`` (rebuilt from the changelog at start) or ``rocksdb://``
    store: str = "memory://"
    web_port: int = 6066
    #: the address the web views (/metrics, /healthz) listen on (DOSSIERHUB_HTTP_HOST)
    web_host: str = "127.0.0.1"
    replication_factor: int = 1
    #: how far in the future ``occurred_at`` may be (clocks of agency systems drift)
    future_tolerance: timedelta = timedelta(minutes=5)
    #: how long (event time) an event may wait for the events it needs (core README: 7 days)
    max_hold: timedelta = timedelta(days=7)
    #: held events per dossier; more are dead-lettered (``hold_buffer_full``)
    max_held_per_dossier: int = 100
    #: ``DossierDueSoon`` this many working days before the due date
    due_soon_working_days: int = 3
    #: how long (event time) a closed dossier stays in the table to catch late events
    retention: timedelta = timedelta(days=7)
    #: intake records folded per batch, and the longest wait to fill one. A batch costs four
    #: acknowledgement round trips whatever its size (``intake``): 5,000 cut the CPU per event
    #: by ~10% against 2,000 on a backlog, while a live stream's batches stay bounded by
    #: ``batch_seconds``; a batch's fold (~3 s on a busy core) stays well inside the session
    #: timeout
    batch_size: int = 5000
    batch_seconds: float = 0.2
    #: how long the dossier agent waits at start for the catalog and reference topics
    reference_wait_s: float = 60.0
    #: a worker silent this long leaves the group and its partitions move (Faust's default,
    #: 60 s, also keeps a worker restarted after a crash waiting that long for its own ghost)
    session_timeout_s: float = 15.0
    #: the watchdog's rules for its own group (``dossierhub.monitoring.status``)
    lag_policy: StatusPolicy = field(default_factory=StatusPolicy)
    #: seconds between two readings of the group's lag by the watchdog
    watch_seconds: float = 10.0
    log_level: str = "INFO"

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        endpoints: Endpoints,
        *,
        replication_factor: int,
        app_id: str = DEFAULT_APP_ID,
        store: str = "memory://",
        web_port: int | None = None,
        future_tolerance: timedelta | None = None,
    ) -> ProcessorConfig:
        if not app_id or any(c.isspace() for c in app_id):
            raise ConfigError("--app-id", app_id, "must be a non-empty word")
        if not store.startswith(("memory://", "rocksdb://")):
            raise ConfigError("--store", store, "expected memory:// or rocksdb://")
        return cls(
            kafka_bootstrap=endpoints.kafka_bootstrap,
            registry_url=endpoints.registry_url,
            kafka_security=dict(endpoints.kafka_security),
            # one directory per app id: Faust names a table's RocksDB files after the table
            # alone, so two apps sharing a directory would read each other's tables
            datadir=settings.home / "processors" / app_id,
            app_id=app_id,
            store=store,
            web_port=free_port() if web_port is None else web_port,
            web_host=settings.http_host,
            replication_factor=replication_factor,
            future_tolerance=future_tolerance or timedelta(minutes=5),
            lag_policy=policy_from(settings),
            log_level=settings.log_level,
        )

    @property
    def kafka_client(self) -> dict[str, str]:
        """librdkafka settings for the processors' own confluent-kafka clients."""
        return {"bootstrap.servers": self.kafka_bootstrap, **self.kafka_security}

    @property
    def broker_urls(self) -> list[str]:
        return [f"kafka://{server.strip()}" for server in self.kafka_bootstrap.split(",")]


def free_port() -> int:
    """A port free on loopback now (another process may take it before Faust binds it; the
    worker then fails at start and says so)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
