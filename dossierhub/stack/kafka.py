"""The local Kafka broker: KRaft combined mode, one node, from Maven Central jars.

``DOSSIERHUB_KAFKA_SECURITY=sasl`` runs it with SASL/SCRAM-SHA-512 and the StandardAuthorizer:
the passwords of the broker, the controller listener and the hub's admin are generated into
``<home>/credentials/kafka`` (mode 600) before the log dir is formatted, and the hub services'
principals and ACLs are created once the broker answers.
"""

from __future__ import annotations

import base64
import re
import subprocess
import uuid
from pathlib import Path

from dossierhub.endpoints import check_kafka
from dossierhub.errors import ServiceError
from dossierhub.security.acls import ADMIN_USER, BROKER_USER, CONTROLLER_USER
from dossierhub.security.credentials import (
    CredentialsError,
    KafkaCredential,
    load_kafka_credential,
    new_password,
    save_kafka_credential,
)
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

    @property
    def secured(self) -> bool:
        return self.settings.kafka_security == "sasl"

    @property
    def _mode_file(self) -> Path:
        # which mode the log dir was formatted for: SCRAM users exist only if formatted so
        return self.dir / "security-mode"

    def prepare(self) -> None:
        kafka_classpath(self.settings)
        data = self.dir / "data"
        formatted = (data / "meta.properties").exists()
        if formatted:
            self._check_mode()
        credentials = self._credentials() if self.secured else {}
        security = ""
        if self.secured:
            sasl = self.dir / "sasl.properties"
            render_template(
                DEPLOY_LOCAL / "kafka" / "sasl.properties.in",
                sasl,
                broker_user=BROKER_USER,
                broker_password=credentials[BROKER_USER].password,
                controller_user=CONTROLLER_USER,
                controller_password=credentials[CONTROLLER_USER].password,
                admin_user=ADMIN_USER,
            )
            security = sasl.read_text()
            sasl.unlink()
        target = self.dir / "server.properties"
        render_template(
            DEPLOY_LOCAL / "kafka" / "server.properties.in",
            target,
            broker_port=self.port,
            controller_port=self.controller_port,
            log_dirs=data,
            listener="SASL_PLAINTEXT" if self.secured else "PLAINTEXT",
            controller_protocol="SASL_PLAINTEXT" if self.secured else "PLAINTEXT",
            security=security,
        )
        target.chmod(0o600)  # passwords in sasl mode
        if not formatted:
            self._format(data, credentials)

    def _check_mode(self) -> None:
        try:
            formatted_for = self._mode_file.read_text().strip()
        except FileNotFoundError:
            formatted_for = "plaintext"  # formatted before the hub had a secured mode
        if formatted_for != self.settings.kafka_security:
            raise ServiceError(
                self.name,
                f"the log dir {self.dir / 'data'} was formatted for "
                f"DOSSIERHUB_KAFKA_SECURITY={formatted_for}, not {self.settings.kafka_security}",
                hint=f"set it back, or `dossierhub stack down` and remove {self.dir} "
                "(deletes every topic) to re-format",
            )

    def _credentials(self) -> dict[str, KafkaCredential]:
        """The broker's, the controller listener's and the admin's: kept once generated (the
        formatted log dir holds their SCRAM hashes)."""
        found: dict[str, KafkaCredential] = {}
        for user in (BROKER_USER, CONTROLLER_USER, ADMIN_USER):
            try:
                found[user] = load_kafka_credential(self.settings.home, user)
            except CredentialsError:
                if (self.dir / "data" / "meta.properties").exists() and user != CONTROLLER_USER:
                    raise
                found[user] = KafkaCredential(user, new_password())
                save_kafka_credential(self.settings.home, found[user])
        return found

    def client_security(self) -> dict[str, str]:
        """librdkafka settings for the hub's admin (empty in plaintext mode)."""
        if not self.secured:
            return {}
        return load_kafka_credential(self.settings.home, ADMIN_USER).client_config()

    def after_ready(self) -> None:
        if self.secured:
            from dossierhub.security.services import provision_services

            config = {"bootstrap.servers": self.bootstrap, **self.client_security()}
            provision_services(self.settings.home, config)

    def _format(self, data: Path, credentials: dict[str, KafkaCredential]) -> None:
        java = find_java(self.settings.java)
        scram = [
            arg
            for user in (BROKER_USER, ADMIN_USER)
            if user in credentials
            for arg in (
                "--add-scram",
                f"SCRAM-SHA-512=[name={user},password={credentials[user].password}]",
            )
        ]
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
                *scram,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr)[-400:]
            for credential in credentials.values():  # never a password in an error message
                output = output.replace(credential.password, "***")
            raise ServiceError(self.name, f"formatting the log dir failed: {output}")
        self._mode_file.write_text(self.settings.kafka_security + "\n")

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
        check_kafka(self.bootstrap, timeout_s=2.0, security=self.client_security())
        return self.version


def _cluster_id() -> str:
    # Kafka's own Uuid.randomUuid(): url-safe base64 of 16 random bytes, never starting with "-".
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text
