"""The local stack: Kafka, the schema registry and ClickHouse, started from registry packages.

``dossierhub stack up | down | status`` drive :class:`Stack`. Ports are picked free on the
first ``up`` and kept in ``<home>/ports.json``, so two homes (two checkouts, or a test session
beside a developer's stack) run side by side, and clients find the stack again from that file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

from dossierhub.errors import HubError
from dossierhub.settings import Settings
from dossierhub.stack._process import free_port
from dossierhub.stack._service import Service, ServiceStatus
from dossierhub.stack.clickhouse import ClickHouseService
from dossierhub.stack.kafka import KafkaService
from dossierhub.stack.registry import RegistryService

__all__ = ["SERVICE_NAMES", "ServiceStatus", "Stack", "chdb_status", "load_ports"]

_PORT_NAMES = (
    "kafka",
    "kafka_controller",
    "registry",
    "registry_management",
    "clickhouse",
    "clickhouse_http",
)
_SERVICES: tuple[type[Service], ...] = (KafkaService, RegistryService, ClickHouseService)
SERVICE_NAMES = tuple(cls.name for cls in _SERVICES)


def load_ports(home: Path) -> dict[str, int] | None:
    """The ports recorded for ``home``, or None if the stack there never started."""
    try:
        data = json.loads((home / "ports.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    return {k: v for k, v in data.items() if k in _PORT_NAMES and isinstance(v, int)}


def _allocate_ports(home: Path) -> dict[str, int]:
    """Keep the recorded ports (clients know them); pick free ones for any not yet recorded."""
    ports = load_ports(home) or {}
    missing = [name for name in _PORT_NAMES if name not in ports]
    if missing:
        taken = set(ports.values())
        for name in missing:
            port = free_port()
            while port in taken:
                port = free_port()
            taken.add(port)
            ports[name] = port
        home.mkdir(parents=True, exist_ok=True)
        (home / "ports.json").write_text(json.dumps(ports, indent=2) + "\n")
    return ports


class Stack:
    """The services of one ``DOSSIERHUB_HOME``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ports = _allocate_ports(settings.home)
        self.services: dict[str, Service] = {
            cls.name: cls(settings, self.ports) for cls in _SERVICES
        }

    def _select(self, only: Iterable[str] | None) -> list[Service]:
        names = list(only) if only else list(SERVICE_NAMES)
        unknown = [n for n in names if n not in self.services]
        if unknown:
            raise HubError(f"unknown service {unknown[0]!r}; known: {', '.join(SERVICE_NAMES)}")
        return [self.services[n] for n in SERVICE_NAMES if n in names]

    def up(
        self, only: Iterable[str] | None = None, progress: Callable[[str], None] = print
    ) -> None:
        for service in self._select(only):
            progress(f"{service.name}: starting…" if not service.process.is_running() else "")
            progress(service.start())

    def down(
        self, only: Iterable[str] | None = None, progress: Callable[[str], None] = print
    ) -> None:
        for service in reversed(self._select(only)):
            progress(service.stop())

    def status(self, only: Iterable[str] | None = None) -> list[ServiceStatus]:
        return [service.status() for service in self._select(only)]

    @property
    def kafka(self) -> KafkaService:
        service = self.services["kafka"]
        assert isinstance(service, KafkaService)
        return service

    @property
    def registry(self) -> RegistryService:
        service = self.services["registry"]
        assert isinstance(service, RegistryService)
        return service

    @property
    def clickhouse(self) -> ClickHouseService:
        service = self.services["clickhouse"]
        assert isinstance(service, ClickHouseService)
        return service


def chdb_status(settings: Settings) -> dict[str, object]:
    """chDB runs in-process: report whether this Python can load it and its engine version."""
    try:
        import chdb

        version = str(chdb.query("SELECT version()", "CSV")).strip().strip('"')
    except Exception as exc:  # ImportError or an engine error: report, don't crash status
        return {"name": "chdb", "healthy": False, "detail": str(exc)}
    return {
        "name": "chdb",
        "running": True,
        "healthy": True,
        "pid": None,
        "version": version,
        "data_dir": str(settings.home / "warehouse"),
        "url": settings.default_warehouse_url,
        "detail": "in-process (embedded default warehouse)",
    }
