"""The schema registry side of the contract: ids for producers, writer schemas for consumers,
and the translated requests that ``schemas.evolution`` (``schemas check | apply``) is made of.

Talks to any Confluent-compatible registry through confluent-kafka's ``SchemaRegistryClient``
(the hub runs Apicurio's ``/apis/ccompat/v7``). Subjects follow RecordNameStrategy
(``EventType.subject``); see schemas/README.md.

For producers::

    ids = SchemaIds.connect(url)        # or SchemaIds(Registry(url)), SchemaIds(client)
    data = encode(event, ids.id_of(event_type), event_type.schema)

For consumers::

    writer_schemas = WriterSchemas.connect(url)   # a serde.SchemaLookup, cached per id
    schema_id, event = decode(data, writer_schemas)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final, NamedTuple, Protocol, TypeVar

from confluent_kafka.schema_registry import RegisteredSchema, Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from fastavro import parse_schema
from fastavro.repository.base import SchemaRepositoryError
from fastavro.schema import SchemaParseException, load_schema

from dossierhub.errors import ServiceUnreachableError

from .catalog import EventType, event_types
from .errors import SchemaError, SchemaLoadError

__all__ = [
    "Contract",
    "Registered",
    "Registry",
    "RegistryError",
    "SchemaIds",
    "SchemaNotRegisteredError",
    "WriterSchemas",
    "load_schemas",
    "registered_ids",
]

_T = TypeVar("_T")

# Confluent REST error codes (Apicurio's ccompat API returns the same ones).
_SUBJECT_NOT_FOUND: Final = 40401
_SCHEMA_NOT_FOUND: Final = 40403  # unknown id, or "this schema is not under the subject"
_SUBJECT_CONFIG_NOT_FOUND: Final = 40408  # Confluent: the subject inherits the global level
_NOT_FOUND: Final = (_SUBJECT_NOT_FOUND, _SCHEMA_NOT_FOUND)


class RegistryError(SchemaError):
    """The registry answered a request with an error."""

    def __init__(
        self,
        action: str,
        subject: str | None,
        message: str,
        *,
        http_status: int | None = None,
        error_code: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = f" {subject}" if subject else ""
        code = f" (HTTP {http_status}, error {error_code})" if http_status else ""
        super().__init__(f"registry: {action}{where}: {message}{code}", hint=hint)
        self.action = action
        self.subject = subject
        self.message = message
        self.http_status = http_status
        self.error_code = error_code


class SchemaNotRegisteredError(RegistryError):
    """This checkout's schema of an event type is not registered under its subject."""

    def __init__(self, subject: str, message: str) -> None:
        super().__init__(
            "look up",
            subject,
            message,
            hint="register the contract first: dossierhub schemas apply",
        )


class Contract(Protocol):
    """What a schema id is looked up for: an ``EventType``, or a stand-in in tests."""

    @property
    def subject(self) -> str: ...

    @property
    def registered_schema(self) -> str: ...


class Registered(NamedTuple):
    schema_id: int
    version: int


