"""Shared fixtures. Integration tests get one real local stack per session, in a temp home
on free ports, so they never touch a developer's own stack in ``.dossierhub/``."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dossierhub.settings import Settings
from dossierhub.stack import Stack


@pytest.fixture(scope="session")
def stack_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack-home")


@pytest.fixture(scope="session")
def settings(stack_home: Path) -> Settings:
    return Settings(home=stack_home)


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[Stack]:
    """The real Kafka, registry and ClickHouse, started once for the whole session."""
    local = Stack(settings)
    local.up(progress=lambda line: print(line, file=sys.stderr) if line else None)
    try:
        yield local
    finally:
        local.down(progress=lambda line: None)


@pytest.fixture
def topic_name() -> str:
    return f"test.{uuid.uuid4().hex[:12]}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many generated inputs the property and fuzz tests fed the hub (tests/fuzzing.py)."""
    from tests.fuzzing import TRIED

    if not TRIED:
        return
    terminalreporter.section("inputs tried by the property and fuzz tests")
    for kind, count in sorted(TRIED.items()):
        terminalreporter.write_line(f"{count:>8}  {kind}")
    # "… of which" lines break down the line above them: not counted twice
    total = sum(count for kind, count in TRIED.items() if "… of which" not in kind)
    terminalreporter.write_line(f"{total:>8}  in all")
