"""A queued message's row (messages/service.py `outbound_row`) and the rows of a deferred
INSERT in general (core/deferred_writes.py `RowDefaults`) come from the table's column
definitions: every column is named, so a column added to the model is in the row at once,
with its default."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func

from wagateway.core.db import table_of
from wagateway.core.deferred_writes import RowDefaults
from wagateway.messages.models import Message
from wagateway.messages.service import outbound_row

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_a_queued_message_s_row_names_every_column_but_seq() -> None:
    row = outbound_row(
        id="m-1",
        app_id="app",
        device_id="dev",
        type="text",
        chat="6281234567@s.whatsapp.net",
        content={"text": "hi"},
        wa_message_id="3EB0ABC",
        next_attempt_at=NOW,
        expires_at=NOW,
        created_at=NOW,
    )
    columns = {column.key for column in table_of(Message).columns}
    assert set(row) == columns - {"seq"}
    assert (row["direction"], row["status"], row["updated_at"]) == ("outbound", "queued", NOW)
    # The columns it was not given: their defaults, as the model declares them.
    assert (row["attempts"], row["forwarded"], row["archived"]) == (0, False, False)
    assert (row["mentions"], row["sender"], row["sent_at"]) == ([], None, None)


def test_rows_follow_the_table_s_columns_and_defaults() -> None:
    made = count(1)
    table = Table(
        "things",
        MetaData(),
        Column("seq", Integer, primary_key=True, autoincrement=True),
        Column("name", String(10)),
        Column("size", Integer, default=3),
        Column("tags", String(10), default=lambda: f"t{next(made)}"),
        Column("added_later", String(10), nullable=True),
        Column("stamped", String(10), server_default=func.now()),
    )
    rows = RowDefaults(table)
    assert rows.complete({"name": "a"}) == {
        "name": "a",
        "size": 3,
        "tags": "t1",
        "added_later": None,
    }
    # A callable default is called for each row, and a given value wins over a default.
    assert rows.complete({"name": "b", "size": 9})["tags"] == "t2"
    assert rows.complete({"name": "c", "tags": "own"})["tags"] == "own"
    assert next(made) == 3
    with pytest.raises(AssertionError, match="not columns of things"):
        rows.complete({"nmae": "typo"})
