"""Rows a session writes with one Core statement per shape instead of the ORM's unit of work.

The messaging hot path writes a handful of rows per message many times a second: four
outbox events and four status changes of the message row. As ORM work each costs an
instance or a dirty state, history, and a place in the flush; in the profile of a group
commit the ORM flush took more time than SQLite. Here a session collects them, and writes
them as one INSERT (executemany) and one UPDATE per set of columns:

- at its commit, and
- before any statement of the same session that reads or writes their table, like an
  autoflush, so a query sees what the session wrote before it.

Updates of one row merge (later values win), so a message sent and then read in one group
commit is one UPDATE. A table's inserts are written before its updates.

The ORM object an update is about, when the caller has one, gets the new values as its
*committed* state (written into its `__dict__`, as a load would): code that reads the
object later in the transaction sees them, and the ORM has nothing to flush for it. The
object must have no unflushed ORM change of those columns.

The session listeners that write them are installed explicitly (`install_deferred_writes`,
called where the database is built); a deferred write before that is refused, as it would
never be written. What they rely on: a statement that could read a deferred row is one
they see coming, an ORM statement (its entities name the table) or a Core INSERT, UPDATE or
DELETE (it names its table). A Core SELECT on a table with deferred writes pending would
read the table without them; it is refused with an AssertionError (read the table through
the ORM, or `write_deferred(session, table)` first). Plain SQL text is not looked into.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import ColumnDefault, Connection, Select, Table, bindparam, insert, update
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql.util import find_tables

_PENDING = "wagateway.deferred_writes"
_NOT_INSTALLED = (
    "deferred writes need their session listeners: call install_deferred_writes() where "
    "the database is built (core.db.Database does), or the rows are never written"
)


@dataclass
class _TableWrites:
    inserts: list[dict[str, Any]] = field(default_factory=list)
    key: str = ""
    updates: dict[Any, dict[str, Any]] = field(default_factory=dict)


def _pending(session: Session) -> dict[Table, _TableWrites]:
    assert _installed, _NOT_INSTALLED
    pending: dict[Table, _TableWrites] = session.info.setdefault(_PENDING, {})
    return pending


def defer_insert(session: AsyncSession | Session, table: Table, row: dict[str, Any]) -> None:
    """INSERT `row` into `table` within this session's transaction (columns it leaves out
    get their defaults, as with the ORM)."""
    _pending(_sync(session)).setdefault(table, _TableWrites()).inserts.append(row)


class RowDefaults:
    """Complete rows for one executemany INSERT into `table` (`defer_insert`'s, where every
    row must name the same columns) from the table's own column definitions: each column but
    the autoincrement key, with its Python-side default (a value, or a callable called per
    row) when a row leaves it out, else None. A column the database fills (a server default
    and no other) is left out of every row. A new column of the model is in the rows at once."""

    def __init__(self, table: Table) -> None:
        self._table = table
        self._fixed: dict[str, Any] = {}
        self._made: list[tuple[str, Callable[[], Any]]] = []
        for column in table.columns:
            default = column.default
            if column is table.autoincrement_column:
                continue
            if default is None:
                if column.server_default is None:
                    self._fixed[column.key] = None
            elif isinstance(default, ColumnDefault) and default.is_scalar:
                self._fixed[column.key] = default.arg
            elif isinstance(default, ColumnDefault) and default.is_callable:
                # SQLAlchemy wraps a callable default to take the execution context, which
                # no default of ours reads: None stands in for it.
                self._made.append((column.key, partial(default.arg, None)))
            else:
                raise TypeError(f"{table.name}.{column.key}: a SQL default cannot go in a row")
        self.columns = frozenset([*self._fixed, *(key for key, _ in self._made)])

    def complete(self, values: dict[str, Any]) -> dict[str, Any]:
        assert self.columns.issuperset(values), (
            f"not columns of {self._table.name}: {sorted(set(values) - self.columns)}"
        )
        row = {**self._fixed, **values}
        for key, make in self._made:
            if key not in values:
                row[key] = make()
        return row


def defer_update(
    session: AsyncSession | Session,
    table: Table,
    key: str,
    key_value: Any,
    values: dict[str, Any],
    mapped: object | None = None,
) -> None:
    """UPDATE `table` SET `values` WHERE `key` = `key_value`, within this session's
    transaction; `mapped` (the row's ORM object, if loaded) takes the values at once."""
    writes = _pending(_sync(session)).setdefault(table, _TableWrites())
    assert writes.key in ("", key), f"{table.name}: one key column per session"
    writes.key = key
    writes.updates.setdefault(key_value, {}).update(values)
    if mapped is not None:
        # What `set_committed_value` does for a loaded object with no unflushed change of
        # these columns, without its per-attribute bookkeeping (it was the largest single
        # cost of a receipt: some twenty values per message).
        mapped.__dict__.update(values)


def update_by_key(
    connection: Connection, table: Table, key: str, changes: Iterable[dict[str, Any]]
) -> None:
    """UPDATE `table` row by row (each change maps `key` and the columns it sets), as one
    executemany per set of columns."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in changes:
        shapes.setdefault(tuple(change), []).append(
            {f"v_{column}": value for column, value in change.items()}
        )
    for columns, rows in shapes.items():
        # Bind names differ from the columns': SQLAlchemy reserves those for SET.
        values: dict[str, Any] = {c: bindparam(f"v_{c}") for c in columns if c != key}
        statement = update(table).where(table.c[key] == bindparam(f"v_{key}")).values(values)
        connection.execute(statement, rows)


def write_deferred(session: Session, table: Table | None = None) -> None:
    """Write what the session deferred (for `table` only, if given) now."""
    pending = session.info.get(_PENDING)
    if not pending:
        return
    for written in [table] if table is not None else list(pending):
        writes = pending.pop(written, None)
        if writes is None:
            continue
        connection = session.connection()
        if writes.inserts:
            connection.execute(insert(written), writes.inserts)
        if writes.updates:
            update_by_key(
                connection,
                written,
                writes.key,
                ({writes.key: key_value, **values} for key_value, values in writes.updates.items()),
            )


def _sync(session: AsyncSession | Session) -> Session:
    return session.sync_session if isinstance(session, AsyncSession) else session


def _before_statement(state: ORMExecuteState) -> None:
    pending = state.session.info.get(_PENDING)
    if not pending:
        return
    for table in list(pending):
        if _touches(state, table):
            write_deferred(state.session, table)
    if pending and not state.all_mappers and isinstance(state.statement, Select):
        read = set(find_tables(state.statement)).intersection(pending)
        assert not read, (
            f"a Core SELECT reads {', '.join(sorted(t.name for t in read))} while this "
            "session holds deferred writes to it, which it would not see: select through "
            "the ORM (its entity), or call write_deferred(session, table) first"
        )


def _touches(state: ORMExecuteState, table: Table) -> bool:
    # ORM statements name their entities; a Core INSERT/UPDATE/DELETE its table.
    if any(mapper.local_table is table for mapper in state.all_mappers):
        return True
    return getattr(state.statement, "table", None) is table


def _before_commit(session: Session) -> None:
    write_deferred(session)


_LISTENERS = (("do_orm_execute", _before_statement), ("before_commit", _before_commit))
_installed = False


def install_deferred_writes() -> None:
    """Install the listeners that write deferred rows (before a statement of their session
    on their table, and at its commit) on every ORM `Session`, the async sessions' own
    included. Idempotent; `core.db.Database` calls it, so any session it makes may defer."""
    global _installed
    for name, listener in _LISTENERS:
        if not sa_event.contains(Session, name, listener):
            sa_event.listen(Session, name, listener)
    _installed = True