class Registry:
    """A Confluent-compatible registry: its URL (for messages) and a client."""

    def __init__(
        self, url: str, client: SchemaRegistryClient | None = None, *, timeout_s: float = 30.0
    ) -> None:
        self.url = url.rstrip("/")
        if client is None:
            # Without a timeout the client waits forever for an answer that never comes.
            client = SchemaRegistryClient({"url": self.url, "timeout": timeout_s})
        self.client = client

    @classmethod
    def of(cls, registry: Registry | SchemaRegistryClient) -> Registry:
        if isinstance(registry, Registry):
            return registry
        # The client keeps its URL privately; it is only needed for error messages here.
        urls = getattr(getattr(registry, "_rest_client", None), "base_urls", None) or ["?"]
        return cls(str(urls[0]), registry)

    def call(self, action: str, subject: str | None, request: Callable[[], _T]) -> _T:
        """Run one client request; registry errors become :class:`RegistryError`."""
        try:
            return request()
        except SchemaRegistryError as exc:
            raise RegistryError(
                action,
                subject,
                exc.error_message,
                http_status=exc.http_status_code,
                error_code=exc.error_code,
            ) from exc
        except Exception as exc:
            # A closed port or a timeout surfaces as the TransportError of confluent-kafka's
            # vendored httpx, a private class, hence the test by module. Only the client call is
            # inside the try, so anything else (a bug of ours) is re-raised untouched.
            if isinstance(exc, OSError) or type(exc).__module__.startswith(("httpx", "httpcore")):
                raise _unreachable(self.url, exc) from exc
            raise

    # ---- requests the hub makes, each translated -----------------------------------------

    def lookup(self, subject: str, schema_str: str) -> Registered | None:
        """Id and version of exactly this schema under ``subject``, or None."""
        schema = Schema(schema_str, "AVRO")
        try:
            found: RegisteredSchema = self.call(
                "look up", subject, lambda: self.client.lookup_schema(subject, schema)
            )
        except RegistryError as exc:
            if exc.error_code in _NOT_FOUND:
                return None
            raise
        if found.schema_id is None or found.version is None:
            raise RegistryError("look up", subject, f"answer without id or version: {found!r}")
        return Registered(int(found.schema_id), int(found.version))

    def versions(self, subject: str) -> list[int]:
        try:
            found = self.call("list versions", subject, lambda: self.client.get_versions(subject))
        except RegistryError as exc:
            if exc.error_code == _SUBJECT_NOT_FOUND:
                return []
            raise
        return sorted(int(v) for v in found)

    def compatibility(self, subject: str) -> str:
        """The level that judges ``subject``: its own, or the global one it inherits."""
        own = self.own_compatibility(subject)
        if own is not None:
            return own
        return str(self.call("read compatibility", None, self.client.get_compatibility))

    def own_compatibility(self, subject: str) -> str | None:
        """The level set on ``subject`` itself, or None when it inherits the global one.

        Apicurio answers NONE for an existing subject without a level of its own (and applies
        the global one); that NONE is returned as is, so a caller that needs a level sets it.
        """
        try:
            level = self.call(
                "read compatibility", subject, lambda: self.client.get_compatibility(subject)
            )
        except RegistryError as exc:
            # Confluent: the subject has no level of its own; Apicurio: no such subject yet.
            if exc.error_code in (_SUBJECT_CONFIG_NOT_FOUND, _SUBJECT_NOT_FOUND):
                return None
            raise
        return str(level)

    def set_compatibility(self, subject: str, level: str) -> None:
        self.call(
            "set compatibility",
            subject,
            lambda: self.client.set_compatibility(subject_name=subject, level=level),
        )

    def register(self, subject: str, schema_str: str) -> int:
        schema = Schema(schema_str, "AVRO")
        return int(
            self.call("register", subject, lambda: self.client.register_schema(subject, schema))
        )

    def is_compatible(self, subject: str, schema_str: str, version: int) -> bool:
        schema = Schema(schema_str, "AVRO")
        return bool(
            self.call(
                f"test compatibility with version {version} of",
                subject,
                lambda: self.client.test_compatibility(subject, schema, version=version),
            )
        )

    def schema_by_id(self, schema_id: int) -> Schema | None:
        try:
            return self.call(
                f"fetch schema id {schema_id}", None, lambda: self.client.get_schema(schema_id)
            )
        except RegistryError as exc:
            if exc.error_code in _NOT_FOUND:
                return None
            raise


def _unreachable(url: str, exc: BaseException) -> ServiceUnreachableError:
    return ServiceUnreachableError(
        "registry",
        url,
        str(exc) or type(exc).__name__,
        hint="check DOSSIERHUB_REGISTRY_URL, or start the local stack: dossierhub stack up",
    )


# ---- the contract as registered forms --------------------------------------------------------


def load_schemas(
    avro_dir: Path | None = None, types: Iterable[EventType] | None = None
) -> dict[str, str]:
    """subject -> registered form of every event type (or of ``types``).

    By default from the package's own ``.avsc`` files; with ``avro_dir`` from another directory
    of the same layout (``<fullname>.avsc``), e.g. a proposed change checked in CI or a test's
    deliberately broken copy. Both give the same string for the same files.
    """
    chosen = tuple(event_types() if types is None else types)
    if avro_dir is None:
        return {t.subject: t.registered_schema for t in chosen}
    return {t.subject: _registered_form(avro_dir / f"{t.fullname}.avsc") for t in chosen}


