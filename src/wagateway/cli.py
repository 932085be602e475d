"""The `wagateway` command: run the server, manage apps from the host."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError

# Only what parsing a command line needs. The database, the services and the server are
# imported by the commands that use them: `serve` listens before it loads the gateway
# (core/starting_front.py), and its first moment should not wait for them.
from wagateway.apps import MAX_TOKEN_GRACE_SECONDS
from wagateway.core.errors import ApiError, validation_error
from wagateway.core.settings import Settings, get_settings, settings_problems
from wagateway.core.text import has_lone_surrogate, unstorable_field

if TYPE_CHECKING:
    from wagateway.apps import service as apps_service
    from wagateway.audit.service import Actor
    from wagateway.cli_context import CliContext
    from wagateway.cluster.keys import RefusedToJoin
    from wagateway.core.migrate import SchemaAhead

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
messages_cli = typer.Typer(
    help="Messages, through the running gateway's API (for the host).", no_args_is_help=True
)
cli.add_typer(messages_cli, name="messages")

T = TypeVar("T")


def _cli() -> Actor:
    """Who the audit log names for a command: the host's own tool."""
    from wagateway.audit.service import Actor

    return Actor("cli", "cli")


class _LoggingOnFirstRecord(logging.Handler):
    """The root handler of a database command until something is logged: then the
    gateway's logging (`configure_logging`) takes over and handles that record. Most
    commands log nothing, and structlog's import (rich, pygments) is a good part of a
    command's start."""

    def __init__(self, level: str, fmt: str) -> None:
        super().__init__()
        self._configure = (level, fmt)

    def emit(self, record: logging.LogRecord) -> None:
        from wagateway.core.logging import configure_logging

        configure_logging(*self._configure)
        for handler in logging.getLogger().handlers:
            if handler is not self:
                handler.handle(record)


def _prepare(*, log_from_the_start: bool = True) -> Settings:
    try:
        settings = get_settings()
    except ValidationError as exc:
        for line in settings_problems(exc):
            typer.echo(f"error: invalid setting {line}", err=True)
        raise typer.Exit(2) from None
    if log_from_the_start:
        from wagateway.core.logging import configure_logging

        configure_logging(settings.log_level, settings.log_format)
    else:
        root = logging.getLogger()
        root.handlers[:] = [_LoggingOnFirstRecord(settings.log_level, settings.log_format)]
        root.setLevel(settings.log_level.upper())
        logging.getLogger("aiosqlite").setLevel(logging.WARNING)  # as configure_logging
    return settings


def _run(work: Callable[[CliContext], Awaitable[T]]) -> T:
    """Run one async operation against the database, with CLI-friendly errors."""
    from wagateway.cli_context import cli_context
    from wagateway.cluster.keys import RefusedToJoin
    from wagateway.core.gc_tuning import settle_after_startup
    from wagateway.core.migrate import SchemaAhead

    settle_after_startup()  # the imports are done: the collector back on (main())
    settings = _prepare(log_from_the_start=False)

    async def main() -> T:
        async with cli_context(settings) as ctx:
            return await work(ctx)

    try:
        return asyncio.run(main())
    except ApiError as exc:
        _fail(exc)
    except (SchemaAhead, RefusedToJoin) as exc:
        _refuse(exc)


def _migrate_loudly(settings: Settings) -> None:
    """`migrate`: `_bring_schema_to_head`, with its refusals said as the CLI says them."""
    from wagateway.cluster.keys import RefusedToJoin
    from wagateway.core.migrate import SchemaAhead

    try:
        _bring_schema_to_head(settings)
    except (SchemaAhead, RefusedToJoin) as exc:
        _refuse(exc)


def _bring_schema_to_head(settings: Settings) -> None:
    """`serve` and `migrate`: the schema brought to head, each applied migration logged (an
    operator upgrading wants to see them); nothing is logged when there is nothing to do.
    Raises SchemaAhead, or RefusedToJoin when the database's key is not this node's."""
    from wagateway.cluster.keys import check_master_key
    from wagateway.core.db import Database
    from wagateway.core.migrate import bring_schema_to_head
    from wagateway.core.secrets import create_private_dir, load_master_key

    create_private_dir(settings.data_dir)

    async def main() -> None:
        db = Database(settings.resolved_database_url, settings.database_read_pool_size)
        try:
            await bring_schema_to_head(db, quiet=False)
            await check_master_key(db, load_master_key(settings.secret_key, settings.data_dir))
        finally:
            await db.dispose()

    asyncio.run(main())


