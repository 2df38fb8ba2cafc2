"""Versioned migrations of the warehouse: ``migrations/NNNN_name.sql``, applied in order.

Each applied migration is recorded in ``schema_migrations`` (version, name, checksum); a second
run applies nothing. Statements must be idempotent (``CREATE … IF NOT EXISTS``), because a
migration interrupted halfway is run again from its first statement. An applied migration whose
file changed afterwards is refused (:class:`MigrationError`): add a new one instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sinks.warehouse._base import Warehouse, WarehouseError

__all__ = ["MIGRATIONS_DIR", "Migration", "MigrationError", "applied", "migrate", "migrations"]

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
_FILE: Final = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LEDGER_DDL: Final = """CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime('UTC')
)
ENGINE = MergeTree
ORDER BY version"""


class MigrationError(WarehouseError):
    """A migration file is malformed, or an applied one was edited."""

    def __init__(self, migration: str, message: str) -> None:
        super().__init__(f"migration {migration}", message)
        self.migration = migration


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    @property
    def statements(self) -> list[str]:
        """The statements of the file: comment lines dropped, split at ``;`` ending a line."""
        body = "\n".join(
            line for line in self.sql.splitlines() if not line.lstrip().startswith("--")
        )
        return [s.strip() for s in re.split(r";\s*$", body, flags=re.MULTILINE) if s.strip()]


def migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(path.name, "expected a name like 0001_event_store.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_text("utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(str(directory), f"duplicate version numbers in {versions}")
    return found


def applied(warehouse: Warehouse) -> dict[int, str]:
    """version -> checksum of the migrations already applied."""
    warehouse.execute(_LEDGER_DDL)
    rows = warehouse.query("SELECT version, any(checksum) FROM schema_migrations GROUP BY version")
    return {int(version): str(checksum) for version, checksum in rows}


def migrate(warehouse: Warehouse, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply the migrations not applied yet; returns them (empty when up to date).

    Then seeds the dimension tables from the directory's reference files that are new or changed
    (:mod:`sinks.warehouse.seed`).
    """
    done = applied(warehouse)
    ran: list[Migration] = []
    for migration in migrations(directory):
        label = f"{migration.version:04d}_{migration.name}"
        if migration.version in done:
            if done[migration.version] != migration.checksum:
                raise MigrationError(
                    label,
                    f"changed after it was applied (checksum {done[migration.version]} → "
                    f"{migration.checksum}); add a new migration instead",
                )
            continue
        for statement in migration.statements:
            warehouse.execute(statement)
        warehouse.insert_rows(
            "schema_migrations",
            ("version", "name", "checksum", "applied_at"),
            [
                (
                    migration.version,
                    migration.name,
                    migration.checksum,
                    dt.datetime.now(dt.UTC).replace(microsecond=0),
                )
            ],
        )
        ran.append(migration)
    if directory == MIGRATIONS_DIR:
        from sinks.warehouse.seed import seed_reference

        # the dimensions' seed tables come with 0005; every migrated warehouse gets them filled
        seed_reference(warehouse)
    return ran
