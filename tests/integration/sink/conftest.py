"""Fixtures of the sink's and the warehouse's integration tests."""

from __future__ import annotations

import uuid

import pytest

from dossierhub.stack import Stack


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
