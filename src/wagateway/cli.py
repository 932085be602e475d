"""The `wagateway` command: run the server, manage apps from the host."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError

from wagateway.apps import service as apps_service
from wagateway.core.errors import ApiError
from wagateway.core.logging import configure_logging
from wagateway.core.migrate import upgrade_to_head
from wagateway.core.settings import Settings, get_settings, settings_problems
from wagateway.gateway import Gateway

cli = typer.Typer(
    help="WA Gateway: a self-hosted, multi-tenant WhatsApp gateway.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
apps_cli = typer.Typer(help="Manage apps (tenants) and their credentials.", no_args_is_help=True)
cli.add_typer(apps_cli, name="apps")
devices_cli = typer.Typer(help="Devices, by device id alone (for the host).", no_args_is_help=True)
cli.add_typer(devices_cli, name="devices")
users_cli = typer.Typer(help="Dashboard operators.", no_args_is_help=True)
cli.add_typer(users_cli, name="users")

T = TypeVar("T")


def _prepare() -> Settings:
    try:
        settings = get_settings()
    except ValidationError as exc:
        for line in settings_problems(exc):
            typer.echo(f"error: invalid setting {line}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_format)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_to_head(settings.resolved_database_url)
    return settings


def _run(work: Callable[[Gateway], Awaitable[T]]) -> T:
    """Run one async operation against the database, with CLI-friendly errors."""
    settings = _prepare()

    async def main() -> T:
        gateway = Gateway(settings)
        try:
            return await work(gateway)
        finally:
            await gateway.db.dispose()

    try:
        return asyncio.run(main())
    except ApiError as exc:
        typer.echo(f"error: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(2) from exc


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
) -> None:
    """Run the gateway: API, dashboard and engines; webhooks from a supervised worker process."""
    import uvicorn

    from wagateway.main import create_app

    settings = _prepare()
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        # uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 and rewrite the
        # client address before the gateway sees it: a local caller could claim to be any
        # allowlisted address. Proxies are the gateway's call (WAGW_TRUSTED_PROXIES,
        # core/client_address.py), which reads the headers itself.
        proxy_headers=False,
        server_header=False,  # no "server: uvicorn" banner to fingerprint the gateway by
    )


@cli.command()
def migrate() -> None:
    """Apply database migrations (serve does this by itself at start)."""
    _prepare()
    typer.echo("database is at the latest schema")


@apps_cli.command("create")
def apps_create(
    name: str,
    engine: Annotated[str, typer.Option(help="sandbox or whatsmeow")] = "sandbox",
    webhook_url: Annotated[str, typer.Option(help="URL or /path for webhooks")] = "",
    domain_url: Annotated[str, typer.Option(help="base URL for a relative webhook path")] = "",
    rotation_pin: Annotated[
        str | None, typer.Option(help="PIN required to rotate the token")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Create an app; prints its id, app token and webhook secret (shown once)."""

    async def work(gw: Gateway) -> apps_service.CreatedApp:
        async with gw.db.transaction() as session:
            return await apps_service.create_app(
                session, gw.box, name, engine, webhook_url, domain_url, rotation_pin
            )

    created = _run(work)
    result = {
        "app_id": created.app.id,
        "app_token": created.app_token,
        "webhook_secret": created.webhook_secret,
    }
    if as_json:
        typer.echo(json.dumps(result))
    else:
        for key, value in result.items():
            typer.echo(f"{key}: {value}")


