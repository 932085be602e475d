"""The gateway's parts wired together: one object per process, shared by API and CLI."""

from __future__ import annotations

import asyncio
import functools
from typing import Annotated, cast

import structlog
from fastapi import Depends, Request

from wagateway.apps.tokens import TokenClaims
from wagateway.cluster.calls import NodeCalls
from wagateway.cluster.keys import RefusedToJoin, check_master_key, check_media_store
from wagateway.cluster.membership import Membership
from wagateway.cluster.ownership import Ownership, connections_label
from wagateway.cluster.rate_limits import SharedRateLimiter
from wagateway.cluster.signals import Signals, listen_dsn
from wagateway.core import task_dump
from wagateway.core.db import Database
from wagateway.core.node import node_id
from wagateway.core.rate_limit import RateLimiter
from wagateway.core.secrets import SecretBox, create_private_dir, load_master_key
from wagateway.core.settings import Settings
from wagateway.delivery.dispatcher import Dispatcher
from wagateway.delivery.stream import EventStreams, StreamTickets
from wagateway.delivery.worker_process import WebhookProcess, runs_in_own_process
from wagateway.devices.account import AccountActions
from wagateway.devices.placement import Placement
from wagateway.devices.runtime import SessionRuntime
from wagateway.devices.service import DeviceService
from wagateway.engines.base import Engine
from wagateway.engines.fenced import FencedEngine
from wagateway.engines.routed import RemoteCalls
from wagateway.engines.whatsmeow import neonize_loader
from wagateway.engines.whatsmeow.stores import store_url_for
from wagateway.engines.workers.engine import WorkerEngine
from wagateway.engines.workers.supervisor import WorkerPool
from wagateway.media.links import MediaLinks
from wagateway.media.store import LocalMediaStore, MediaStore, S3MediaStore
from wagateway.messages.actions import ChatActions
from wagateway.messages.archive import retire_device_messages
from wagateway.messages.chats import unread_ids
from wagateway.messages.early_receipts import EarlyReceipts
from wagateway.messages.edits import MessageEdits
from wagateway.messages.polls import sent_poll
from wagateway.messages.queue import OutboundQueue
from wagateway.messages.service import MessageService
from wagateway.messages.sink import InboundMessages
from wagateway.sandbox.controls import DEVICE_CONTROLS, SandboxControls
from wagateway.sandbox.engine import SandboxEngine
from wagateway.sandbox.witness import SessionWitness

log = structlog.get_logger(__name__)


def media_store_for(settings: Settings) -> MediaStore:
    if settings.media_store == "s3":
        if not settings.s3_bucket:
            raise RuntimeError("WAGW_MEDIA_STORE=s3 needs WAGW_S3_BUCKET")
        return S3MediaStore(
            settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )
    return LocalMediaStore(settings.data_dir / "store")


def media_store_name(settings: Settings, node_id: str) -> str:
    """Which media store this node uses, as the nodes compare them (no credentials)."""
    if settings.media_store == "s3":
        endpoint = settings.s3_endpoint_url or f"aws:{settings.s3_region}"
        return f"s3 {endpoint} {settings.s3_bucket}/{settings.s3_prefix.strip('/')}"
    return f"local {node_id}"


