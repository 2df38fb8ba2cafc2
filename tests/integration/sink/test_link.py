"""``dossierhub link add | list | sync`` against a real PostgreSQL (Debian's server, a cluster of
the test's own) on both warehouse backends: analysts join dossiers to the imported registry, and
a change in PostgreSQL reaches the warehouse with the next sync, alone."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from schemas import example_event
from schemas.examples import pseudonym
from schemas.topics import DOSSIER_EVENTS
from sinks.rows import TableRows
from sinks.tables import table_for
from sinks.warehouse import connect
from sinks.warehouse.migrate import migrate
from tests.helpers import run_cli
from tests.postgres import postgres_cluster

pytestmark = pytest.mark.timeout(300)

# The README's example: dossiers received per business line of the applicant enterprise. ALL,
# not ANY: the current engine's ANY INNER JOIN keeps one row per key on the left side too.
PER_BUSINESS_LINE = """
SELECT business_line, count() AS dossiers
FROM (SELECT ifNull(applicant_id_hash, '') AS id_hash FROM events_dossier
      WHERE event_type = 'DossierReceived') AS dossier
ALL INNER JOIN (SELECT id_hash, business_line FROM link_registry) AS registry USING id_hash
GROUP BY business_line ORDER BY business_line"""
ENTERPRISES = {"0301234567": "Bakery", "0309876543": "Logistics", "0305555555": "Bakery"}


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with postgres_cluster() as dsn:
        yield dsn


@pytest.fixture
def registry(postgres: str) -> str:
    """A business registry keyed by the pseudonym dossiers carry as applicant_id_hash (HMAC of
    the enterprise code); one table per test. The owner's phone must never reach the warehouse."""
    table = f"registry_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres, autocommit=True) as db:
        db.execute(
            f"CREATE TABLE {table} (id_hash text PRIMARY KEY, name text NOT NULL, "
            "business_line text, capital numeric(14, 2), registered_on date, active boolean, "
            "owner_phone text, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())"
        )
        for code, line in ENTERPRISES.items():
            db.execute(
                f"INSERT INTO {table} (id_hash, name, business_line, capital, registered_on, "
                "active, owner_phone) VALUES (%s, %s, %s, 1000000.50, '2020-01-02', true, "
                "'0901234567')",
                (pseudonym(code), f"Công ty {code}", line),
            )
    return table


def _dossiers(url: str) -> None:
    rows = TableRows(table_for(DOSSIER_EVENTS))
    for offset, code in enumerate(["0301234567", "0301234567", "0309876543", "0000000000"]):
        event = example_event("DossierReceived", event_id=uuid.uuid4())
        event.update(dossier_code=f"D{offset}", applicant_id_hash=pseudonym(code))
        rows.add(event, (DOSSIER_EVENTS, 0, offset), 1)
    with connect(url) as warehouse:
        migrate(warehouse)
        warehouse.insert_columns(rows.batch())


def _cli(home: Path, url: str, *args: str) -> Any:
    result = run_cli(
        "link", *args, "--format", "json", home=home, env={"DOSSIERHUB_WAREHOUSE_URL": url}
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_sync_join_and_incremental_update(
    warehouse_url: str, postgres: str, registry: str, tmp_path: Path
) -> None:
    _dossiers(warehouse_url)
    added = _cli(tmp_path, warehouse_url, "add", "registry", "--dsn", postgres, "--table",
                 registry, "--key", "id_hash")  # fmt: skip
    assert "owner_phone" not in added["columns"]  # raw personal data stays in PostgreSQL
    assert _cli(tmp_path, warehouse_url, "sync")[0]["rows"] == len(ENTERPRISES)
    # the processes take turns: one chDB path, one process at a time
    with connect(warehouse_url) as warehouse:
        assert warehouse.query(PER_BUSINESS_LINE) == [("Bakery", 2), ("Logistics", 1)]
        assert warehouse.query(
            f"SELECT capital, registered_on, active FROM link_registry "
            f"WHERE id_hash = '{pseudonym('0301234567')}'"
        ) == [(1000000.5, dt.date(2020, 1, 2), 1)]

    with psycopg.connect(postgres, autocommit=True) as db:
        db.execute(
            f"UPDATE {registry} SET business_line = 'Food', updated_at = clock_timestamp() "
            "WHERE id_hash = %s",
            (pseudonym("0301234567"),),
        )
    second = _cli(tmp_path, warehouse_url, "sync", "registry")
    assert second[0]["rows"] == 1  # only the changed row
    assert _cli(tmp_path, warehouse_url, "sync")[0]["rows"] == 0
    with connect(warehouse_url) as warehouse:
        assert warehouse.query(PER_BUSINESS_LINE) == [("Food", 2), ("Logistics", 1)]
        assert warehouse.query("SELECT count() FROM link_registry") == [(len(ENTERPRISES),)]
    listed = _cli(tmp_path, warehouse_url, "list")
    assert [(entry["name"], entry["syncs"], entry["rows_imported"]) for entry in listed] == [
        ("registry", 3, len(ENTERPRISES) + 1)
    ]


def test_a_dsn_with_a_password_is_refused(
    warehouse_url: str, postgres: str, tmp_path: Path
) -> None:
    with_password = postgres.replace("hub@", "hub:secret@")
    result = run_cli(
        "link", "add", "registry", "--dsn", with_password, "--table", "t", "--key", "k",
        home=tmp_path, env={"DOSSIERHUB_WAREHOUSE_URL": warehouse_url},
    )  # fmt: skip
    assert result.returncode == 2
    assert "password" in result.stderr
    assert "secret" not in result.stderr