@apps_cli.command("list")
def apps_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List apps (ids, names, engines; never secrets)."""

    async def work(gw: Gateway) -> list[dict[str, str]]:
        async with gw.db.transaction() as session:
            apps = await apps_service.list_apps(session)
        return [
            {"app_id": a.id, "name": a.name, "engine": a.engine, "webhook_url": a.webhook_url}
            for a in apps
        ]

    rows = _run(work)
    if as_json:
        typer.echo(json.dumps(rows))
    else:
        for row in rows:
            typer.echo(f"{row['app_id']}  {row['engine']:<9}  {row['name']}")


@apps_cli.command("rotate-token")
def apps_rotate_token(
    app_id: str,
    pin: Annotated[str | None, typer.Option(help="the app's rotation PIN, when it has one")] = None,
    grace_seconds: Annotated[
        int | None, typer.Option(help="keep the old token valid this long")
    ] = None,
) -> None:
    """Issue a new app token; the old one stops working (after the grace period)."""

    async def work(gw: Gateway) -> str:
        grace = gw.settings.token_rotation_grace_seconds if grace_seconds is None else grace_seconds
        async with gw.db.transaction() as session:
            return await apps_service.rotate_token(session, gw.box, app_id, pin, grace)

    typer.echo(_run(work))


@apps_cli.command("reveal-token")
def apps_reveal_token(app_id: str) -> None:
    """Print the app's current token."""

    async def work(gw: Gateway) -> str:
        async with gw.db.transaction() as session:
            return await apps_service.reveal_token(session, gw.box, app_id)

    typer.echo(_run(work))


@apps_cli.command("reveal-webhook-secret")
def apps_reveal_webhook_secret(app_id: str) -> None:
    """Print the app's webhook signing secret."""

    async def work(gw: Gateway) -> str:
        async with gw.db.transaction() as session:
            return apps_service.reveal_webhook_secret(
                gw.box, await apps_service.get_app(session, app_id)
            )

    typer.echo(_run(work))


@apps_cli.command("set-webhook")
def apps_set_webhook(
    app_id: str,
    webhook_url: str,
    domain_url: Annotated[str | None, typer.Option(help="base URL for a relative path")] = None,
) -> None:
    """Set the webhook target: '' (none), an http(s) URL, or a /path."""

    async def work(gw: Gateway) -> None:
        async with gw.db.transaction() as session:
            app = await apps_service.get_app(session, app_id)
            await apps_service.update_app(
                session, app, webhook_url=webhook_url, domain_url=domain_url
            )

    _run(work)
    typer.echo("ok")


@users_cli.command("create")
def users_create(
    email: str,
    admin: Annotated[bool, typer.Option("--admin", help="sees and manages every project")] = False,
) -> None:
    """Create a dashboard operator. The password is asked for twice on a terminal, or read
    from the first line of stdin (`echo "$PASSWORD" | wagateway users create …`)."""
    from wagateway.audit.service import Actor, record
    from wagateway.operators.service import create_operator

    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")

    async def work(gw: Gateway) -> str:
        async with gw.db.transaction() as session:
            operator = await create_operator(session, gw.settings, email, password, is_admin=admin)
            record(
                session,
                Actor("cli", "cli"),
                "operator.create",
                detail={"email": operator.email, "admin": admin},
            )
            return operator.email

    created = _run(work)
    typer.echo(f"operator {created} created" + (" (admin)" if admin else ""))


@devices_cli.command("qr")
def devices_qr(
    device_id: str,
    follow: Annotated[
        bool, typer.Option("--follow", help="show each new code until linked or expired")
    ] = False,
) -> None:
    """Show a device's pairing QR in the terminal: WhatsApp > Linked devices > Link a device."""
    import segno

    from wagateway.core.errors import not_found
    from wagateway.core.timefmt import rfc3339
    from wagateway.devices.models import Device
    from wagateway.devices.state import Status

    async def work(gw: Gateway) -> None:
        shown: str | None = None
        while True:
            async with gw.db.read() as session:
                device = await session.get(Device, device_id)
            if device is None:
                raise not_found("device")
            if device.status != Status.QR_GENERATED or not device.qr:
                linked = f" as {device.wa_number}" if device.status == Status.CONNECTED else ""
                hint = "" if linked else f"; POST /devices/{device_id}/qr opens a new window"
                typer.echo(f"device {device_id} is {device.status}{linked}: no QR to show{hint}")
                return
            if device.qr != shown:
                segno.make(device.qr, error="l").terminal(compact=True)
                typer.echo(f"expires at {rfc3339(device.qr_expires_at)}; scan it with WhatsApp >")
                typer.echo(
                    "Linked devices > Link a device" + (" (new codes follow)" if follow else "")
                )
                shown = device.qr
            if not follow:
                return
            await asyncio.sleep(1.0)

    _run(work)


def main() -> None:
    cli(prog_name="wagateway")


if __name__ == "__main__":
    main()
