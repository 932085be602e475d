"""whatsmeow's sessions in the PostgreSQL store every node reaches (several nodes, CONTRACT
§9), at the neonize boundary: a device linked on one node is resumed on another by its JID
without a scan, what the dead node had not acknowledged comes again, and a session erased on
one node is gone for all. The fake models no Signal state; what only WhatsApp can show is in
docs/deployment.md's real-phone check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest

from tests.engines.conformance import wait_for
from tests.support.databases import DatabaseProvider
from wagateway.engines.base import (
    QR_CODE_LIFETIMES,
    Connected,
    EngineEvent,
    OutboundMessage,
    QrCode,
    Receipt,
    SessionEnded,
)
from wagateway.engines.whatsmeow.stores import LINKS_TABLE, PostgresStores, store_url_for

fake_neonize = pytest.importorskip("tests.support.fake_neonize", reason="neonize is not installed")

from wagateway.engines.whatsmeow.backend import WhatsmeowBackend  # noqa: E402

SCALE = 0.02
PHONE = "6281234567890"


async def until(events: list[EngineEvent], predicate: Callable[[EngineEvent], bool]) -> Any:
    return await wait_for(SimpleNamespace(events=events), predicate)  # type: ignore[arg-type]


@pytest.fixture
def store_url(postgresql: DatabaseProvider, tmp_path: Path) -> str:
    url = store_url_for(postgresql.new_url(tmp_path))
    assert url is not None and url.startswith("postgres://") and "sslmode=disable" in url
    return url


@asynccontextmanager
async def node(
    network: Any, store_url: str, data_dir: Path, sink: Callable[[EngineEvent], Any] | None = None
) -> AsyncIterator[tuple[WhatsmeowBackend, list[EngineEvent]]]:
    """One node's whatsmeow engine on the shared store (its own data dir), and its events."""
    backend = WhatsmeowBackend(
        {"store_dir": str(data_dir), "store_url": store_url, "time_scale": SCALE},
        client_factory=network.factory,
    )
    events: list[EngineEvent] = []

    async def collect(event: EngineEvent) -> None:
        events.append(event)
        if sink is not None:
            await sink(event)

    await backend.start(collect)
    try:
        yield backend, events
    finally:
        await backend.shutdown()


async def link(backend: WhatsmeowBackend, events: list[EngineEvent], network: Any) -> Connected:
    await backend.begin_pairing("d1", 1)
    qr = await until(events, lambda e: isinstance(e, QrCode))
    await network.scan(qr.code, PHONE)
    connected: Connected = await until(events, lambda e: isinstance(e, Connected))
    return connected