def _refusal(exc: SchemaAhead | RefusedToJoin) -> str:
    """The line that says why the database is refused."""
    from wagateway.core.migrate import SchemaAhead

    return f"error: {'schema_ahead' if isinstance(exc, SchemaAhead) else 'refused'}: {exc}"


def _refuse(exc: SchemaAhead | RefusedToJoin) -> NoReturn:
    typer.echo(_refusal(exc), err=True)
    raise typer.Exit(2) from None


def _fail(exc: ApiError) -> NoReturn:
    details = ", ".join(f"{key}={value}" for key, value in exc.details.items())
    typer.echo(f"error: {exc.code}: {exc.message}" + (f" ({details})" if details else ""), err=True)
    raise typer.Exit(2) from exc


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
) -> None:
    """Run the gateway: API, dashboard and engines; webhooks from a supervised worker process."""
    import uvicorn

    from wagateway.core.http_protocol import HeadCappedHttpToolsProtocol
    from wagateway.core.starting_front import StartingFront

    settings = _prepare()

    def load_gateway() -> Any:
        # Still off from main(), or off here when called otherwise (tests): the collector is
        # switched back on once the gateway has started (core/gc_tuning.py).
        gc.disable()
        _bring_schema_to_head(settings)
        from wagateway.main import create_app

        app = create_app(settings)
        app.middleware_stack = app.build_middleware_stack()  # else built by the first call
        return app

    # Listening comes first, the gateway is loaded behind it (core/starting_front.py).
    def refusal_of(exc: Exception) -> str | None:
        from wagateway.cluster.keys import RefusedToJoin
        from wagateway.core.migrate import SchemaAhead

        return _refusal(exc) if isinstance(exc, SchemaAhead | RefusedToJoin) else None

    front = StartingFront(
        load_gateway,
        stop_serving=lambda: setattr(server, "should_exit", True),
        refusal_of=refusal_of,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            front,
            host=host or settings.host,
            port=port or settings.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
            # Connection limits (docs/limits.md): above max_connections uvicorn answers 503.
            # Event streams have a budget of their own on top (delivery/stream.py), so open
            # streams never take the API's connections.
            limit_concurrency=(
                settings.max_connections + settings.stream_max_connections
                if settings.max_connections is not None
                else None
            ),
            timeout_keep_alive=settings.keepalive_timeout,
            # uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 and rewrite the
            # client address before the gateway sees it: a local caller could claim to be any
            # allowlisted address. Proxies are the gateway's call (WAGW_TRUSTED_PROXIES,
            # core/client_address.py), which reads the headers itself.
            proxy_headers=False,
            server_header=False,  # no "server: uvicorn" banner to fingerprint the gateway by
            # httptools, as uvicorn would pick, with a cap on a request's head (docs/limits.md).
            http=HeadCappedHttpToolsProtocol,
        )
    )
    server.run()
    if front.refusal is not None:  # said last, after the server's own lines
        typer.echo(front.refusal, err=True)
    if front.exit_code is not None:
        raise typer.Exit(front.exit_code)
    if not server.started:  # the port taken, say: uvicorn has logged why
        raise typer.Exit(3)


@cli.command()
def migrate() -> None:
    """Apply database migrations (serve does this by itself at start)."""
    _migrate_loudly(_prepare())
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

    async def work(ctx: CliContext) -> apps_service.CreatedApp:
        from wagateway.apps import service as apps_service

        return await apps_service.create_app_as(
            ctx.db, ctx.box, _cli(), name, engine, webhook_url, domain_url, rotation_pin
        )

    result = _run(work).credentials()
    if as_json:
        typer.echo(json.dumps(result))
    else:
        for key, value in result.items():
            typer.echo(f"{key}: {value}")