def whatsmeow_engine(settings: Settings) -> WorkerEngine:
    """Real WhatsApp: neonize in supervised worker processes. Sessions live in whatsmeow's
    PostgreSQL store when the gateway runs on PostgreSQL (every node reaches them), else in
    a store per device under `<data dir>/whatsmeow/` (`engines/whatsmeow/stores.py`)."""
    pool = WorkerPool(
        "whatsmeow",
        "wagateway.engines.whatsmeow.backend:factory",
        {
            "store_dir": str(settings.data_dir / "whatsmeow"),
            "store_url": settings.whatsmeow_store_url
            or store_url_for(settings.resolved_database_url),
            "media_max_bytes": settings.media_max_bytes,
            "client_factory": settings.whatsmeow_client_factory,
            "executor_threads": settings.whatsmeow_devices_per_worker + 32,
        },
        devices_per_worker=settings.whatsmeow_devices_per_worker,
        max_worker_fds=settings.whatsmeow_max_worker_fds,
    )
    return WorkerEngine("whatsmeow", pool)


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        if not create_private_dir(settings.data_dir):
            log.warning("data_dir_open_to_other_users", data_dir=str(settings.data_dir))
        self.node_id = node_id(settings.data_dir)
        # Named after the node: a node that finds this one dead ends them (`expel_dead`).
        self.db = Database(
            settings.resolved_database_url,
            settings.database_read_pool_size,
            application_name=connections_label(self.node_id),
        )
        master_key = load_master_key(settings.secret_key, settings.data_dir)
        self.box = SecretBox(master_key)
        self.media_links = MediaLinks(
            master_key, settings.media_url_seconds, settings.public_base_url
        )
        self.token_claims = TokenClaims()
        # The rate limits' buckets: shared by the nodes in Redis, or this node's own.
        self.rate_limiter = (
            SharedRateLimiter(settings.redis_url, settings.redis_prefix)
            if settings.redis_url
            else RateLimiter()
        )
        self._master_key = master_key
        self.sandbox = SandboxEngine(settings, self.db)
        self.media = media_store_for(settings)
        engines: list[Engine] = [self.sandbox]
        if neonize_loader.available():
            engines.append(whatsmeow_engine(settings))
        early_receipts = EarlyReceipts()
        inbound = InboundMessages(
            self.media,
            settings.media_max_bytes,
            early_receipts,
            self.media_links,
            history_max_messages=settings.history_max_messages,
        )
        self.membership = Membership(
            self.db,
            self.node_id,
            settings.data_dir,
            settings.device_lease_seconds,
            devices_owned=lambda: len(self.ownership),
        )
        self.ownership = Ownership(self.membership)
        # Several nodes (PostgreSQL): wake-ups between them, and calls for a device carried
        # to the node that holds it. On SQLite there is one node, which holds every device.
        self.signals = Signals(listen_dsn(self.db.url), self.db.application_name)
        self.node_calls = NodeCalls(
            self.db, self.signals, self.ownership, timeout=settings.node_call_timeout
        )
        remote = RemoteCalls(self.node_calls) if self.node_calls.enabled else None
        self.runtime = SessionRuntime(
            self.db,
            engines,
            inbound,
            history_max_messages=settings.history_max_messages,
            ownership=self.ownership,
            route=remote.route if remote is not None else None,
        )
        sandbox_controls = FencedEngine(
            self.sandbox,
            self.runtime.holds,
            remote.route if remote is not None else None,
            target="sandbox-controls",
            ops=DEVICE_CONTROLS,
            letting_go=frozenset(),
        )
        # The simulated network's record of live sessions: this node's, by its connection.
        witness = SessionWitness(
            self.db,
            self.node_id,
            lambda: self.membership.instance,
            listen_dsn(self.db.url),
            idle_timeout=settings.device_lease_seconds / 3,
        )
        witness.may_reopen = self.runtime.holds
        self.sandbox.use_witness(witness)
        if remote is not None:
            for engine in [*self.runtime.engines.values(), sandbox_controls]:
                remote.add_target(cast(FencedEngine, engine))
        # Engine workers close their sessions by themselves when the node stops renewing
        # them (it froze, or lost its database): they run on while their node is stopped.
        pools = [engine.pool for engine in engines if isinstance(engine, WorkerEngine)]

        def renew_workers() -> None:
            for pool in pools:
                pool.hold_until(self.ownership.valid_until)

        self.membership.on_renewed.append(renew_workers)
        self.placement = Placement(self.db, self.runtime, self.ownership, self.membership)
        self.membership.after_beat = self.placement.place
        self.membership.on_expelled = self.placement.forget_all
        self.devices = DeviceService(
            self.db,
            self.runtime,
            settings.qr_wait_timeout,
            settings.device_name_max_length,
            self.media,
        )
        self.devices.add_deletion_hook(retire_device_messages)
        self.sandbox_controls = SandboxControls(
            cast(SandboxEngine, sandbox_controls),
            self.devices,
            functools.partial(sent_poll, self.db),
            unread=functools.partial(unread_ids, self.db),
        )
        self.dispatcher: Dispatcher | WebhookProcess = (
            WebhookProcess(settings)
            if runs_in_own_process(settings)
            else Dispatcher(settings, self.db, self.box, self.node_id, links=self.media_links)
        )
        self.queue = OutboundQueue(
            settings,
            self.db,
            self.runtime,
            self.media,
            self.node_id,
            early_receipts=early_receipts,
            signals=self.signals if self.signals.enabled else None,
        )
        self.messages = MessageService(settings, self.db, self.media, self.queue)
        self.runtime.call_reply = self.messages.auto_reply
        self.chat_actions = ChatActions(self.db, self.runtime)
        self.message_edits = MessageEdits(
            settings, self.db, self.runtime, announce=self.queue.announce
        )
        self.account = AccountActions(self.db, self.runtime)
        self.streams = EventStreams(settings, self.db, self.media_links)
        self.stream_tickets = StreamTickets(master_key)

    async def start(self) -> None:
        """Join the nodes on this database (refused with a reason when this node must not run
        against it), then start background work: engines, the sending queue, webhook
        delivery, and this node's share of the devices, restored from their stored sessions
        in the background (the API answers meanwhile; `/health` says `restoring`)."""
        try:
            await check_master_key(self.db, self._master_key)
            await check_media_store(
                self.db,
                media_store_name(self.settings, self.node_id),
                self.node_id,
                self.settings.device_lease_seconds,
            )
            await self.membership.join()
        except RefusedToJoin as exc:
            log.error("node_refused", reason=str(exc))
            raise
        # Beat from now on: this node's hold must not lapse however long the rest takes
        # (placement waits for `placement.start`).
        self.membership.start()
        await self.signals.start()
        await self.sandbox.witness.start()
        await self.dispatcher.start()
        await self.runtime.start()
        await self.node_calls.start()
        await self.queue.start()
        self.streams.start()
        await self._say_whom_limits_hold_for()
        task_dump.install(asyncio.get_running_loop())  # kill -USR1: what each task waits for
        # Last: its first pass (taking and restoring this node's share) goes on in the
        # background, and nothing of the start waits behind it for the loop or the database.
        self.placement.start()
        log.info("gateway_started", node_id=self.node_id, database=self.db.dialect)

    async def _say_whom_limits_hold_for(self) -> None:
        """Log a warning when the rate limits will not hold for the gateway as a whole: Redis
        set but not answering (each node decides alone until it does), or no Redis while
        other nodes share the database (each node then holds apps to their limits alone)."""
        limiter = self.rate_limiter
        if isinstance(limiter, SharedRateLimiter):
            try:
                await limiter.ping()
            except Exception as exc:  # any failure: the requests will find Redis away too
                log.warning(
                    "rate_limits_redis_unreachable",
                    reason=f"{type(exc).__name__}: {exc}",
                    detail="each node holds apps to their limits alone until Redis answers",
                )
            return
        others = [n for n in await self.membership.view() if n.node_id != self.node_id]
        if others:
            log.warning(
                "rate_limits_per_node",
                nodes=len(others) + 1,
                detail="WAGW_REDIS_URL is not set: each node holds apps to their rate limits "
                "alone, so an app may make up to that many times its limit; set it on every "
                "node for limits of the gateway as a whole",
            )

    async def stop(self) -> None:
        """Stop sending, hand this node's devices over (their sessions close here first),
        leave the nodes, then stop the rest."""
        task_dump.uninstall(asyncio.get_running_loop())
        await self.queue.stop()
        await self.membership.stop_beating()
        await self.placement.stop()
        await self.placement.drain()
        await self.membership.stop()
        await self.node_calls.stop()
        await self.streams.stop()
        await self.runtime.shutdown()
        await self.sandbox.witness.stop()
        await self.dispatcher.stop()
        await self.media.close()
        await self.signals.stop()
        await self.rate_limiter.close()
        await self.db.dispose()


async def get_gateway(request: Request) -> Gateway:
    # async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread
    # hop on every request (benchmarks/README.md, decisions log).
    return request.app.state.gateway  # type: ignore[no-any-return]


# The faces (api/, dashboard/) take the process's one Gateway as a dependency.
GatewayDep = Annotated[Gateway, Depends(get_gateway)]
