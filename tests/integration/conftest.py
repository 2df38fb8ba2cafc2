import uuid

import pytest

from dossierhub.stack import Stack
from schemas.admin import TopicAdmin
from schemas.evolution import apply_schemas
from schemas.registry import Registry
from schemas.topics import canonical_topics


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def applied_contract(stack: Stack) -> None:
    """Canonical topics and every subject, applied once for the session (idempotent)."""
    admin = TopicAdmin({"bootstrap.servers": stack.kafka.bootstrap})
    topics = admin.apply(canonical_topics(replication_factor=1))
    assert all(r.ok for r in topics), [r.as_dict() for r in topics if not r.ok]
    subjects = apply_schemas(Registry(stack.registry.url))
    assert all(r.ok for r in subjects), [r.as_dict() for r in subjects if not r.ok]


@pytest.fixture(params=["chdb", "clickhouse"])
def warehouse_url(
    request: pytest.FixtureRequest, stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A fresh, empty warehouse on each backend: a chDB path, or a new database on the stack's
    ClickHouse server (18.16). Tests taking it run once per backend."""
    if request.param == "chdb":
        return f"chdb://{tmp_path_factory.mktemp('warehouse')}"
    from sinks.warehouse import connect

    database = f"test_{uuid.uuid4().hex[:12]}"
    with connect(stack.clickhouse.url) as server:
        server.execute(f"CREATE DATABASE {database}")
    return stack.clickhouse.url.rsplit("/", 1)[0] + f"/{database}"
