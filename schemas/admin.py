"""Topic administration: make the cluster match ``topics.all_topics`` (declarative, idempotent).

``TopicAdmin.apply(specs)`` creates missing topics, adds partitions where the declaration asks
for more, and pins every declared config key on the topic with an incremental alter (keys the
declaration does not name are left alone). What Kafka cannot do — fewer partitions, another
replication factor of an existing topic — is reported per topic, never attempted.

The diff is a pure function (:func:`plan_topic`) of a declaration and the topic's described
state, so it is unit-tested without a broker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final

from confluent_kafka import KafkaError, KafkaException

# confluent_kafka.admin re-exports these without an __all__, which strict mypy refuses.
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    ResourceType,
)

from dossierhub.errors import ConfigError, HubError, ServiceUnreachableError

from .topics import INBOUND_PREFIX, TopicSpec, all_topics, canonical_topics, inbound_agency

__all__ = [
    "DEFAULT_REPLICATION_FACTOR",
    "LISTED_CONFIGS",
    "Action",
    "TopicAdmin",
    "TopicAdminError",
    "TopicPlan",
    "TopicResult",
    "TopicState",
    "apply_hub_topics",
    "is_declared",
    "plan_topic",
    "replication_factor_for",
]

#: Production default: three replicas survive one broker down with min.insync.replicas=2.
DEFAULT_REPLICATION_FACTOR: Final = 3
#: Configs shown by ``topics list`` (the ones the declaration sets).
LISTED_CONFIGS: Final = ("cleanup.policy", "retention.ms", "retention.bytes", "min.insync.replicas")

#: a config value and whether it is set on the topic itself (not inherited from the broker)
_Entry = tuple[str | None, bool]

_EXISTS: Final = "TOPIC_ALREADY_EXISTS"

_log = logging.getLogger(__name__)
_log.addHandler(logging.NullHandler())


class TopicAdminError(HubError):
    """Kafka refused or failed an administrative request about one topic."""

    def __init__(
        self,
        topic: str,
        action: str,
        reason: str,
        *,
        code: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(f"topic {topic}: {action} failed: {reason}", hint=hint)
        self.topic = topic
        self.action = action
        self.reason = reason
        #: Kafka's error name, e.g. ``INVALID_CONFIG``, when Kafka gave one
        self.code = code


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class TopicState:
    """What the cluster says about one topic."""

    name: str
    partitions: int
    replication_factor: int
    #: every config entry: key -> (value, whether it is set on the topic itself)
    config: Mapping[str, _Entry] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TopicPlan:
    """The difference between a declaration and the cluster, for one topic."""

    spec: TopicSpec
    action: Action
    current_partitions: int | None = None
    #: declared key -> (current value or None, declared value); only keys that must change
    config_changes: Mapping[str, tuple[str | None, str]] = field(default_factory=dict)
    #: things Kafka cannot change in place: the topic keeps them and apply fails for it
    errors: tuple[str, ...] = ()
    #: drift worth knowing that apply does not touch
    warnings: tuple[str, ...] = ()

    @property
    def adds_partitions(self) -> bool:
        current = self.current_partitions
        return current is not None and self.spec.partitions > current

    def changes(self) -> list[str]:
        """Human-readable changes, e.g. ``partitions 3 → 6``, ``retention.ms 604800000 → -1``."""
        out = []
        if self.adds_partitions:
            out.append(f"partitions {self.current_partitions} → {self.spec.partitions}")
        for key, (old, new) in sorted(self.config_changes.items()):
            out.append(f"{key} {'(default)' if old is None else old} → {new}")
        return out


@dataclass(frozen=True, slots=True)
class TopicResult:
    plan: TopicPlan
    dry_run: bool
    #: the request Kafka refused, if any (the other topics were still applied)
    failure: TopicAdminError | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None and not self.plan.errors

    @property
    def status(self) -> str:
        if self.failure is not None:
            return "failed"
        if self.plan.errors:
            return "conflict"  # the declaration asks for what Kafka cannot do
        if self.plan.action is Action.UNCHANGED:
            return "unchanged"
        done = {Action.CREATE: "created", Action.UPDATE: "updated"}[self.plan.action]
        return f"would be {done}" if self.dry_run else done

    @property
    def errors(self) -> list[str]:
        failure = [self.failure.one_line()] if self.failure is not None else []
        return [*self.plan.errors, *failure]

    def as_dict(self) -> dict[str, object]:
        plan = self.plan
        return {
            "topic": plan.spec.name,
            "status": self.status,
            "ok": self.ok,
            "partitions": plan.spec.partitions,
            "current_partitions": plan.current_partitions,
            "replication_factor": plan.spec.replication_factor,
            "config_changes": {
                key: {"from": old, "to": new} for key, (old, new) in plan.config_changes.items()
            },
            "changes": plan.changes(),
            "errors": self.errors,
            "warnings": list(plan.warnings),
            "dry_run": self.dry_run,
        }


def replication_factor_for(brokers: int, requested: int | None = None) -> int:
    """``requested`` if the cluster can host it, else the default capped at the broker count."""
    if requested is None:
        return max(1, min(DEFAULT_REPLICATION_FACTOR, brokers))
    if requested < 1:
        raise ConfigError("--replication-factor", requested, "must be at least 1")
    if requested > brokers:
        raise ConfigError(
            "--replication-factor",
            requested,
            f"the cluster has only {brokers} broker(s)",
            hint="Kafka cannot place more replicas than brokers",
        )
    return requested


def plan_topic(spec: TopicSpec, state: TopicState | None) -> TopicPlan:
    """What applying ``spec`` does to a topic in ``state`` (None: the topic does not exist)."""
    if state is None:
        return TopicPlan(spec, Action.CREATE)
    errors = []
    if spec.partitions < state.partitions:
        errors.append(
            f"has {state.partitions} partitions, the declaration asks for {spec.partitions}: "
            "Kafka cannot remove partitions (recreate the topic or raise the declaration)"
        )
    warnings = []
    if state.replication_factor != spec.replication_factor:
        warnings.append(
            f"replication factor is {state.replication_factor}, declared "
            f"{spec.replication_factor}: change it with a partition reassignment"
        )
    changes: dict[str, tuple[str | None, str]] = {}
    for key, wanted in spec.config.items():
        value, on_topic = state.config.get(key, (None, False))
        # A value inherited from the broker equals the declaration only until someone changes
        # the broker default, so the declared keys are pinned on the topic itself.
        if value != wanted or not on_topic:
            changes[key] = (value if on_topic else None, wanted)
    action = Action.UPDATE if changes or spec.partitions > state.partitions else Action.UNCHANGED
    return TopicPlan(
        spec,
        action,
        current_partitions=state.partitions,
        config_changes=changes,
        errors=tuple(errors),
        warnings=tuple(warnings),
    )


def is_declared(topic: str) -> bool:
    """Whether the hub's declaration covers ``topic`` (a canonical or an agency's inbound one)."""
    if topic.startswith(INBOUND_PREFIX):
        return inbound_agency(topic) is not None
    return topic in {spec.name for spec in canonical_topics(1)}


class TopicAdmin:
    """The hub's topic administration against one cluster."""

    def __init__(self, kafka_config: Mapping[str, object], *, timeout_s: float = 30.0) -> None:
        self._config = dict(kafka_config)
        self._admin = AdminClient(self._config)  # type: ignore[arg-type]
        self.timeout_s = timeout_s

    @property
    def _bootstrap(self) -> str:
        return str(self._config.get("bootstrap.servers", "?"))

    # ---- reading -----------------------------------------------------------------------------

    def _metadata(self) -> Any:
        try:
            return self._admin.list_topics(timeout=min(self.timeout_s, 10.0))
        except KafkaException as exc:
            raise ServiceUnreachableError(
                "kafka",
                self._bootstrap,
                _reason(exc),
                hint="check DOSSIERHUB_KAFKA_BOOTSTRAP, or start the local stack: "
                "dossierhub stack up",
            ) from exc

    def broker_count(self) -> int:
        return len(self._metadata().brokers)

    def describe(self, names: Iterable[str] | None = None) -> dict[str, TopicState]:
        """The state of the named topics that exist (all non-internal topics for None)."""
        metadata = self._metadata()
        wanted = set(metadata.topics) if names is None else set(names)
        found = {}
        for name in sorted(wanted & set(metadata.topics)):
            if names is None and name.startswith("__"):
                continue  # Kafka's own topics (offsets, transactions) are not ours to list
            topic = metadata.topics[name]
            partitions = topic.partitions.values()
            replicas = max((len(p.replicas) for p in partitions), default=0)
            found[name] = (len(partitions), replicas)
        configs = self._describe_configs(sorted(found))
        return {
            name: TopicState(name, count, replicas, configs[name])
            for name, (count, replicas) in found.items()
        }

    def _describe_configs(self, names: Sequence[str]) -> dict[str, dict[str, _Entry]]:
        if not names:
            return {}
        resources = [ConfigResource(ResourceType.TOPIC, name) for name in names]
        futures = self._admin.describe_configs(resources, request_timeout=self.timeout_s)
        out = {}
        for resource, future in futures.items():
            entries = _wait(future, resource.name, "describe configs", self.timeout_s)
            out[resource.name] = {
                key: (entry.value, entry.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
                for key, entry in entries.items()
            }
        return out

    def plan(self, specs: Sequence[TopicSpec]) -> list[TopicPlan]:
        _check_unique(specs)
        states = self.describe(spec.name for spec in specs)
        return [plan_topic(spec, states.get(spec.name)) for spec in specs]

    # ---- writing -----------------------------------------------------------------------------

    def apply(self, specs: Sequence[TopicSpec], *, dry_run: bool = False) -> list[TopicResult]:
        """Make the cluster match ``specs``; with ``dry_run`` Kafka only validates the requests.

        Every topic is attempted; a refused request is recorded on that topic's result (see
        :attr:`TopicResult.failure`) rather than stopping the others.
        """
        return self.execute(self.plan(specs), dry_run=dry_run)

    def execute(self, plans: Sequence[TopicPlan], *, dry_run: bool = False) -> list[TopicResult]:
        """Carry out ``plans`` (from :meth:`plan`).

        A topic that appeared since it was planned (another apply, or a broker whose metadata
        lagged behind its controller) is planned again once and updated instead of created.
        """
        results = self._execute(plans, dry_run)
        raced = [r.plan.spec for r in results if r.failure and r.failure.code == _EXISTS]
        if raced:
            self._await_visible([spec.name for spec in raced])
            again = {r.plan.spec.name: r for r in self._execute(self.plan(raced), dry_run)}
            results = [again.get(r.plan.spec.name, r) for r in results]
        return results if dry_run else self._settle(results)

    def _settle(self, results: list[TopicResult]) -> list[TopicResult]:
        """Return once the broker reports what was applied, so the next plan sees it.

        Kafka acknowledges a change when its controller has committed it; the broker that
        answers describe requests applies it a moment later.
        """
        changed = [
            r.plan.spec
            for r in results
            if r.failure is None and r.plan.action is not Action.UNCHANGED
        ]
        if not changed:
            return results
        deadline = time.monotonic() + self.timeout_s
        while True:
            pending = {p.spec.name for p in self.plan(changed) if p.action is not Action.UNCHANGED}
            if not pending:
                return results
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)  # metadata propagation has no notification to wait on
        lagging = f"the broker does not report the change after {self.timeout_s:g}s yet"
        return [
            replace(r, plan=replace(r.plan, warnings=(*r.plan.warnings, lagging)))
            if r.plan.spec.name in pending
            else r
            for r in results
        ]

    def _execute(self, plans: Sequence[TopicPlan], dry_run: bool) -> list[TopicResult]:
        failures: dict[str, TopicAdminError] = {}
        options = {"validate_only": dry_run, "request_timeout": self.timeout_s}

        new = [
            NewTopic(
                p.spec.name,
                num_partitions=p.spec.partitions,
                replication_factor=p.spec.replication_factor,
                config=dict(p.spec.config),
            )
            for p in plans
            if p.action is Action.CREATE
        ]
        if new:
            self._collect(self._admin.create_topics(new, **options), "create", failures)

        grow = [NewPartitions(p.spec.name, p.spec.partitions) for p in plans if p.adds_partitions]
        if grow:
            grown = self._admin.create_partitions(grow, **options)
            self._collect(grown, "add partitions", failures)

        alter = [
            ConfigResource(
                ResourceType.TOPIC,
                p.spec.name,
                incremental_configs=[
                    ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
                    for key, (_, value) in sorted(p.config_changes.items())
                ],
            )
            for p in plans
            if p.config_changes
        ]
        if alter:
            altered = self._admin.incremental_alter_configs(alter, **options)
            named = {resource.name: future for resource, future in altered.items()}
            self._collect(named, "alter configs", failures)

        return [TopicResult(p, dry_run, failures.get(p.spec.name)) for p in plans]

    def _await_visible(self, names: Sequence[str]) -> None:
        """Until the broker's metadata lists ``names`` (bounded by the request timeout)."""
        deadline = time.monotonic() + self.timeout_s
        while not set(names) <= set(self._metadata().topics) and time.monotonic() < deadline:
            time.sleep(0.1)  # metadata propagation has no notification to wait on

    def _collect(
        self, futures: Mapping[str, Future[Any]], action: str, failures: dict[str, TopicAdminError]
    ) -> None:
        for topic, future in futures.items():
            try:
                _wait(future, topic, action, self.timeout_s)
            except TopicAdminError as exc:
                _log.debug("%s", exc.one_line())
                failures.setdefault(topic, exc)


def _wait(future: Future[Any], topic: str, action: str, timeout_s: float) -> Any:
    try:
        # The request carries its own timeout; the margin only guards a lost callback.
        return future.result(timeout=timeout_s + 5)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else None
        code = error.name() if isinstance(error, KafkaError) else None
        raise TopicAdminError(topic, action, _reason(exc), code=code) from exc
    except TimeoutError as exc:
        raise TopicAdminError(topic, action, f"no answer within {timeout_s:g}s") from exc


def _reason(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    if isinstance(error, KafkaError):
        if error.code() in (KafkaError._TRANSPORT, KafkaError._TIMED_OUT):
            return "no broker answered within the timeout"
        return f"{error.name()}: {error.str()}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _check_unique(specs: Sequence[TopicSpec]) -> None:
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise ConfigError("topic", spec.name, "declared twice")
        seen.add(spec.name)


def apply_hub_topics(kafka_config: Mapping[str, Any], agencies: Iterable[str]) -> list[TopicResult]:
    """The hub's topics and the inbound topics of ``agencies``, at the replication the cluster
    can host (idempotent)."""
    admin = TopicAdmin(kafka_config)
    replication = replication_factor_for(admin.broker_count(), None)
    return admin.apply(all_topics(replication, agencies))
