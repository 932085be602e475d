"""Smoke-test a built image without running a container (scripts/build-image calls this).

Runs as root inside a private mount namespace (`unshare --mount`), given the image's root
file system (`podman image mount`, read-only) and its config (`podman image inspect`):

- the config has a non-root USER, a /data VOLUME, EXPOSE 8080 and a HEALTHCHECK; the code
  (the gateway's, and its dependencies') was compiled to bytecode when it was installed;
- `/proc`, `/dev`, a fresh `/tmp` and a fresh data dir are bound in, and the image's command
  (`wagateway serve`) starts with chroot as the image's user, with the image's environment
  and working dir (a loopback port instead of 0.0.0.0:8080);
- the image's own HEALTHCHECK command passes, /health answers "ok" with the database (and,
  in the whatsmeow image, the whatsmeow engine) working, the dashboard's pages and static
  files are served, an app made with the image's CLI creates a sandbox device (201, with its
  QR) over the API, the server runs as that user and wrote its key and data to the data dir;
  the whatsmeow image imports neonize;
- SIGTERM (what `docker stop` sends) shuts it down cleanly within 20 s, workers included.

Standard library only: it runs on the host's python3.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any


def fail(message: str, log: Path | None = None) -> None:
    print(f"SMOKE FAILED: {message}", file=sys.stderr)
    if log is not None and log.exists():
        print("--- server log (last 60 lines) ---", file=sys.stderr)
        print("\n".join(log.read_text(errors="replace").splitlines()[-60:]), file=sys.stderr)
    sys.exit(1)


def check(condition: bool, message: str) -> None:
    if not condition:
        fail(message)
    print(f"ok: {message}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def passwd_entry(root: Path, user: str) -> tuple[int, int, str]:
    """uid, gid and home of USER (a name or uid[:gid]) from the image's /etc/passwd."""
    name = user.split(":")[0]
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if name in (fields[0], fields[2]):
            return int(fields[2]), int(fields[3]), fields[5]
    fail(f"user {user!r} is not in the image's /etc/passwd")
    raise AssertionError


def on_database(url: str, name: str) -> str:
    """URL with its database replaced by NAME."""
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(path=f"/{name}"))


def fresh_database(url: str) -> tuple[str, str]:
    """A new database on the server at URL (created with psql): its URL, and its name."""
    name = f"wagw_image_smoke_{os.getpid()}"
    admin = on_database(url, "postgres")
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
    return on_database(url, name), name


def drop_database(url: str, name: str) -> None:
    admin = on_database(url, "postgres")
    subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"])


