from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.databases import BACKENDS, DatabaseProvider, provider_for
from tests.support.harness import (
    STARTED,
    GatewayServer,
    SharedServers,
    WebhookReceiver,
    free_port,
)
from tests.support.migrated import migrated_url


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[DatabaseProvider]:
    provider = provider_for(request.param)
    yield provider
    provider.cleanup()


@pytest.fixture
def postgresql() -> Iterator[DatabaseProvider]:
    """PostgreSQL alone, for tests of several nodes (they need a database every node reaches)."""
    provider = provider_for("postgresql")
    yield provider
    provider.cleanup()


@pytest.fixture
def migrated_db_url(backend: DatabaseProvider, tmp_path: Path) -> str:
    """A new database at the current schema, for the services run in process (make the
    `Database` inside the test's event loop)."""
    return migrated_url(backend, tmp_path)


@pytest.fixture(scope="session")
def shared_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedServers]:
    servers = SharedServers(tmp_path_factory)
    yield servers
    servers.stop()


@pytest.fixture(scope="module")
def server(backend: DatabaseProvider, shared_servers: SharedServers) -> GatewayServer:
    """One real `wagateway serve` per backend, shared by the modules a test process runs
    (started when the first needs it); tests isolate themselves by app. A test that needs a
    server of its own (other settings, a restart, a crash) uses `make_server`."""
    return shared_servers.get(backend.backend)


@pytest.fixture
def make_server(
    backend: DatabaseProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., GatewayServer]]:
    """Servers of a test's own, for restarts and crashes."""
    started: list[GatewayServer] = []

    def make(**extra_env: str) -> GatewayServer:
        data_dir = tmp_path_factory.mktemp(f"gw-own-{backend.backend}")
        gateway = GatewayServer(data_dir, backend.migrated_url(data_dir), extra_env=dict(extra_env))
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        gateway.stop()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API (moto's server) on a loopback port, with the bucket `wagw-media`."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    s3.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="wagw-media")
    yield endpoint
    s3.stop()


@pytest.fixture
def shared_media(s3_endpoint: str) -> dict[str, str]:
    """The settings of one media store for several nodes (CONTRACT §9): the S3 server's
    bucket, under a prefix of this test's own."""
    return {
        "WAGW_MEDIA_STORE": "s3",
        "WAGW_S3_BUCKET": "wagw-media",
        "WAGW_S3_PREFIX": f"t-{secrets.token_hex(6)}",
        "WAGW_S3_ENDPOINT_URL": s3_endpoint,
        "WAGW_S3_ACCESS_KEY_ID": "test",
        "WAGW_S3_SECRET_ACCESS_KEY": "test",
    }


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def app_creds(server: GatewayServer, receiver: WebhookReceiver) -> dict[str, str]:
    return server.create_app("e2e app", receiver.url)


@pytest.fixture
def api(server: GatewayServer, app_creds: dict[str, str]) -> Iterator[httpx.Client]:
    with server.client(app_creds["app_token"]) as client:
        yield client


# How many servers had started before a test's setup (`STARTED`).
_SERVERS_BEFORE = pytest.StashKey[int]()
# How much of each server's log a failed test's report shows.
LOG_LINES_IN_REPORT = 120


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_SERVERS_BEFORE] = len(STARTED)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed test's report ends with the logs of the servers it started: a node's side of
    a failure (a takeover that never came, a heartbeat that failed) is in its log alone, and
    its data dir is gone by the time anyone reads CI's output."""
    report = yield
    if report.failed and call.when in ("setup", "call"):
        for gateway in STARTED[item.stash.get(_SERVERS_BEFORE, len(STARTED)) :]:
            lines = gateway.logs().splitlines()[-LOG_LINES_IN_REPORT:]
            report.sections.append((f"server log (port {gateway.port})", "\n".join(lines)))
    return report


def error_code(response: httpx.Response) -> Any:
    return response.json()["error"]["code"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A module or test marked `storage_agnostic` (engine processes, proxies, outbound connections,
    headers: nothing its tests assert depends on the database) runs on SQLite only; everything
    that stores or reads what it asserts runs on both databases. Both variants of such a module
    cost a whole suite's minute for no finding the other would miss."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec is not None else None
        if item.get_closest_marker("storage_agnostic") and backend not in (None, "sqlite"):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    if hasattr(config, "workerinput"):  # an xdist worker: see tests/support/scheduling.py
        from tests.support.scheduling import longest_scopes_first

        longest_scopes_first(items)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from tests.support.scheduling import ModuleAndBackendScheduling

    return ModuleAndBackendScheduling(config, log)
