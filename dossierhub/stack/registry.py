"""The local schema registry: Apicurio Registry from Maven Central, Confluent-compatible API.

confluent-kafka's ``SchemaRegistryClient`` (and every other language's Confluent serializer)
talks to ``/apis/ccompat/v7`` unchanged. Storage is a file-backed H2 database under the data
dir, so schemas and their ids survive restarts (Apicurio's default is in-memory).
"""

from __future__ import annotations

import json
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from dossierhub.errors import ServiceError, ServiceUnreachableError
from dossierhub.stack._service import DEPLOY_LOCAL, Service
from dossierhub.stack._toolchain import find_java, java_major, maven_fetch, newest_jdk

__all__ = ["DEFAULT_COMPATIBILITY", "RegistryService"]

_POM = DEPLOY_LOCAL / "registry" / "pom.xml"
#: Apicurio enforces no compatibility rule unless one is set; this is the hub's default.
DEFAULT_COMPATIBILITY = "FULL_TRANSITIVE"
# 3.3 is built for Java 21; 3.0 is the newest line that runs on the machine's Java 17.
_MODERN = ("3.3.3", "tar.gz", 21)
_JAVA17 = ("3.0.9", "zip", 17)


class RegistryService(Service):
    name = "registry"

    @property
    def port(self) -> int:
        return self.ports["registry"]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/apis/ccompat/v7"

    def _choose(self) -> tuple[str, str, str]:
        """(java, apicurio version, archive type) for this machine."""
        java = self.settings.registry_java or newest_jdk(_MODERN[2])
        if java and java_major(java) >= _MODERN[2]:
            return java, _MODERN[0], _MODERN[1]
        return find_java(self.settings.java), _JAVA17[0], _JAVA17[1]

    def _app_dir(self, version: str) -> Path:
        return self.settings.home / "lib" / f"apicurio-registry-{version}"

    def prepare(self) -> None:
        _, version, kind = self._choose()
        app_dir = self._app_dir(version)
        if _launcher(app_dir) is not None:
            return
        fetched = maven_fetch(
            _POM,
            self.settings.home / "lib" / f"apicurio-download-{version}",
            [f"-Dapicurio.version={version}", f"-Dapicurio.type={kind}"],
        )
        archive = next((p for p in fetched if p.name.endswith(kind)), None)
        if archive is None:
            raise ServiceError(self.name, f"Maven fetched no {kind} archive of Apicurio {version}")
        staging = app_dir.with_name(app_dir.name + ".partial")
        staging.mkdir(parents=True, exist_ok=True)
        if kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(staging)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(staging, filter="data")
        staging.rename(app_dir)
        archive.unlink()  # 100+ MB we no longer need; ~/.m2 keeps the cached copy

    def launch(self) -> None:
        java, version, _ = self._choose()
        launcher = _launcher(self._app_dir(version))
        if launcher is None:
            raise ServiceError(self.name, f"no launcher jar in {self._app_dir(version)}")
        data = self.dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        heap = self.settings.registry_heap
        self.process.start(
            [
                java,
                f"-Xmx{heap}",
                "-Dquarkus.http.host=127.0.0.1",
                f"-Dquarkus.http.port={self.port}",
                # Apicurio 3.3 always opens a management interface (0.0.0.0:9000 by default):
                # give it our own loopback port so two stacks can run side by side.
                "-Dquarkus.management.host=127.0.0.1",
                f"-Dquarkus.management.port={self.ports['registry_management']}",
                "-Dquarkus.log.level=WARN",
                "-Dapicurio.storage.kind=sql",
                "-Dapicurio.storage.sql.kind=h2",
                f"-Dapicurio.datasource.url=jdbc:h2:file:{data / 'registry'}",
                "-jar",
                str(launcher),
            ],
            log=self.launch_log,
            cwd=self.dir,
        )

    def probe(self) -> str:
        info = _http_json("GET", f"{self.base}/apis/registry/v3/system/info", None, self.name)
        return str(info.get("version", "unknown"))

    def after_ready(self) -> None:
        _http_json("PUT", f"{self.url}/config", {"compatibility": DEFAULT_COMPATIBILITY}, self.name)


def _launcher(app_dir: Path) -> Path | None:
    if (app_dir / "quarkus-run.jar").exists():
        return app_dir / "quarkus-run.jar"
    return next(iter(sorted(app_dir.glob("*-runner.jar"))), None) if app_dir.exists() else None


def _http_json(method: str, url: str, body: object, service: str) -> dict[str, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            payload = json.loads(response.read() or b"{}")
    except (urllib.error.URLError, OSError, json.JSONDecodeError) as exc:
        raise ServiceUnreachableError(service, url, str(exc)) from exc
    return payload if isinstance(payload, dict) else {"value": payload}