@apps_cli.command("list")
def apps_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List apps (ids, names, engines; never secrets)."""

    async def work(ctx: CliContext) -> list[dict[str, str]]:
        from wagateway.apps import service as apps_service

        apps = await apps_service.all_apps(ctx.db)
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


MAX_GRACE = MAX_TOKEN_GRACE_SECONDS


@apps_cli.command("rotate-token")
def apps_rotate_token(
    app_id: str,
    pin: Annotated[str | None, typer.Option(help="the app's rotation PIN, when it has one")] = None,
    grace_seconds: Annotated[
        int | None,
        # A grace period is minutes; past a week is a typo (and past ~2^46 s a traceback).
        typer.Option(help="keep the old token valid this long (seconds)", min=0, max=MAX_GRACE),
    ] = None,
) -> None:
    """Issue a new app token; the old one stops working (after the grace period)."""

    async def work(ctx: CliContext) -> str:
        from wagateway.apps import service as apps_service

        grace = (
            ctx.settings.token_rotation_grace_seconds if grace_seconds is None else grace_seconds
        )
        # Audited (a wrong PIN too), never throttled: the host's own tool.
        return await apps_service.rotate_token_as(
            ctx.db,
            ctx.box,
            ctx.settings,
            _cli(),
            app_id,
            pin,
            grace,
            throttle_guesses=False,
        )

    typer.echo(_run(work))


@apps_cli.command("reveal-token")
def apps_reveal_token(app_id: str) -> None:
    """Print the app's current token."""

    async def work(ctx: CliContext) -> str:
        from wagateway.apps import service as apps_service

        return await apps_service.reveal_token_as(ctx.db, ctx.box, _cli(), app_id)

    typer.echo(_run(work))


@apps_cli.command("reveal-webhook-secret")
def apps_reveal_webhook_secret(app_id: str) -> None:
    """Print the app's webhook signing secret."""

    async def work(ctx: CliContext) -> str:
        from wagateway.apps import service as apps_service

        return await apps_service.reveal_webhook_secret_as(ctx.db, ctx.box, _cli(), app_id)

    typer.echo(_run(work))


@apps_cli.command("set-webhook")
def apps_set_webhook(
    app_id: str,
    webhook_url: str,
    domain_url: Annotated[str | None, typer.Option(help="base URL for a relative path")] = None,
) -> None:
    """Set the webhook target: '' (none), an http(s) URL, or a /path."""

    async def work(ctx: CliContext) -> None:
        from wagateway.apps import service as apps_service

        await apps_service.change_app(
            ctx.db, _cli(), app_id, webhook_url=webhook_url, domain_url=domain_url
        )

    _run(work)
    typer.echo("ok")


@apps_cli.command("set-limits")
def apps_set_limits(
    app_id: str,
    requests_per_second: Annotated[
        float | None, typer.Option(help="API requests per second for the app (0 = none)")
    ] = None,
    burst: Annotated[int | None, typer.Option(help="requests the app may make at once")] = None,
    device_requests_per_second: Annotated[
        float | None, typer.Option(help="API requests per second on one device (0 = none)")
    ] = None,
    device_burst: Annotated[int | None, typer.Option()] = None,
    max_devices: Annotated[
        int | None,
        # The column is a 32-bit INTEGER: past it the database refused it with a traceback.
        typer.Option(
            help="device quota (0 = none, -1 = the server's default)", min=-1, max=2**31 - 1
        ),
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="back to the server's defaults")] = False,
) -> None:
    """Give an app its own API rate limits or device quota; prints what applies now."""
    from wagateway.apps import limits

    try:
        override = limits.LimitsOverride(
            requests_per_second=requests_per_second,
            burst=burst,
            device_requests_per_second=device_requests_per_second,
            device_burst=device_burst,
        )
    except ValidationError as exc:
        _fail(ApiError(400, "validation_error", exc.errors()[0]["msg"]))

    async def work(ctx: CliContext) -> limits.LimitsOut:
        from wagateway.apps import service as apps_service

        return await apps_service.set_limits_as(
            ctx.db, ctx.settings, _cli(), app_id, override, max_devices, reset
        )

    typer.echo(_run(work).model_dump_json())


@users_cli.command("create")
def users_create(
    email: str,
    admin: Annotated[bool, typer.Option("--admin", help="sees and manages every project")] = False,
) -> None:
    """Create a dashboard operator. The password is asked for twice on a terminal, or read
    from the first line of stdin (`echo "$PASSWORD" | wagateway users create …`)."""
    from wagateway.operators.service import create_operator_as

    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if has_lone_surrogate(password):  # bytes that are not UTF-8, surrogate-escaped by Python
        _fail(validation_error("the password is not UTF-8 text", "password"))

    async def work(ctx: CliContext) -> str:
        operator = await create_operator_as(
            ctx.db, ctx.settings, _cli(), email, password, is_admin=admin
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
    from wagateway.devices.lookup import find_device
    from wagateway.devices.state import Status

    async def work(ctx: CliContext) -> None:
        shown: str | None = None
        while True:
            device = await find_device(ctx.db, device_id)
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


# --- ops commands: through the running gateway's REST API (see local_api.py) -----------------

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="the running gateway; default http://<WAGW_HOST, or 127.0.0.1>:<WAGW_PORT>",
        show_default=False,
    ),
]


