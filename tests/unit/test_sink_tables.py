"""Warehouse DDL, migrations and the read-only check (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sinks.tables import render_all, table_specs
from sinks.warehouse.migrate import MIGRATIONS_DIR, Migration, MigrationError, migrations
from sinks.warehouse.readonly import NotReadOnlyError, check_read_only


def test_the_first_migration_is_the_ddl_of_the_contract() -> None:
    first = (MIGRATIONS_DIR / "0001_event_store.sql").read_text("utf-8")
    body = "\n".join(line for line in first.splitlines() if not line.startswith("--")) + "\n"
    assert body == render_all(table_specs())


def test_migrations_are_numbered_and_split_into_statements() -> None:
    found = migrations()
    assert [m.version for m in found] == sorted(m.version for m in found)
    assert found[0].version == 1
    assert all(s.upper().startswith("CREATE") for m in found for s in m.statements)
    migration = Migration(
        9, "x", "-- a comment; not a split\nCREATE TABLE a (x Int8);\n\nSELECT 1;\n"
    )
    assert migration.statements == ["CREATE TABLE a (x Int8)", "SELECT 1"]


def test_a_badly_named_migration_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_first.sql").write_text("SELECT 1;\n")
    with pytest.raises(MigrationError) as error:
        migrations(tmp_path)
    assert error.value.migration == "1_first.sql"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "  with x as (select 1) select * from x;",
        "SHOW TABLES",
        "DESCRIBE TABLE events_dossier",
    ],
)
def test_reading_statements_pass(sql: str) -> None:
    assert check_read_only(sql).endswith(("1", "x", "TABLES", "events_dossier"))


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE events_dossier",
        "INSERT INTO events_dossier SELECT * FROM events_dossier",
        "SELECT 1; DROP TABLE x",
        "ALTER TABLE sink_ranges DELETE WHERE 1",
        "SELECT 1 SETTINGS readonly = 0",
        "SELECT 1 INTO OUTFILE '/tmp/x'",
    ],
)
def test_anything_else_is_refused_with_the_statement(sql: str) -> None:
    with pytest.raises(NotReadOnlyError) as error:
        check_read_only(sql)
    assert error.value.sql == sql