def main() -> None:
    # A bound on the whole step (`timeout` in .ci/run) ends it with SIGTERM: leave through
    # the `finally` below, which stops the server (in a session of its own) too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, required=True, help="the mounted image")
    parser.add_argument("--inspect", type=Path, required=True, help="podman image inspect")
    parser.add_argument("--variant", choices=["core", "whatsmeow"], required=True)
    parser.add_argument("--postgres-url", default="", help="run on a fresh database there")
    args = parser.parse_args()
    root: Path = args.root
    inspected: dict[str, Any] = json.loads(args.inspect.read_text())[0]
    config: dict[str, Any] = inspected["Config"]

    # The image's config.
    user = config.get("User") or "root"
    uid, gid, home = passwd_entry(root, user)
    check(uid != 0, f"the image runs as a non-root user ({user}, uid {uid})")
    check("/data" in (config.get("Volumes") or {}), "the image declares the /data volume")
    check("8080/tcp" in (config.get("ExposedPorts") or {}), "the image exposes 8080/tcp")
    # podman shows the HEALTHCHECK beside the config, docker inside it.
    health = (config.get("Healthcheck") or inspected.get("Healthcheck") or {}).get("Test") or []
    check(health[:1] == ["CMD"] and len(health) > 1, "the image has a HEALTHCHECK command")
    env = dict(item.split("=", 1) for item in config.get("Env") or [])
    check(env.get("WAGW_HOST") == "0.0.0.0", "the image listens on all addresses (WAGW_HOST)")
    check(env.get("WAGW_DATA_DIR") == "/data", "the image keeps its data in /data")
    licences = (config.get("Labels") or {}).get("org.opencontainers.image.licenses", "")
    expected = "MIT" if args.variant == "core" else "MIT AND Apache-2.0 AND MPL-2.0 AND GPL-3.0"
    check(licences == expected, f"the image's licence label is {expected!r}")
    # Compiled when installed: else each start compiles the code anew, for a second or more.
    site = next((root / "opt/wagateway/lib").glob("python3*/site-packages"))
    for package, module in (("wagateway", "main"), ("sqlalchemy", "__init__")):
        compiled = list((site / package / "__pycache__").glob(f"{module}.cpython-*.pyc"))
        check(bool(compiled), f"{package}/{module}.py is installed with its bytecode")
    command = (config.get("Entrypoint") or []) + (config.get("Cmd") or [])
    workdir = config.get("WorkingDir") or "/"

    # What a container would have: /proc, /dev, an empty /tmp, a fresh volume at /data.
    mount("-t", "proc", "proc", str(root / "proc"))
    mount("--rbind", "/dev", str(root / "dev"))
    mount("-t", "tmpfs", "-o", "mode=1777", "tmpfs", str(root / "tmp"))
    data = Path(tempfile.mkdtemp(prefix="wagateway-smoke-data-"))
    os.chown(data, uid, gid)
    data.chmod(0o700)
    mount("--bind", str(data), str(root / "data"))

    port = free_port()
    run_env = {"HOME": home, **env, "WAGW_HOST": "127.0.0.1", "WAGW_PORT": str(port)}
    database = ("", "")
    if args.postgres_url:
        database = fresh_database(args.postgres_url)
        run_env["WAGW_DATABASE_URL"] = database[0]

    def in_image(argv: list[str]) -> list[str]:
        env_args = [f"{key}={value}" for key, value in run_env.items()]
        return [
            "chroot",
            f"--userspec={uid}:{gid}",
            str(root),
            "/usr/bin/env",
            "-i",
            "-C",
            workdir,
            *env_args,
            *argv,
        ]

    log = Path(tempfile.mkstemp(prefix="wagateway-smoke-", suffix=".log")[1])
    server: subprocess.Popen[bytes] | None = None
    try:
        with log.open("wb") as out:
            server = subprocess.Popen(
                in_image(command), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        print(f"started {' '.join(command)} on 127.0.0.1:{port} (pid {server.pid})")
        deadline = time.monotonic() + 90
        started = time.monotonic()
        while True:
            if server.poll() is not None:
                fail(f"the server exited with {server.returncode} before it was healthy", log)
            probe = subprocess.run(in_image(health[1:]), capture_output=True, timeout=10)
            if probe.returncode == 0:
                break
            if time.monotonic() > deadline:
                fail(f"the HEALTHCHECK did not pass in 90 s: {probe.stderr[-300:]!r}", log)
            time.sleep(0.5)
        check(True, f"the image's HEALTHCHECK passes ({time.monotonic() - started:.1f} s)")

        # A node answers while its webhook worker starts (`degraded` until it is up).
        ok_by = time.monotonic() + 30
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as reply:
                body = json.load(reply)
            if body["status"] == "ok" or time.monotonic() > ok_by:
                break
            time.sleep(0.2)
        checks = body["checks"]
        print(f"/health: {json.dumps(body)}")
        check(body["status"] == "ok", "/health says ok (within 30 s of its first answer)")
        dialect = "postgresql" if args.postgres_url else "sqlite"
        check(checks["database"].get("dialect") == dialect, f"the database is {dialect}")
        if args.variant == "whatsmeow":
            check(checks.get("engine:whatsmeow", {}).get("ok") is True, "whatsmeow engine is up")
            probe = subprocess.run(
                in_image(
                    [
                        "python3",
                        "-c",
                        "from wagateway.engines.whatsmeow import neonize_loader as n; "
                        "assert n.missing() is None, n.missing(); "
                        "n.module('neonize.aioze.client')",
                    ]
                ),
                capture_output=True,
                timeout=60,
            )
            if probe.returncode != 0:
                fail(f"neonize does not import in the image: {probe.stderr[-800:]!r}")
            check(True, "neonize (its Go library, python-magic with libmagic) imports")
        else:
            check("engine:whatsmeow" not in checks, "the core image has no whatsmeow engine")

        # The package's data (templates, static files, migrations) is in the image, and
        # the CLI works in it as `docker compose exec gateway wagateway …` would use it.
        for path in ("/dashboard/login", "/dashboard/static/app.css"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
                check(reply.status == 200 and len(reply.read()) > 100, f"{path} is served")
        created = subprocess.run(
            in_image(["wagateway", "apps", "create", "smoke", "--json"]),
            capture_output=True,
            timeout=60,
        )
        if created.returncode != 0:
            fail(f"`wagateway apps create` failed: {created.stderr[-800:]!r}", log)
        token = json.loads(created.stdout)["app_token"]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/devices",
            data=json.dumps({"device_name": "smoke"}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            device = json.load(reply)
            check(
                reply.status == 201 and device["status"] == "qr_generated",
                "an app made with the CLI creates a sandbox device with its QR over the API",
            )

        status = Path(f"/proc/{server.pid}/status").read_text()
        uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
        check(set(uids) == {str(uid)}, f"the server runs as uid {uid}")
        check((data / "secret.key").stat().st_uid == uid, "the key file is in the data volume")
        if not args.postgres_url:
            check((data / "wagateway.db").exists(), "the SQLite database is in the data volume")

        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            fail("the server did not stop within 20 s of SIGTERM", log)
        # uvicorn re-raises the signal once it has shut down: death by SIGTERM (143 in
        # `docker ps`) after a complete shutdown is the clean end.
        stopped = "Application shutdown complete." in log.read_text(errors="replace")
        if code not in (0, -signal.SIGTERM) or not stopped:
            fail(f"SIGTERM did not shut the server down cleanly (exit {code})", log)
        check(True, f"SIGTERM stops the server cleanly (exit {code}, shutdown complete)")
        for _ in range(50):  # its worker processes end with it
            try:
                os.killpg(server.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            fail("processes of the server were still running 5 s after it stopped", log)
    finally:
        if server is not None:
            # The server and anything it left behind (its own process group, by
            # start_new_session): nothing of it may outlive the test.
            try:
                os.killpg(server.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            server.wait()
        if database[1]:
            drop_database(args.postgres_url, database[1])
        shutil.rmtree(data, ignore_errors=True)
        log.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