def _call_device(
    device_id: str,
    url: str | None,
    method: str,
    rest: str = "",
    *,
    audit_action: str | None = None,
    confirm: Callable[[str], None] | None = None,
    **request: Any,
) -> Any:
    """Call `/devices/{device_id}{rest}` on the running gateway with the device's app token;
    a change is recorded in the audit log (actor `cli`) once the API has done it: the serving
    process committed it, so there is no transaction of the change to join."""
    from wagateway.audit.service import record_done
    from wagateway.local_api import GatewayApi, default_url, device_access

    async def work(ctx: CliContext) -> Any:
        access = await device_access(ctx, device_id)
        if confirm is not None:
            confirm(access.device_name)
        timeout = ctx.settings.send_wait_timeout + 30.0
        async with GatewayApi(url or default_url(ctx.settings), access.token, timeout) as api:
            answer = await api.call(method, access.path + rest, **request)
        if audit_action is not None:
            sent = isinstance(answer, dict) and "message_id" in answer
            detail = {"message_id": answer["message_id"]} if sent else {"name": access.device_name}
            await record_done(
                ctx.db,
                _cli(),
                audit_action,
                app_id=access.app_id,
                device_id=device_id,
                detail=detail,
            )
        return answer

    return _run(work)


def _print_device(device: dict[str, Any]) -> None:
    """The device object as `key: value` lines; the QR image (a long data URL) and the raw QR
    are left out: `wagateway devices qr` draws the code in the terminal."""
    for key, value in device.items():
        if key in ("qr_image", "qr"):
            continue
        if isinstance(value, dict):
            value = json.dumps(value, sort_keys=True)
        typer.echo(f"{key}: {'-' if value is None else value}")
    if device.get("qr"):
        typer.echo(f"qr: (scan it with `wagateway devices qr {device['device_id']}`)")


@devices_cli.command("show")
def devices_show(
    device_id: str,
    url: UrlOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the API's device object")] = False,
) -> None:
    """Show a device (GET /devices/{id} on the running gateway).

    When the gateway is not running: the device as stored in the database, with a note on
    stderr (its status and connection are then what the gateway last wrote)."""
    from wagateway.devices.schemas import DeviceOut
    from wagateway.devices.service import stored_device
    from wagateway.local_api import GatewayApi, ServerUnreachable, default_url, device_access

    async def work(ctx: CliContext) -> Any:
        access = await device_access(ctx, device_id)
        try:
            async with GatewayApi(url or default_url(ctx.settings), access.token) as api:
                return await api.call("GET", access.path)
        except ServerUnreachable as exc:
            typer.echo(
                f"note: {exc.message}; showing the device as stored in the database "
                "(status and connection as the gateway last wrote them)",
                err=True,
            )
        # The API's rules: 410 for a destroyed device.
        device = await stored_device(ctx.db, access.app_id, device_id)
        return DeviceOut.of(device).model_dump(mode="json")

    device = _run(work)
    if as_json:
        typer.echo(json.dumps(device))
    else:
        _print_device(device)


@devices_cli.command("disconnect")
def devices_disconnect(device_id: str, url: UrlOption = None) -> None:
    """Unlink the device's WhatsApp session → disconnected (POST /devices/{id}/disconnect).

    Relink with a new QR: POST /devices/{id}/qr, then `wagateway devices qr`."""
    device = _call_device(device_id, url, "POST", "/disconnect", audit_action="device.disconnect")
    typer.echo(f"device {device_id}: {device['status']}")


@devices_cli.command("delete")
def devices_delete(
    device_id: str,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
    url: UrlOption = None,
) -> None:
    """Destroy the device (DELETE /devices/{id}); asks first unless --yes.

    The device is logged out, its session erased, its messages and events archived. Terminal:
    the id answers 410 afterwards."""

    def confirm(name: str) -> None:
        if not yes:
            typer.confirm(
                f"Delete device {device_id} ({name})? It is logged out of WhatsApp and its "
                "session erased; this cannot be undone",
                abort=True,
            )

    device = _call_device(device_id, url, "DELETE", audit_action="device.delete", confirm=confirm)
    typer.echo(f"device {device_id}: {device['status']}; its messages and events are archived")


