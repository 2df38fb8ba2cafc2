"""What every local service has in common: a data dir, an owned process, readiness, status."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template
from typing import ClassVar

from dossierhub.errors import HubError, ServiceError
from dossierhub.settings import PROJECT_ROOT, Settings
from dossierhub.stack._process import OwnedProcess, port_in_use

__all__ = ["DEPLOY_LOCAL", "Service", "ServiceStatus", "render_template"]

DEPLOY_LOCAL = PROJECT_ROOT / "deploy" / "local"


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    healthy: bool
    pid: int | None
    port: int
    version: str | None
    data_dir: str
    url: str
    detail: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class Service(ABC):
    """One daemon of the local stack, started from registry packages, owned by pid file."""

    name: ClassVar[str]

    def __init__(self, settings: Settings, ports: dict[str, int]) -> None:
        self.settings = settings
        self.ports = ports
        self.dir = settings.home / self.name
        self.process = OwnedProcess(self.dir / f"{self.name}.pid", marker=str(self.dir))

    # -- what each service defines -------------------------------------------------------
    @property
    @abstractmethod
    def port(self) -> int: ...

    @property
    @abstractmethod
    def url(self) -> str: ...

    @abstractmethod
    def prepare(self) -> None:
        """Fetch artifacts and write config files (idempotent); raise if something is missing."""

    @abstractmethod
    def launch(self) -> None:
        """Start the daemon through ``self.process``."""

    @abstractmethod
    def probe(self) -> str:
        """Return the running version if the service answers; raise HubError otherwise."""

    def after_ready(self) -> None:  # noqa: B027 - optional hook
        """One-time setup once the service answers (e.g. the registry's compatibility rule)."""

    # -- shared behaviour ----------------------------------------------------------------
    @property
    def log_dir(self) -> Path:
        return self.dir / "logs"

    @property
    def launch_log(self) -> Path:
        return self.log_dir / "stdout.log"

    def start(self) -> str:
        """Start unless already running; return what was done, in words."""
        if self.process.is_running():
            return f"{self.name}: already running (pid {self.process.pid()}, {self.url})"
        if port_in_use(self.port):
            raise ServiceError(
                self.name,
                f"port {self.port} is already in use by another process",
                hint=f"stop that process, or remove {self.settings.home / 'ports.json'} "
                "so `dossierhub stack up` picks free ports",
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        self.launch()
        version = self.wait_ready(self.settings.startup_timeout_s)
        self.after_ready()
        return f"{self.name}: started {version} (pid {self.process.pid()}, {self.url})"

    def wait_ready(self, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise ServiceError(
                    self.name,
                    f"exited during start-up; last log lines: {self._log_tail()}",
                    hint=f"see {self.launch_log} and {self.log_dir}",
                )
            try:
                return self.probe()
            except HubError as exc:
                last_error = str(exc)
            time.sleep(0.25)
        raise ServiceError(
            self.name,
            f"not ready after {timeout_s:.0f}s ({last_error})",
            hint=f"see {self.log_dir}; raise DOSSIERHUB_STARTUP_TIMEOUT on a slow machine",
        )

    def stop(self) -> str:
        return f"{self.name}: stopped" if self.process.stop() else f"{self.name}: not running"

    def status(self) -> ServiceStatus:
        pid = self.process.pid()
        version: str | None = None
        detail: str | None = None
        if pid is not None:
            try:
                version = self.probe()
            except HubError as exc:
                detail = str(exc)
        return ServiceStatus(
            name=self.name,
            running=pid is not None,
            healthy=version is not None,
            pid=pid,
            port=self.port,
            version=version,
            data_dir=str(self.dir),
            url=self.url,
            detail=detail,
        )

    def _log_tail(self, lines: int = 5) -> str:
        try:
            text = self.launch_log.read_text(errors="replace").strip().splitlines()
        except FileNotFoundError:
            return "(no log)"
        return " | ".join(line.strip() for line in text[-lines:]) or "(empty log)"


def render_template(template: Path, target: Path, **values: object) -> None:
    """Write ``template`` with ``${name}`` placeholders filled; a missing value is an error."""
    text = Template(template.read_text()).substitute({k: str(v) for k, v in values.items()})
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
