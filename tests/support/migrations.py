"""Databases at a given Alembic revision, filled with rows written against the tables as
they are at that revision, and what those rows become at head.

The schema at revision r is read from the database itself (reflection), never from today's
models, which describe head: a fixture written at 0003 goes in as a 0003-era gateway wrote it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, Table, insert, select, text
from sqlalchemy.engine import Connection

from wagateway.core.db import create_engine
from wagateway.core.migrate import alembic_config

Row = dict[str, Any]
Rows = dict[str, list[Row]]  # table → rows


@dataclass(frozen=True)
class Added:
    """A column a revision adds to a table that already exists."""

    # What a row written before the revision holds after upgrading through it: a value, or a
    # function of the row as it was (for a column the upgrade fills from other columns).
    carried: Any
    written: Any  # what the fixture's rows hold when written at this revision or later

    def carried_for(self, row: Row) -> Any:
        return self.carried(row) if callable(self.carried) else self.carried


@dataclass(frozen=True)
class Revision:
    """What one revision does to the data: the rows a gateway at this revision writes (in
    any table that exists at it, with every column it has at this revision), and how it
    carries the rows written before it (renamed and added columns)."""

    rows: Rows = field(default_factory=dict)
    renames: dict[str, dict[str, str]] = field(default_factory=dict)  # table → old → new
    adds: dict[str, dict[str, Added]] = field(default_factory=dict)  # table → column → Added
    # Rows the upgrade writes into tables of its own from the rows before it (table → rows).
    derives: Callable[[Rows], Rows] | None = None

    def carry(self, tables: Rows, *, written_here: bool) -> Rows:
        carried: Rows = {}
        for table, rows in tables.items():
            renames = self.renames.get(table, {})
            adds = self.adds.get(table, {})
            carried[table] = [
                {renames.get(column, column): value for column, value in row.items()}
                | {
                    column: added.written if written_here else added.carried_for(row)
                    for column, added in adds.items()
                }
                for row in rows
            ]
        return carried


def revision_ids() -> list[str]:
    """Every revision, oldest first (the migrations' own chain, not a hand-kept list)."""
    script = ScriptDirectory.from_config(alembic_config(""))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def rows_written_at(revisions: Mapping[str, Revision], at: str) -> Rows:
    """The fixture's rows as a gateway at revision `at` holds them."""
    tables: Rows = {}
    for revision_id, revision in revisions.items():
        tables = revision.carry(tables, written_here=True)
        for table, rows in revision.rows.items():
            tables.setdefault(table, []).extend(rows)
        if revision_id == at:
            return tables
    raise KeyError(at)


def rows_after_upgrade(revisions: Mapping[str, Revision], written_at: str) -> Rows:
    """Rows written at `written_at`, as the migrations after it leave them at head."""
    tables = rows_written_at(revisions, written_at)
    ids = list(revisions)
    for revision_id in ids[ids.index(written_at) + 1 :]:
        revision = revisions[revision_id]
        derived = revision.derives(tables) if revision.derives else {}
        tables = revision.carry(tables, written_here=False)
        for table, rows in derived.items():
            tables.setdefault(table, []).extend(rows)
    return tables


def renamed_after(revisions: Mapping[str, Revision], written_at: str) -> dict[str, dict[str, str]]:
    """table → column at `written_at` → its name at head."""
    ids = list(revisions)
    names: dict[str, dict[str, str]] = {}
    for revision_id in ids[ids.index(written_at) + 1 :]:
        for table, renames in revisions[revision_id].renames.items():
            current = names.setdefault(table, {})
            for old, new in renames.items():
                original = next((k for k, v in current.items() if v == old), old)
                current[original] = new
    return names


def unchanged_columns(
    written: list[Row], expected: list[Row], renames: dict[str, str]
) -> list[tuple[str, str]]:
    """(name as written, name at head) of each column whose every value the upgrade keeps."""
    return [
        (column, renames.get(column, column))
        for column in written[0]
        if all(
            w[column] == e[renames.get(column, column)]
            for w, e in zip(written, expected, strict=True)
        )
    ]


def _run(url: str, work: Any) -> Any:
    async def go() -> Any:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                return await conn.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _reflected(conn: Connection) -> MetaData:
    metadata = MetaData()
    metadata.reflect(conn)
    metadata.remove(metadata.tables["alembic_version"])
    return metadata


def table_names(url: str) -> set[str]:
    return set(_run(url, lambda conn: _reflected(conn).tables))


def fill(url: str, rows: Rows) -> None:
    """Insert `rows` through Core against the tables as the database has them now, parents
    before children (the reflected foreign keys give the order).

    A generated key (`seq`, `id`) is left to the database, as the gateway leaves it, so its
    sequence stands where it would; the fixture gives the keys a fresh database assigns
    (1, 2… in the order given), which other rows may refer to."""

    def work(conn: Connection) -> None:
        metadata = _reflected(conn)
        for table in metadata.sorted_tables:
            table_rows = rows.get(table.name)
            if not table_rows:
                continue
            key = table.autoincrement_column
            if key is None:
                conn.execute(insert(table), table_rows)
                continue
            conn.execute(
                insert(table),
                [{c: v for c, v in row.items() if c != key.name} for row in table_rows],
            )
            declared = [row[key.name] for row in table_rows if key.name in row]
            if declared:
                assigned = list(conn.execute(select(key).order_by(key)).scalars())
                assert assigned == declared, f"{table.name}: give the keys a fresh database assigns"

    _run(url, work)


def next_keys(url: str, metadata: MetaData, rows: Rows) -> dict[str, tuple[int, int]]:
    """table → (the largest key it holds, the key a new row gets), for every table with a
    generated key and rows: the new row copies the last one (unique columns made unique),
    and is rolled back."""

    def work(conn: Connection) -> dict[str, tuple[int, int]]:
        keys: dict[str, tuple[int, int]] = {}
        for name, table in metadata.tables.items():
            key = table.autoincrement_column
            if key is None or not rows.get(name):
                continue
            last = rows[name][-1]
            new_row = {
                column: f"{value}-next" if table.c[column].unique else value
                for column, value in last.items()
                if column != key.name
            }
            with conn.begin_nested() as savepoint:
                result = conn.execute(insert(table), new_row)
                assert result.inserted_primary_key is not None
                keys[name] = (
                    max(row[key.name] for row in rows[name]),
                    result.inserted_primary_key[0],
                )
                savepoint.rollback()
        return keys

    return dict(_run(url, work))


def _sorted_by_key(table: Table, rows: Iterable[Any]) -> list[Row]:
    key = [column.name for column in table.primary_key.columns]
    return sorted((dict(row._mapping) for row in rows), key=lambda r: [r[k] for k in key])


def typed_rows(url: str, metadata: MetaData) -> Rows:
    """Every row of every table of `metadata`, read through its column types, in key order."""

    def work(conn: Connection) -> Rows:
        return {
            name: _sorted_by_key(table, conn.execute(select(table)))
            for name, table in metadata.tables.items()
        }

    return dict(_run(url, work))


def raw_rows(url: str) -> Rows:
    """Every row of every table as the driver returns it (SQLite: the stored text), in key
    order: what "byte for byte" is checked against."""

    def work(conn: Connection) -> Rows:
        metadata = _reflected(conn)
        return {
            name: _sorted_by_key(table, conn.execute(text(f'SELECT * FROM "{name}"')))
            for name, table in metadata.tables.items()
        }

    return dict(_run(url, work))


def dangling_references(url: str) -> list[Any]:
    """Rows whose foreign key points at nothing. Migrations run with SQLite's foreign keys
    off (migrations/env.py), so only this notices a migration that leaves one; PostgreSQL
    checks every ALTER itself."""

    def work(conn: Connection) -> list[Any]:
        if conn.dialect.name != "sqlite":
            return []
        return [tuple(row) for row in conn.exec_driver_sql("PRAGMA foreign_key_check")]

    return list(_run(url, work))


def schema_differences(url: str, metadata: MetaData) -> list[Any]:
    """What `alembic check` reports: the models' metadata against the migrated schema."""

    def work(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "render_as_batch": conn.dialect.name == "sqlite",
            },
        )
        return list(compare_metadata(context, metadata))

    return list(_run(url, work))