@messages_cli.command("send")
def messages_send(
    device_id: str,
    to: Annotated[
        str | None, typer.Option(help="recipient: phone number, or a phone, LID or group JID")
    ] = None,
    text: Annotated[str | None, typer.Option(help="the text (type text)")] = None,
    message_type: Annotated[
        str | None, typer.Option("--type", help="text (default), image, document, location, …")
    ] = None,
    json_body: Annotated[
        str | None,
        typer.Option(
            "--json-body",
            help="the request body as JSON, or - to read it from stdin; --to, --type and "
            "--text override its fields. E.g. --type image --json-body "
            '\'{"url": "https://…/a.png", "mime_type": "image/png", "caption": "hi"}\'',
        ),
    ] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="the same key and body within 24 h send nothing new")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="return once the message left the device (or failed)")
    ] = False,
    url: UrlOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the API's answer")] = False,
) -> None:
    """Send a message from the device (POST /devices/{id}/messages); prints its id and status.

    Any message type of the API: --to/--text for text, --type with --json-body for the others.
    Exit 2 when the API refuses it, or with --wait when it failed."""
    body: dict[str, Any] = {}
    if json_body is not None:
        try:
            raw = sys.stdin.buffer.read().decode() if json_body == "-" else json_body
            parsed = json.loads(raw)
        except UnicodeDecodeError as exc:
            _fail(validation_error(f"--json-body is not UTF-8 text: {exc}", "--json-body"))
        except (ValueError, RecursionError) as exc:
            _fail(ApiError(400, "validation_error", f"--json-body is not valid JSON: {exc}"))
        if not isinstance(parsed, dict):
            _fail(ApiError(400, "validation_error", "--json-body must be a JSON object"))
        # The API would refuse it too, but a lone surrogate cannot even be put in a request.
        unusable = unstorable_field(parsed)
        if unusable is not None:
            _fail(
                validation_error(
                    f"--json-body: {unusable} must be text without NUL or unpaired surrogates",
                    unusable,
                )
            )
        body.update(parsed)
    for key, value in (("to", to), ("type", message_type), ("text", text)):
        if value is not None:
            body[key] = value

    answer = _call_device(
        device_id,
        url,
        "POST",
        "/messages",
        audit_action="message.send",
        body=body,
        params={"wait": "true"} if wait else None,
        headers={"Idempotency-Key": idempotency_key} if idempotency_key else None,
    )
    if as_json:
        typer.echo(json.dumps(answer))
    else:
        for key in ("message_id", "status", "to", "wa_message_id"):
            if answer.get(key):
                typer.echo(f"{key}: {answer[key]}")
    error = answer.get("error")
    if answer.get("status") == "failed" and isinstance(error, dict):
        _fail(ApiError(200, str(error.get("code", "failed")), str(error.get("message", ""))))


def _refuse_unencodable_arguments(argv: list[str]) -> None:
    """A shell hands over bytes: Python gives those that are not UTF-8 to typer as lone
    surrogates (`surrogateescape`), which no database or request can encode (a traceback
    deep in the command, before). Refused first, naming the option or the argument."""
    for position, arg in enumerate(argv[1:], start=1):
        if not has_lone_surrogate(arg):
            continue
        option, equals, _ = arg.partition("=")
        previous = argv[position - 1] if position > 1 else ""
        if arg.startswith("--") and equals:
            field = option
        elif previous.startswith("--") and "=" not in previous:
            field = previous
        else:
            field = f"argument {position}"  # as the shell numbers them: $1 is the first
        shown = ascii(os.fsencode(arg))[1:]  # the bytes given, e.g. 'caf\xe9'
        _fail(validation_error(f"{field} is not UTF-8 text: {shown}", field))


def main() -> None:
    # A command's imports make objects by the hundred thousand and free next to none: the
    # collector would walk them again and again for nothing. Switched back on once they are
    # done (`_run`; `serve` once the gateway has started: core/gc_tuning.py).
    gc.disable()
    try:
        _refuse_unencodable_arguments(sys.argv)
    except typer.Exit as exc:  # outside a command: no typer to turn it into the exit status
        sys.exit(exc.exit_code)
    cli(prog_name="wagateway")


if __name__ == "__main__":
    main()
