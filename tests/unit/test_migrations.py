"""Schema migrations users can trust, on SQLite and PostgreSQL.

- A database filled at each revision with representative rows (every table that exists at
  it) upgrades to head, as `wagateway serve` does at every start, and keeps every row: columns
  that carry over are byte for byte the same, renamed ones keep their values, added ones hold
  their defaults; and downgrading back gives the same bytes again.
- At head, the models and the migrated schema agree (`alembic check`), also after a walk down
  to an empty database and back up.

A new migration adds one `Revision` entry to REVISIONS: the rows a gateway at it writes (a
new table's rows, or more rows of an old one) and what it does to older rows (`renames`,
`adds`). A new table without rows, or an entry missing, fails the tests below.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Column, Integer, MetaData

from tests.support.databases import DatabaseProvider
from tests.support.migrations import (
    Added,
    Revision,
    dangling_references,
    fill,
    next_keys,
    raw_rows,
    renamed_after,
    revision_ids,
    rows_after_upgrade,
    rows_written_at,
    schema_differences,
    table_names,
    typed_rows,
    unchanged_columns,
)
from wagateway.core.db import Database, utcnow
from wagateway.core.errors import ApiError
from wagateway.core.migrate import alembic_config, upgrade_to_head
from wagateway.core.settings import Settings
from wagateway.models import Base
from wagateway.operators import service as operators

AT = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)
LATER = AT + timedelta(hours=1)
EMOJI_TEXT = "halo \u00e9\U0001f600 \u0645\u0631\u062d\u0628\u0627"

REVISIONS: dict[str, Revision] = {
    # Two apps (one with every optional column set, one with none), a linked and a destroyed
    # device, the sandbox's session, a token, two events and one delivery attempt.
    "0001": Revision(
        rows={
            "apps": [
                {
                    "id": "app-1",
                    "name": "Shop",
                    "engine": "sandbox",
                    "webhook_url": "https://hooks.example/wa",
                    "domain_url": "https://shop.example",
                    "webhook_secret_enc": "enc:secret",
                    "webhook_secret_prev_enc": "enc:previous",
                    "webhook_secret_prev_until": LATER,
                    "rotation_enabled": True,
                    "rotation_pin_hash": "$argon2id$pin",
                    "max_devices": 3,
                    "created_at": AT,
                    "updated_at": LATER,
                },
                {
                    "id": "app-2",
                    "name": "Clinic \u00e9",
                    "engine": "whatsmeow",
                    "webhook_url": "",
                    "domain_url": "",
                    "webhook_secret_enc": "enc:other",
                    "webhook_secret_prev_enc": None,
                    "webhook_secret_prev_until": None,
                    "rotation_enabled": False,
                    "rotation_pin_hash": None,
                    "max_devices": None,
                    "created_at": AT,
                    "updated_at": AT,
                },
            ],
            "app_tokens": [
                {
                    "id": "tok-1",
                    "app_id": "app-1",
                    "token_hash": "a" * 64,
                    "token_enc": "enc:token",
                    "created_at": AT,
                    "expires_at": LATER,
                }
            ],
            "devices": [
                {
                    "id": "dev-1",
                    "app_id": "app-1",
                    "name": "Front desk",
                    "engine": "sandbox",
                    "status": "connected",
                    "connection": "online",
                    "qr": None,
                    "qr_expires_at": None,
                    "pairing_code": None,
                    "pairing_phone": None,
                    "wa_number": "6281234567890",
                    "wa_device_jid": "6281234567890:7@s.whatsapp.net",
                    "linked_at": AT,
                    "last_error": None,
                    "session_epoch": 3,
                    "created_at": AT,
                    "updated_at": LATER,
                    "destroyed_at": None,
                },
                {
                    "id": "dev-2",
                    "app_id": "app-1",
                    "name": "Front desk",  # a destroyed device's name may be reused
                    "engine": "sandbox",
                    "status": "destroyed",
                    "connection": "offline",
                    "qr": "2@qr-payload",
                    "qr_expires_at": AT,
                    "pairing_code": "ABCD-EFGH",
                    "pairing_phone": "6289999999999",
                    "wa_number": None,
                    "wa_device_jid": None,
                    "linked_at": None,
                    "last_error": "logged out",
                    "session_epoch": 0,
                    "created_at": AT,
                    "updated_at": AT,
                    "destroyed_at": LATER,
                },
            ],
            "sandbox_sessions": [
                {
                    "device_id": "dev-1",
                    "phone": "6281234567890",
                    "device_jid": "6281234567890:7@s.whatsapp.net",
                    "linked_at": AT,
                }
            ],
            "events": [
                {
                    "seq": seq,
                    "id": f"evt-{seq}",
                    "app_id": "app-1",
                    "device_id": device_id,
                    "event": event,
                    "payload": payload,
                    "occurred_at": AT,
                    "state": state,
                    "attempt_count": attempts,
                    "next_attempt_at": LATER,
                    "claimed_by": None,
                    "claimed_until": None,
                    "last_status_code": status_code,
                    "last_error": None,
                    "delivered_at": delivered_at,
                    "archived": False,
                }
                for seq, device_id, event, payload, state, attempts, status_code, delivered_at in (
                    (1, "dev-1", "device.connected", {"n": 1}, "delivered", 1, 200, LATER),
                    (2, None, "app.updated", {"text": EMOJI_TEXT}, "pending", 0, None, None),
                )
            ],
            "webhook_attempts": [
                {
                    "id": 1,
                    "event_seq": 1,
                    "attempt": 1,
                    "url": "https://hooks.example/wa",
                    "started_at": AT,
                    "status_code": 200,
                    "latency_ms": 42,
                    "response_excerpt": "ok",
                    "error": None,
                    "succeeded": True,
                }
            ],
        }
    ),
    # Messages (an outbound one with media, an inbound one), idempotency keys, the sandbox's
    # record of what it received; pacing on apps and devices.
    "0002": Revision(
        adds={
            "apps": {"pacing": Added(carried=None, written={"rate_per_second": 1})},
            "devices": {"pacing": Added(carried=None, written={"daily_cap": 500})},
        },
        rows={
            "messages": [
                {
                    "seq": 1,
                    "id": "msg-1",
                    "app_id": "app-1",
                    "device_id": "dev-1",
                    "direction": "outbound",
                    "status": "read",
                    "type": "image",
                    "chat": "6281211112222@s.whatsapp.net",
                    "sender": None,
                    "sender_lid": None,
                    "content": {"url": "https://cdn.example/a.png", "caption": EMOJI_TEXT},
                    "media_key": "media/app-1/a.png",
                    "media_path": "/data/media/a.png",
                    "reply_to": "3EB0PREVIOUS",
                    "mentions": ["6281211112222@s.whatsapp.net"],
                    "forwarded": True,
                    "wa_message_id": "3EB00000000000000001",
                    "error_code": None,
                    "error_message": None,
                    "attempts": 1,
                    "next_attempt_at": AT,
                    "expires_at": LATER,
                    "claimed_by": None,
                    "claimed_until": None,
                    "created_at": AT,
                    "updated_at": LATER,
                    "sent_at": AT,
                    "delivered_at": AT,
                    "read_at": LATER,
                    "archived": False,
                },
                {
                    "seq": 2,
                    "id": "msg-2",
                    "app_id": "app-1",
                    "device_id": "dev-1",
                    "direction": "inbound",
                    "status": "received",
                    "type": "text",
                    "chat": "6281211112222@s.whatsapp.net",
                    "sender": "6281211112222@s.whatsapp.net",
                    "sender_lid": "123456789@lid",
                    "content": {"text": EMOJI_TEXT},
                    "media_key": None,
                    "media_path": None,
                    "reply_to": None,
                    "mentions": [],
                    "forwarded": False,
                    "wa_message_id": "3EB00000000000000002",
                    "error_code": "E_SOMETHING",
                    "error_message": "kept for the record",
                    "attempts": 0,
                    "next_attempt_at": AT,
                    "expires_at": None,
                    "claimed_by": "node-a",
                    "claimed_until": LATER,
                    "created_at": AT,
                    "updated_at": AT,
                    "sent_at": None,
                    "delivered_at": None,
                    "read_at": None,
                    "archived": True,
                },
            ],
            "idempotency_keys": [
                {
                    "app_id": "app-1",
                    "key": "order-17",
                    "request_hash": "b" * 64,
                    "message_id": "msg-1",
                    "response": {"id": "msg-1", "status": "queued"},
                    "created_at": AT,
                }
            ],
            "sandbox_received": [
                {
                    "wa_message_id": "3EB00000000000000001",
                    "device_id": "dev-1",
                    "to_jid": "6281211112222@s.whatsapp.net",
                    "type": "image",
                    "first_received_at": AT,
                    "times_received": 2,
                }
            ],
        },
    ),
    # Operators (an admin and a member of app-1), a dashboard session, audit entries and
    # refused logins.
    "0003": Revision(
        rows={
            "operators": [
                {
                    "id": "op-1",
                    "email": "admin@example.com",
                    "password_hash": "$argon2id$admin",
                    "is_admin": True,
                    "created_at": AT,
                    "last_login_at": LATER,
                },
                {
                    "id": "op-2",
                    "email": "member@example.com",
                    "password_hash": "$argon2id$member",
                    "is_admin": False,
                    "created_at": AT,
                    "last_login_at": None,
                },
            ],
            "operator_sessions": [
                {
                    "token_hash": "c" * 64,
                    "operator_id": "op-2",
                    "csrf_token": "d" * 64,
                    "created_at": AT,
                    "expires_at": LATER,
                    "flash": "Saved \u2713",
                    "flash_kind": "ok",
                }
            ],
            "project_members": [{"app_id": "app-1", "operator_id": "op-2", "created_at": AT}],
            "audit_log": [
                {
                    "seq": 1,
                    "at": AT,
                    "actor_kind": "operator",
                    "actor": "admin@example.com",
                    "operator_id": "op-1",
                    "action": "app.create",
                    "app_id": "app-1",
                    "device_id": None,
                    "ip": "10.0.0.1",
                    "detail": {"name": "Shop"},
                },
                {
                    "seq": 2,
                    "at": LATER,
                    "actor_kind": "cli",
                    "actor": "cli",
                    "operator_id": None,
                    "action": "operator.create",
                    "app_id": None,
                    "device_id": None,
                    "ip": None,
                    "detail": None,
                },
            ],
            "login_failures": [
                {"id": 1, "email": "a@example.com", "ip": "10.0.0.1", "at": AT},
                {"id": 2, "email": "a@example.com", "ip": "10.0.0.1", "at": LATER},
                {"id": 3, "email": "b@x.org", "ip": "::1", "at": AT},
            ],
        }
    ),
    "0004": Revision(
        adds={"apps": {"limits": Added(carried=None, written={"requests_per_minute": 600})}}
    ),
    # The sandbox's network log starts empty at 0005; a gateway at 0005 writes entries.
    "0005": Revision(
        rows={
            "sandbox_network": [
                {
                    "seq": 1,
                    "device_id": "dev-1",
                    "kind": "message",
                    "at": AT,
                    "detail": {"wa_message_id": "3EB00000000000000001", "to": "6281211112222"},
                },
                {"seq": 2, "device_id": "dev-1", "kind": "disconnect", "at": LATER, "detail": {}},
            ]
        }
    ),
    # Failures recorded before 0006 were all passwords: they become "password" failures
    # for the same e-mail, now called the subject; from 0006 a wrong rotation PIN counts too.
    "0006": Revision(
        renames={"login_failures": {"email": "subject"}},
        adds={"login_failures": {"kind": Added(carried="password", written="password")}},
        rows={
            "login_failures": [
                {"id": 4, "kind": "pin", "subject": "app-1", "ip": "10.0.0.2", "at": LATER}
            ]
        },
    ),
    # Outbound messages before 0007 all came through the API, inbound ones from contacts;
    # from 0007 the account's own messages from its phone are stored too, and apps and
    # devices carry call and presence policies.
    "0007": Revision(
        adds={
            "messages": {
                "source": Added(
                    carried=lambda row: "api" if row["direction"] == "outbound" else "contact",
                    written="api",
                )
            },
            "apps": {
                "call_policy": Added(carried=None, written={"reject": True, "reply_text": None}),
                "presence_mode": Added(carried=None, written="always_online"),
            },
            "devices": {
                "call_policy": Added(carried=None, written=None),
                "presence_mode": Added(carried=None, written="on_demand"),
            },
        },
        rows={
            "messages": [
                {
                    "seq": 3,
                    "id": "msg-3",
                    "app_id": "app-1",
                    "device_id": "dev-1",
                    "direction": "outbound",
                    "source": "phone",
                    "status": "sent",
                    "type": "text",
                    "chat": "6281211112222@s.whatsapp.net",
                    "sender": None,
                    "sender_lid": None,
                    "content": {"text": EMOJI_TEXT},
                    "media_key": None,
                    "media_path": None,
                    "reply_to": None,
                    "mentions": [],
                    "forwarded": False,
                    "wa_message_id": "3EB0FROMTHEPHONE",
                    "error_code": None,
                    "error_message": None,
                    "attempts": 0,
                    "next_attempt_at": AT,
                    "expires_at": None,
                    "claimed_by": None,
                    "claimed_until": None,
                    "created_at": LATER,
                    "updated_at": LATER,
                    "sent_at": LATER,
                    "delivered_at": None,
                    "read_at": None,
                    "archived": False,
                }
            ]
        },
    ),
    # The sandbox's group world is in the database from 0008: a device linked before it is
    # seeded with the sandbox group at its next group call (`groups_seeded` false).
    "0008": Revision(
        adds={"sandbox_sessions": {"groups_seeded": Added(carried=False, written=True)}},
        rows={
            "sandbox_groups": [
                {
                    "device_id": "dev-1",
                    "jid": "120363012345678901@g.us",
                    "subject": EMOJI_TEXT,
                    "description": None,
                    "owner": "6281234567890@s.whatsapp.net",
                    "announce": False,
                    "locked": True,
                    "created_at": AT,
                    "invite_code": "AbCdEfGhIjKlMnOpQrStUv",
                }
            ],
            "sandbox_group_members": [
                {
                    "device_id": "dev-1",
                    "group_jid": "120363012345678901@g.us",
                    "jid": "6281100000001@s.whatsapp.net",
                    "admin": False,
                },
                {
                    "device_id": "dev-1",
                    "group_jid": "120363012345678901@g.us",
                    "jid": "6281234567890@s.whatsapp.net",
                    "admin": True,
                },
            ],
        },
    ),
    # A device chooses history import from 0009; devices linked before it imported none.
    "0009": Revision(
        adds={
            "devices": {
                "history_sync": Added(carried=False, written=True),
                "history_imported": Added(carried=0, written=1200),
            }
        }
    ),
    # Apps can be archived from 0010 (the admin API's DELETE): none was before.
    # A failed event, and a pending one behind it being retried.
    "0010": Revision(
        adds={"apps": {"archived_at": Added(carried=None, written=AT)}},
        rows={
            "events": [
                {
                    "seq": seq,
                    "id": f"evt-{seq}",
                    "app_id": "app-1",
                    "device_id": "dev-1",
                    "event": "message",
                    "payload": {"text": EMOJI_TEXT},
                    "occurred_at": AT,
                    "state": state,
                    "attempt_count": attempts,
                    "next_attempt_at": LATER,
                    "claimed_by": None,
                    "claimed_until": None,
                    "last_status_code": 503,
                    "last_error": "HTTP 503",
                    "delivered_at": None,
                    "archived": False,
                }
                for seq, state, attempts in ((3, "failed", 9), (4, "pending", 2))
            ]
        },
    ),
    # Several webhook endpoints from 0011: the app's webhook_url is the endpoint "default",
    # its delivery state per device in webhook_streams; the events' own columns stay as
    # they were. A gateway at 0011 writes events without them.
    "0011": Revision(
        adds={"webhook_attempts": {"endpoint_id": Added(carried="default", written="default")}},
        derives=lambda before: _endpoints_from(before),
        rows={
            "events": [
                {
                    "seq": 5,
                    "id": "evt-5",
                    "app_id": "app-1",
                    "device_id": "dev-1",
                    "event": "receipt",
                    "payload": {"status": "read"},
                    "occurred_at": LATER,
                    "state": None,
                    "attempt_count": None,
                    "next_attempt_at": None,
                    "claimed_by": None,
                    "claimed_until": None,
                    "last_status_code": None,
                    "last_error": None,
                    "delivered_at": None,
                    "archived": False,
                }
            ],
            "webhook_endpoints": [
                {
                    "app_id": "app-1",
                    "endpoint_id": "default",
                    "url": None,
                    "description": "",
                    "events": [],
                    "device_ids": [],
                    "enabled": True,
                    "secret_enc": None,
                    "secret_prev_enc": None,
                    "secret_prev_until": None,
                    "announced_seq": 5,
                    "created_at": AT,
                    "updated_at": AT,
                },
                {
                    "app_id": "app-1",
                    "endpoint_id": "e-crm",
                    "url": "https://crm.example/wa \u00e9",
                    "description": EMOJI_TEXT,
                    "events": ["message", "receipt"],
                    "device_ids": ["dev-1"],
                    "enabled": False,
                    "secret_enc": "enc:endpoint",
                    "secret_prev_enc": "enc:endpoint-old",
                    "secret_prev_until": LATER,
                    "announced_seq": 2,
                    "created_at": AT,
                    "updated_at": LATER,
                },
            ],
            "webhook_streams": [
                {
                    "app_id": "app-1",
                    "endpoint_id": "e-crm",
                    "device_key": "dev-1",
                    "position": 1,
                    "attempt_count": 2,
                    "next_attempt_at": LATER,
                    "active": True,
                    "claimed_by": "node-1",
                    "claimed_until": LATER,
                }
            ],
            "webhook_redeliveries": [
                {
                    "app_id": "app-1",
                    "endpoint_id": "default",
                    "event_seq": 1,
                    "attempt_count": 0,
                    "next_attempt_at": AT,
                    "claimed_by": None,
                    "claimed_until": None,
                    "requested_at": AT,
                }
            ],
            "webhook_failures": [
                {
                    "app_id": "app-1",
                    "endpoint_id": "e-crm",
                    "event_seq": 5,
                    "device_id": "dev-1",
                    "failed_at": LATER,
                }
            ],
        },
    ),
    # The nodes on a database and the master key's check from 0012: none before.
    "0012": Revision(
        rows={
            "cluster_nodes": [
                {
                    "node_id": "a" * 32,
                    "instance": "00000000-0000-0000-0000-000000000001",
                    "host": "node-1.example",
                    "data_dir": "/var/lib/wagateway \u00e9",
                    "started_at": AT,
                    "last_seen": LATER,
                    "devices_owned": 3,
                }
            ],
            "cluster_settings": [{"name": "key_check", "value": "c2lnbmVkIGtleSBjaGVjaw=="}],
        }
    ),
    # Which node holds each device's session, from 0013: none before (a node's first
    # placement pass takes the devices with a session).
    "0013": Revision(
        rows={
            "device_owners": [
                {
                    "device_id": "dev-1",
                    "node_id": "a" * 32,
                    "instance": "00000000-0000-0000-0000-000000000001",
                    "token": 2**40,
                    "since": LATER,
                }
            ],
        }
    ),
    # Calls for a device carried to the node that holds it, from 0014: none before.
    "0014": Revision(
        rows={
            "node_calls": [
                {
                    "id": 1,
                    "device_id": "dev-1",
                    "target": "00000000-0000-0000-0000-000000000001",
                    "state": "done",
                    "request": '{"target":"sandbox","op":"groups","args":{}}',
                    "response": '{"ok":true,"result":["caf\u00e9"]}',
                    "created_at": AT,
                    "expires_at": LATER,
                }
            ],
        }
    ),
    # The sandbox's record of each device's live sessions, from 0015: none before.
    "0015": Revision(
        rows={
            "sandbox_session_records": [
                {
                    "id": 1,
                    "device_id": "dev-1",
                    "node_id": "a" * 32,
                    "instance": "00000000-0000-0000-0000-000000000001",
                    "opened_at": AT,
                    "closed_at": LATER,
                    "close_reason": "replaced",
                },
                {
                    "id": 2,
                    "device_id": "dev-1",
                    "node_id": "b" * 32,
                    "instance": "00000000-0000-0000-0000-000000000002",
                    "opened_at": LATER,
                    "closed_at": None,
                    "close_reason": None,
                },
            ],
        }
    ),
}


def _endpoints_from(before: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """What 0011 makes of a database before it: the endpoint "default" of each app with a
    webhook_url, having seen every event; a stream from each device's oldest pending event,
    with its retry schedule; failed events failed on it."""
    events = before.get("events", [])
    newest = max((e["seq"] for e in events), default=0)
    hooked = {a["id"]: a for a in before.get("apps", []) if a["webhook_url"]}
    endpoints = [
        {
            "app_id": app_id,
            "endpoint_id": "default",
            "url": None,
            "description": "",
            "events": [],
            "device_ids": [],
            "enabled": True,
            "secret_enc": None,
            "secret_prev_enc": None,
            "secret_prev_until": None,
            "announced_seq": newest,
            "created_at": app["created_at"],
            "updated_at": app["created_at"],
        }
        for app_id, app in hooked.items()
    ]
    heads: dict[tuple[str, str | None], dict[str, Any]] = {}
    for event in sorted(events, key=lambda e: e["seq"]):
        if event["app_id"] in hooked and event["state"] == "pending":
            heads.setdefault((event["app_id"], event["device_id"]), event)
    streams = [
        {
            "app_id": head["app_id"],
            "endpoint_id": "default",
            "device_key": head["device_id"] or "",
            "position": head["seq"] - 1,
            "attempt_count": head["attempt_count"],
            "next_attempt_at": head["next_attempt_at"],
            "active": True,
            "claimed_by": None,
            "claimed_until": None,
        }
        for head in heads.values()
    ]
    failures = [
        {
            "app_id": e["app_id"],
            "endpoint_id": "default",
            "event_seq": e["seq"],
            "device_id": e["device_id"],
            "failed_at": e["next_attempt_at"],
        }
        for e in events
        if e["app_id"] in hooked and e["state"] == "failed"
    ]
    return {
        "webhook_endpoints": endpoints,
        "webhook_streams": streams,
        "webhook_failures": failures,
    }


REVISION_IDS = revision_ids()
HEAD = REVISION_IDS[-1]


def _database_url(backend: DatabaseProvider, tmp_path: Path) -> str:
    settings = Settings(data_dir=tmp_path, database_url=backend.new_url(tmp_path))  # type: ignore[call-arg]
    return settings.resolved_database_url


def test_every_revision_has_an_entry_in_order() -> None:
    assert list(REVISIONS) == REVISION_IDS


@pytest.mark.parametrize("revision", REVISION_IDS)
def test_a_database_filled_at_a_revision_upgrades_to_head_with_every_row(
    backend: DatabaseProvider, tmp_path: Path, revision: str
) -> None:
    url = _database_url(backend, tmp_path)
    command.upgrade(alembic_config(url), revision)
    written = rows_written_at(REVISIONS, revision)
    # Every table that exists at this revision holds rows, so every one is carried.
    assert set(written) == table_names(url)
    fill(url, written)
    before = raw_rows(url)
    assert {t: len(rows) for t, rows in before.items()} == {
        t: len(rows) for t, rows in written.items()
    }

    upgrade_to_head(url)

    # Read through today's models: every row, its values carried, new columns at their
    # defaults, tables created since then empty.
    expected = {table: [] for table in Base.metadata.tables} | rows_after_upgrade(
        REVISIONS, revision
    )
    renamed = renamed_after(REVISIONS, revision)
    assert typed_rows(url, Base.metadata) == expected
    # Columns the upgrade carries unchanged are the same bytes as before.
    after = raw_rows(url)
    for table, rows in before.items():
        carried = unchanged_columns(written[table], expected[table], renamed.get(table, {}))
        assert [{new: row[new] for _, new in carried} for row in after[table]] == [
            {new: row[old] for old, new in carried} for row in rows
        ], table

    # Generated keys go on from where they were.
    assert all(new > largest for largest, new in next_keys(url, Base.metadata, expected).values())

    # Back down: the rows are as they were written; and up again, as they were at head.
    if revision != HEAD:
        command.downgrade(alembic_config(url), revision)
        assert raw_rows(url) == before
        assert dangling_references(url) == []
        upgrade_to_head(url)
        assert typed_rows(url, Base.metadata) == expected


def test_models_and_migrations_agree_also_after_a_walk_down_and_up(
    backend: DatabaseProvider, tmp_path: Path
) -> None:
    url = _database_url(backend, tmp_path)
    upgrade_to_head(url)
    assert schema_differences(url, Base.metadata) == []
    command.check(alembic_config(url))  # the same comparison, as `alembic check` runs it

    command.downgrade(alembic_config(url), "base")
    assert table_names(url) == set()
    upgrade_to_head(url)
    assert schema_differences(url, Base.metadata) == []


def test_the_schema_check_reports_a_model_the_migrations_lack(
    backend: DatabaseProvider, tmp_path: Path
) -> None:
    url = _database_url(backend, tmp_path)
    upgrade_to_head(url)
    drifted = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["apps"].append_column(Column("not_migrated", Integer, nullable=True))

    differences = schema_differences(url, drifted)

    assert [(d[0], d[2], d[3].name) for d in differences] == [
        ("add_column", "apps", "not_migrated")
    ]


def test_login_failures_recorded_before_0006_still_throttle(
    backend: DatabaseProvider, tmp_path: Path
) -> None:
    """Failures carried through 0006 are password failures for the same e-mail and count."""
    url = _database_url(backend, tmp_path)
    command.upgrade(alembic_config(url), "0005")
    recent = utcnow() - timedelta(seconds=5)
    fill(
        url,
        {
            "login_failures": [
                {"email": "a@example.com", "ip": "10.0.0.1", "at": recent},
                {"email": "a@example.com", "ip": "10.0.0.1", "at": recent},
            ]
        },
    )
    upgrade_to_head(url)

    async def third_failure_throttles() -> None:
        db = Database(url)
        try:
            settings = Settings(login_max_failures=3)  # type: ignore[call-arg]
            async with db.transaction() as session:
                await operators.authenticate(session, settings, "a@example.com", "x", "10.0.0.1")
            with pytest.raises(ApiError) as throttled:
                async with db.transaction() as session:
                    await operators.authenticate(
                        session, settings, "a@example.com", "x", "10.0.0.1"
                    )
            assert throttled.value.status == 429
        finally:
            await db.dispose()

    asyncio.run(third_failure_throttles())