async def rows(store_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(store_url)
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


def test_another_node_resumes_the_session_by_its_jid_without_a_scan(
    tmp_path: Path, store_url: str
) -> None:
    async def main() -> None:
        network = fake_neonize.FakeWhatsApp([t * SCALE for t in QR_CODE_LIFETIMES])
        async with node(network, store_url, tmp_path / "a") as (a, a_events):
            linked = await link(a, a_events, network)
        # Node A is gone (its client stopped, nothing unlinked); node B restores the device.
        async with node(network, store_url, tmp_path / "b") as (b, b_events):
            await b.restore("d1", 2)
            resumed: Connected = await until(b_events, lambda e: isinstance(e, Connected))
            client = network.clients["d1"]
            assert client.jid == linked.wa_device_jid and not client.new_device
            assert not client.shown_qrs, "a resumed session shows no QR"
            assert resumed.wa_device_jid == linked.wa_device_jid
            assert resumed.wa_number == PHONE and resumed.reconnected
            assert not any(isinstance(e, QrCode) for e in b_events)
        # Neither node's data dir holds a session: it is in the store only.
        assert not list((tmp_path / "a").glob("d1*")) and not list((tmp_path / "b").glob("d1*"))
        [link_row] = await rows(store_url, f"SELECT * FROM {LINKS_TABLE}")
        assert (link_row["device_id"], link_row["wa_device_jid"]) == ("d1", linked.wa_device_jid)

    asyncio.run(main())


def test_receipts_the_dead_node_had_not_acknowledged_come_again_on_the_new_owner(
    tmp_path: Path, store_url: str
) -> None:
    """WhatsApp offers a receipt again until a client acknowledged it (whatsmeow does once
    its handler returned): node A dies while handling them, node B gets them at its
    connect. (The fake's server keeps its record in record_dir, as WhatsApp's would.)"""
    stuck = asyncio.Event()

    async def dies_while_handling_receipts(event: EngineEvent) -> None:
        if isinstance(event, Receipt):
            stuck.set()
            await asyncio.Event().wait()  # never returns: the node is dying

    async def main() -> None:
        network = fake_neonize.FakeWhatsApp(
            [t * SCALE for t in QR_CODE_LIFETIMES], record_dir=tmp_path / "whatsapp"
        )
        (tmp_path / "whatsapp").mkdir()
        async with node(network, store_url, tmp_path / "a", dies_while_handling_receipts) as (
            a,
            a_events,
        ):
            await link(a, a_events, network)
            sent = await a.send(
                "d1",
                OutboundMessage("3EB0OURS", "6285550001111@s.whatsapp.net", "text", {"text": "hi"}),
            )
            await asyncio.wait_for(stuck.wait(), 10)
        async with node(network, store_url, tmp_path / "b") as (b, b_events):
            await b.restore("d1", 2)
            again = await until(
                b_events,
                lambda e: isinstance(e, Receipt) and sent.wa_message_id in e.wa_message_ids,
            )
            assert again.device_id == "d1" and again.epoch == 2

    asyncio.run(main())


def test_a_logout_on_one_node_leaves_no_session_for_any(tmp_path: Path, store_url: str) -> None:
    async def main() -> None:
        network = fake_neonize.FakeWhatsApp([t * SCALE for t in QR_CODE_LIFETIMES])
        async with node(network, store_url, tmp_path / "a") as (a, a_events):
            linked = await link(a, a_events, network)
            assert await rows(
                store_url, "SELECT jid FROM whatsmeow_device WHERE jid = $1", linked.wa_device_jid
            )
            await a.logout("d1")
        assert not await rows(store_url, "SELECT jid FROM whatsmeow_device")
        assert not await rows(store_url, f"SELECT device_id FROM {LINKS_TABLE}")
        async with node(network, store_url, tmp_path / "b") as (b, b_events):
            await b.restore("d1", 2)
            ended: SessionEnded = await until(b_events, lambda e: isinstance(e, SessionEnded))
            assert ended.reason == "session_missing"

    asyncio.run(main())


def test_a_link_whose_session_rows_are_gone_is_a_missing_session_not_a_crash(
    tmp_path: Path, store_url: str
) -> None:
    """Our link row says d1, but whatsmeow's rows of it are gone (deleted by its cascade,
    or by hand). neonize given a JID its store lacks crashes the process (a nil device in
    Go); the fake asserts it is never given one. The device is `session_missing`."""

    async def main() -> None:
        network = fake_neonize.FakeWhatsApp([t * SCALE for t in QR_CODE_LIFETIMES])
        async with node(network, store_url, tmp_path / "a") as (a, a_events):
            linked = await link(a, a_events, network)
        await rows(store_url, "DELETE FROM whatsmeow_device WHERE jid = $1", linked.wa_device_jid)
        async with node(network, store_url, tmp_path / "b") as (b, b_events):
            await b.restore("d1", 2)
            ended: SessionEnded = await until(b_events, lambda e: isinstance(e, SessionEnded))
            assert ended.reason == "session_missing"
            # pairing again replaces the stale link
            linked_again = await link(b, b_events, network)
        [link_row] = await rows(store_url, f"SELECT wa_device_jid FROM {LINKS_TABLE}")
        assert link_row["wa_device_jid"] == linked_again.wa_device_jid != linked.wa_device_jid

    asyncio.run(main())


def test_only_a_processs_first_connect_waits_for_the_stores_schema_lock(
    tmp_path: Path, store_url: str
) -> None:
    """whatsmeow creates or upgrades its tables at a client's connect; two connects doing so
    at once fail. Each process's first connect holds the store's schema lock (until the
    client's first sign of life), so another process's first connect waits; later connects
    of a process that settled the schema take no lock."""

    async def main() -> None:
        first, second = PostgresStores(store_url, tmp_path), PostgresStores(store_url, tmp_path)
        await first.start()
        await second.start()
        try:
            order: list[str] = []
            held = asyncio.Event()

            async def first_connect() -> None:
                async with first.schema_hold():
                    held.set()
                    await asyncio.sleep(0.3)
                    order.append("first done")

            async def second_connect() -> None:
                await held.wait()
                async with second.schema_hold():
                    order.append("second in")

            await asyncio.gather(first_connect(), second_connect())
            assert order == ["first done", "second in"]

            # `first` has settled: its next connect does not wait for `second`'s hold.
            third = PostgresStores(store_url, tmp_path)
            await third.start()
            try:
                async with third.schema_hold():
                    async with asyncio.timeout(2):
                        async with first.schema_hold():
                            order.append("first again, unlocked")
            finally:
                await third.close()
            assert order[-1] == "first again, unlocked"
        finally:
            await first.close()
            await second.close()

    asyncio.run(main())
