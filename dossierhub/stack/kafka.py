"""The local Kafka broker: KRaft combined mode, one node, from Maven Central jars."""

from __future__ import annotations

import base64
import re
import subprocess
import uuid
from pathlib import Path

from dossierhub.endpoints import check_kafka
from dossierhub.errors import ServiceError
from dossierhub.settings import Settings
from dossierhub.stack._service import DEPLOY_LOCAL, Service, render_template
from dossierhub.stack._toolchain import find_java, maven_fetch

__all__ = ["KafkaService", "kafka_classpath"]

_POM = DEPLOY_LOCAL / "kafka" / "pom.xml"


def _lib_dir(settings: Settings) -> Path:
    return settings.home / "lib" / "kafka"


def kafka_classpath(settings: Settings) -> str:
    """Classpath of the pinned Kafka jars (fetched on first use): the broker and Kafka's own
    tools (ProducerPerformance, the consumer-groups command) run from the same artifacts."""
    maven_fetch(_POM, _lib_dir(settings))
    return f"{_lib_dir(settings)}/*"


class KafkaService(Service):
    name = "kafka"

    @property
    def port(self) -> int:
        return self.ports["kafka"]

    @property
    def controller_port(self) -> int:
        return self.ports["kafka_controller"]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.bootstrap

    @property
    def lib_dir(self) -> Path:
        return _lib_dir(self.settings)

    @property
    def classpath(self) -> str:
        return kafka_classpath(self.settings)

    @property
    def version(self) -> str:
        for jar in self.lib_dir.glob("kafka_2.13-*.jar"):
            match = re.fullmatch(r"kafka_2\.13-(.+)\.jar", jar.name)
            if match:
                return match.group(1)
        return "unknown"

    def prepare(self) -> None:
        kafka_classpath(self.settings)
        data = self.dir / "data"
        render_template(
            DEPLOY_LOCAL / "kafka" / "server.properties.in",
            self.dir / "server.properties",
            broker_port=self.port,
            controller_port=self.controller_port,
            log_dirs=data,
        )
        if not (data / "meta.properties").exists():
            self._format(data)

    def _format(self, data: Path) -> None:
        java = find_java(self.settings.java)
        result = subprocess.run(
            [
                java,
                "-cp",
                self.classpath,
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "--cluster-id",
                _cluster_id(),
                "--config",
                str(self.dir / "server.properties"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ServiceError(self.name, f"formatting the log dir failed: {result.stdout[-400:]}")

    def launch(self) -> None:
        java = find_java(self.settings.java)
        heap = self.settings.kafka_heap
        self.process.start(
            [
                java,
                f"-Xms{heap}",
                f"-Xmx{heap}",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={DEPLOY_LOCAL / 'kafka' / 'log4j2.properties'}",
                f"-Dkafka.logs.dir={self.log_dir}",
                "-cp",
                self.classpath,
                "kafka.Kafka",
                str(self.dir / "server.properties"),
            ],
            log=self.launch_log,
            cwd=self.dir,
        )

    def probe(self) -> str:
        check_kafka(self.bootstrap, timeout_s=2.0)
        return self.version


def _cluster_id() -> str:
    # Kafka's own Uuid.randomUuid(): url-safe base64 of 16 random bytes, never starting with "-".
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text
