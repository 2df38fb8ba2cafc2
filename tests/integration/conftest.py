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
