"""The hub's exception hierarchy.

Every module translates the errors of the libraries it wraps (confluent-kafka, fastavro,
clickhouse-driver, chDB, subprocesses) into one of these with ``raise ... from exc``, so
callers — above all the CLI — only ever need to catch :class:`HubError`. Each exception
carries the offending value, because that is what an operator needs to act on it.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "HubError",
    "MissingDependencyError",
    "ServiceError",
    "ServiceUnreachableError",
    "ValidationError",
]


class HubError(Exception):
    """Root of every error the hub raises on purpose."""

    #: a short hint on what to do about it, printed by the CLI after the message
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    def one_line(self) -> str:
        """The message and its hint on one line, as the CLI prints it."""
        text = " ".join(str(self).split())
        return f"{text} — {self.hint}" if self.hint else text


class ConfigError(HubError):
    """A setting is missing, malformed or contradictory."""

    def __init__(self, name: str, value: object, problem: str, *, hint: str | None = None) -> None:
        super().__init__(f"{name}={value!r}: {problem}", hint=hint)
        self.name = name
        self.value = value


class MissingDependencyError(HubError):
    """Something the hub needs on this machine (Java, Maven, a Debian package) is absent."""


class ServiceError(HubError):
    """A local service (Kafka, the registry, ClickHouse) failed to start, stop or answer."""

    def __init__(self, service: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{service}: {message}", hint=hint)
        self.service = service


class ServiceUnreachableError(ServiceError):
    """A configured endpoint does not answer."""

    def __init__(self, service: str, address: str, cause: str, *, hint: str | None = None) -> None:
        super().__init__(service, f"cannot reach {address} ({cause})", hint=hint)
        self.address = address


class ValidationError(HubError):
    """An event or input file is invalid; names the field and the value."""

    def __init__(self, field: str, value: object, problem: str) -> None:
        super().__init__(f"{field}={value!r}: {problem}")
        self.field = field
        self.value = value
        self.problem = problem
