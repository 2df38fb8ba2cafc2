"""The local ClickHouse server's users: the analyst reads and cannot change anything; the writer
loads; ``warehouse query`` connects as the analyst."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from dossierhub.stack import Stack
from dossierhub.stack.clickhouse import ANALYST_MAX_ROWS
from sinks.warehouse import WarehouseError, connect
from tests.helpers import run_cli

# ClickHouse's error code for a statement a readonly user may not run
READONLY = 164


@pytest.fixture(scope="module")
def database(stack: Stack) -> Iterator[str]:
    """A database with one table, created by the admin and loaded by the writer."""
    name = f"test_users_{uuid.uuid4().hex[:8]}"
    with connect(stack.clickhouse.url) as admin:
        admin.execute(f"CREATE DATABASE {name}")
        admin.execute(f"CREATE TABLE {name}.t (id UInt32, v String) ENGINE = MergeTree ORDER BY id")
    with connect(stack.clickhouse.user_url("writer", name)) as writer:
        assert writer.insert_rows(f"{name}.t", ("id", "v"), [(1, "a"), (2, "b")]) == 2
    yield name
    with connect(stack.clickhouse.url) as admin:
        admin.execute(f"DROP DATABASE {name}")


def test_password_files_are_owner_only(stack: Stack) -> None:
    folder = stack.settings.home / "credentials" / "clickhouse"
    assert {p.stem for p in folder.glob("*.json")} == {"writer", "analyst"}
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in folder.glob("*.json"))
    users_xml = (stack.clickhouse.dir / "users.xml").read_text()
    for path in folder.glob("*.json"):
        assert json.loads(path.read_text())["password"] not in users_xml  # only its SHA-256


def test_the_analyst_reads(stack: Stack, database: str) -> None:
    with connect(stack.clickhouse.user_url("analyst", database)) as analyst:
        assert analyst.query("SELECT count(), sum(id) FROM t") == [(2, 3)]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO t (id, v) VALUES (3, 'c')",
        "ALTER TABLE t DELETE WHERE id = 1",
        "ALTER TABLE t ADD COLUMN w String",
        "DROP TABLE t",
        "CREATE TABLE t2 (id UInt32) ENGINE = Memory",
        "TRUNCATE TABLE t",
        "SET max_result_rows = 0",
    ],
)
def test_the_analyst_cannot_change_the_warehouse(
    stack: Stack, database: str, statement: str
) -> None:
    with connect(stack.clickhouse.user_url("analyst", database)) as analyst:
        with pytest.raises(WarehouseError) as caught:
            analyst.execute(statement)
        assert caught.value.code == READONLY, caught.value
        assert analyst.query("SELECT count() FROM t") == [(2,)]


def test_the_analyst_limits_hold(stack: Stack) -> None:
    with (
        connect(stack.clickhouse.user_url("analyst")) as analyst,
        pytest.raises(WarehouseError) as caught,
    ):
        analyst.query(f"SELECT number FROM system.numbers LIMIT {ANALYST_MAX_ROWS + 1}")
    assert "limit for result exceeded" in str(caught.value).lower(), caught.value


def test_warehouse_query_connects_as_the_analyst(stack: Stack, database: str) -> None:
    # the admin's URL in the settings: the command still reads as the analyst
    url = stack.clickhouse.url.rsplit("/", 1)[0] + f"/{database}"
    env = {"DOSSIERHUB_WAREHOUSE_URL": url}
    marker = uuid.uuid4().hex
    who = run_cli(
        "warehouse",
        "query",
        f"SELECT user FROM system.processes WHERE query LIKE '%{marker}%'",
        "--format",
        "json",
        home=stack.settings.home,
        env=env,
    )
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout) == [{"user": "analyst"}]
    rows = run_cli(
        "warehouse",
        "query",
        "SELECT count() AS n FROM t",
        "--format",
        "json",
        home=stack.settings.home,
        env=env,
    )
    assert json.loads(rows.stdout) == [{"n": 2}]
