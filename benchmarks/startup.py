"""Start-up with many linked devices (issue 20, "start-up that serves at once"): how soon a
node answers after it starts, how soon all its devices are online again, and its memory.

Method (SQLite in a temporary data dir, or `--postgres`: a fresh PostgreSQL database): N
linked sandbox devices are seeded in process with the gateway's own models (an app, N
`connected` devices, their sandbox session store rows) — not N API calls. Then
`wagateway serve` runs twice:

- run 1 (the "before"): started, left until every device is online and 5 s more; its RSS;
- run 2 (the restart): stopped with SIGTERM, started again; from the process start, the
  time to the first `/health` answer (from the starting front while the gateway loads:
  core/starting_front.py), to the answer of an API call made at that moment (held until
  the gateway is loaded), to `/health` from the gateway itself, to `restoring: false`, and
  to every device online (read from the database); its RSS once they are, and its peak.

Bytecode is written first, as `pip install` compiles it (a checkout run with
PYTHONDONTWRITEBYTECODE would compile the gateway and its libraries at every start).

Printed: those figures and the ratio of run 2's RSS to run 1's (target: within 1.2). The
targets of issue 20: the API answering < 1 s after start, all 10,000 online < 10 s.

    .venv/bin/python benchmarks/startup.py --devices 10000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from messaging import PG_ADMIN_URL_DEFAULT, postgres_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from wagateway.apps.models import App  # noqa: E402
from wagateway.core.db import Database  # noqa: E402
from wagateway.core.migrate import upgrade_to_head  # noqa: E402
from wagateway.core.settings import Settings  # noqa: E402
from wagateway.devices.models import Device  # noqa: E402
from wagateway.sandbox.models import SandboxSession  # noqa: E402

WAGATEWAY = str(Path(sys.executable).with_name("wagateway"))


def _rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


async def _seed(url: str, devices: int) -> None:
    await asyncio.to_thread(upgrade_to_head, url)
    db = Database(url)
    try:
        now = datetime.now(UTC)
        async with db.transaction() as session:
            # No webhook: a placeholder, never decrypted.
            placeholder = "unused"
            session.add(
                App(id="bench-app", name="bench", engine="sandbox", webhook_secret_enc=placeholder)
            )
        for start in range(0, devices, 1000):
            async with db.transaction() as session:
                for n in range(start, min(start + 1000, devices)):
                    phone = f"62812{n:08d}"
                    device_id = f"00000000-0000-4000-8000-{n:012d}"
                    session.add(
                        Device(
                            id=device_id,
                            app_id="bench-app",
                            name=f"device {n}",
                            engine="sandbox",
                            status="connected",
                            connection="online",
                            wa_number=phone,
                            wa_device_jid=f"{phone}:2@s.whatsapp.net",
                            linked_at=now,
                            session_epoch=1,
                        )
                    )
                    session.add(
                        SandboxSession(
                            device_id=device_id,
                            phone=phone,
                            device_jid=f"{phone}:2@s.whatsapp.net",
                            linked_at=now,
                        )
                    )
    finally:
        await db.dispose()


async def _online(url: str) -> int:
    from sqlalchemy import func, select

    db = Database(url)
    try:
        async with db.read() as session:
            return int(
                await session.scalar(
                    select(func.count()).select_from(Device).where(Device.connection == "online")
                )
                or 0
            )
    finally:
        await db.dispose()


def _serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [WAGATEWAY, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _run(env: dict[str, str], port: int, log: Path, url: str, devices: int) -> dict[str, float]:
    """Start a node; time its first answer, the answer to an API call made then, the
    gateway loaded (`/health` from the gateway, not from the starting front), `restoring:
    false` and all devices online."""
    started = time.monotonic()
    proc = _serve(env, port, log)
    figures: dict[str, float] = {"pid": proc.pid}
    client = httpx.Client(timeout=30)
    while "first_answer" not in figures or "restored" not in figures:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()[-3000:]}")
        try:
            body = client.get(f"http://127.0.0.1:{port}/health").json()
        except httpx.HTTPError:
            time.sleep(0.02)
            continue
        if "first_answer" not in figures:
            figures["first_answer"] = time.monotonic() - started
            # An API call the moment the node answers: held while the gateway loads, then
            # answered by it (401: no token).
            status = client.get(f"http://127.0.0.1:{port}/devices").status_code
            assert status == 401, status
            figures["api_answer"] = time.monotonic() - started
        if "startup" not in body.get("checks", {}):
            figures.setdefault("loaded", time.monotonic() - started)
        if not body.get("restoring", False):
            figures["restored"] = time.monotonic() - started
        time.sleep(0.02)
    while asyncio.run(_online(url)) < devices:
        if time.monotonic() - started > 300:
            _stop(proc)
            raise SystemExit(f"devices not all online after 300 s:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    figures["all_online"] = time.monotonic() - started
    figures["rss_mib"] = _rss_kib(proc.pid) / 1024
    figures["peak_mib"] = _rss_kib(proc.pid, "VmHWM") / 1024
    figures["proc"] = proc  # type: ignore[assignment]
    return figures


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument(
        "--postgres", action="store_true", help="on a fresh PostgreSQL database (dropped after)"
    )
    parser.add_argument(
        "--postgres-admin-url",
        default=PG_ADMIN_URL_DEFAULT,
        help=f"where --postgres creates its database (default {PG_ADMIN_URL_DEFAULT})",
    )
    parser.add_argument("--port", type=int, default=18765)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        database_url = ""
        if args.postgres:
            database_url = stack.enter_context(postgres_database(args.postgres_admin_url))
        settings = Settings(data_dir=data_dir, database_url=database_url)
        url = settings.resolved_database_url
        # As an installed node starts: pip compiles a package to bytecode when it installs it.
        # A checkout under PYTHONDONTWRITEBYTECODE would compile hundreds of modules at each
        # start instead (over a second here); written once here, before the runs.
        env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        subprocess.run(
            [sys.executable, "-c", "import wagateway.cli, wagateway.main, uvicorn"],
            env=env,
            check=True,
        )
        env = {
            **env,
            "WAGW_DATA_DIR": str(data_dir),
            "WAGW_SECRET_KEY": secrets.token_urlsafe(32),
            "WAGW_LOG_LEVEL": os.environ.get("WAGW_LOG_LEVEL", "warning"),
        }
        if database_url:
            env["WAGW_DATABASE_URL"] = database_url
        seeded = time.monotonic()
        asyncio.run(_seed(url, args.devices))
        print(f"seeded {args.devices} linked sandbox devices in {time.monotonic() - seeded:.1f} s")
        log = data_dir / "server.log"
        before = _run(env, args.port, log, url, args.devices)
        time.sleep(5)
        if before["proc"].poll() is not None:  # type: ignore[attr-defined]
            raise SystemExit(f"the server exited:\n{log.read_text()[-3000:]}")
        before["rss_mib"] = _rss_kib(int(before["pid"])) / 1024
        _stop(before["proc"])  # type: ignore[arg-type]
        after = _run(env, args.port, log, url, args.devices)
        _stop(after["proc"])  # type: ignore[arg-type]
        for name, run in (("run 1 (before)", before), ("run 2 (restart)", after)):
            print(
                f"{name}: first /health answer {run['first_answer']:.2f} s, an API call made "
                f"then answered at {run['api_answer']:.2f} s, gateway loaded "
                f"{run['loaded']:.2f} s, restored "
                f"{run['restored']:.2f} s, all {args.devices} online {run['all_online']:.2f} s; "
                f"RSS {run['rss_mib']:.0f} MiB (peak {run['peak_mib']:.0f} MiB)"
            )
        print(f"RSS after the restart / before: {after['rss_mib'] / before['rss_mib']:.2f}")


if __name__ == "__main__":
    main()