def _registered_form(path: Path) -> str:
    # Mirrors schemas._files.registered_schema for a file outside the package (that function is
    # cached per fullname and bound to the package's directory).
    if not path.is_file():
        raise SchemaLoadError(path, "no such file")
    try:
        schema = load_schema(str(path), _write_hint=False)
    except (SchemaRepositoryError, SchemaParseException, ValueError, OSError) as exc:
        raise SchemaLoadError(path, str(exc)) from exc
    return json.dumps(schema, sort_keys=True, ensure_ascii=False)


# ---- producers: schema ids -------------------------------------------------------------------


class SchemaIds:
    """Schema id of each event type's registered form, looked up once and then cached.

    With ``register=True`` an unregistered schema is registered instead of refused; the hub's
    own producers leave it False so that only ``schemas apply`` (CI) creates versions.
    Thread-safe.
    """

    def __init__(
        self, registry: Registry | SchemaRegistryClient, *, register: bool = False
    ) -> None:
        self._registry = Registry.of(registry)
        self._register = register
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, url: str, *, register: bool = False) -> SchemaIds:
        """Ids from the registry at ``url`` (e.g. ``Endpoints.registry_url``)."""
        return cls(Registry(url), register=register)

    def id_of(self, event_type: Contract) -> int:
        subject = event_type.subject
        cached = self._ids.get(subject)
        if cached is not None:
            return cached
        with self._lock:
            if subject not in self._ids:
                self._ids[subject] = self._fetch(subject, event_type.registered_schema)
            return self._ids[subject]

    def _fetch(self, subject: str, schema_str: str) -> int:
        found = self._registry.lookup(subject, schema_str)
        if found is not None:
            return found.schema_id
        if self._register:
            return self._registry.register(subject, schema_str)
        raise SchemaNotRegisteredError(
            subject, "this checkout's schema is not registered under the subject"
        )

    def all(self, types: Iterable[Contract] | None = None) -> dict[str, int]:
        """subject -> schema id for every event type (or ``types``)."""
        return {t.subject: self.id_of(t) for t in (event_types() if types is None else types)}


def registered_ids(
    registry: Registry | SchemaRegistryClient, *, register: bool = False
) -> dict[str, int]:
    """subject -> schema id of every event type (see :class:`SchemaIds`)."""
    return SchemaIds(registry, register=register).all()


# ---- consumers: writer schemas ---------------------------------------------------------------


class WriterSchemas:
    """id -> parsed writer schema, fetched once per id; pass it to ``serde.decode``.

    Returns None for an id the registry does not know (the message goes to the dead-letter
    topic); a registry that cannot be reached raises, because that is not the message's fault.
    The same parsed object is returned for an id every time, which lets ``serde`` keep its
    compiled writers. Unknown ids are not cached: the schema may be registered a moment later.
    """

    def __init__(self, registry: Registry | SchemaRegistryClient) -> None:
        self._registry = Registry.of(registry)
        self._schemas: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, url: str) -> WriterSchemas:
        return cls(Registry(url))

    def __call__(self, schema_id: int) -> dict[str, Any] | None:
        cached = self._schemas.get(schema_id)
        if cached is not None:
            return cached
        with self._lock:
            if schema_id in self._schemas:
                return self._schemas[schema_id]
            schema = self._registry.schema_by_id(schema_id)
            if schema is None or (schema.schema_type or "AVRO") != "AVRO":
                return None
            try:
                parsed = parse_schema(json.loads(schema.schema_str or ""))
            except (ValueError, SchemaParseException) as exc:
                raise RegistryError(
                    f"parse schema id {schema_id}", None, f"{type(exc).__name__}: {exc}"
                ) from exc
            if not isinstance(parsed, dict):
                return None  # a bare primitive or union: no event of ours
            self._schemas[schema_id] = parsed
            return parsed
