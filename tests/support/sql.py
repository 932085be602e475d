"""Watching the SQL a database runs, for tests that count queries."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event

from wagateway.core.db import Database


def recorded_statements(db: Database, *, reads: bool = False) -> list[str]:
    """Every SQL statement the writer runs from now on (a list that keeps filling); with
    `reads`, the read snapshots' too (`Database.read`, a pool of its own on SQLite)."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engines = {db.engine.sync_engine}
    if reads:
        engines.add(db._read_engine.sync_engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    return statements


def selects_from(table: str, statements: list[str]) -> list[str]:
    return [s for s in statements if re.match(rf"\s*SELECT .*\sFROM {table}\b", s, re.S)]
