"""A real PgBouncer (Debian package `pgbouncer`) in transaction mode in front of the test
PostgreSQL server, as docs/deployment.md advises for whatsmeow's shared session store.

Where PgBouncer is missing the tests skip with the reason; CI installs it and sets
WAGW_TEST_REQUIRE_PGBOUNCER=1, which turns the skip into a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.harness import free_port, wait_until
from tests.support.requirements import missing

CONFIG = """[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = trust
auth_file = {dir}/users.txt
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 2000
logfile = {dir}/pgbouncer.log
pidfile = {dir}/pgbouncer.pid
"""


def pgbouncer_path() -> str:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/bin")
    if found is None:
        missing(
            "PgBouncer is not installed (apt-get install pgbouncer)", "WAGW_TEST_REQUIRE_PGBOUNCER"
        )
    return found


@dataclass
class PgBouncer:
    """PgBouncer on a free loopback port, for the server of `server_url`."""

    server_url: str
    pool_size: int = 2
    port: int = 0
    workdir: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> PgBouncer:
        binary = pgbouncer_path()
        server = urlsplit(self.server_url)
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="wagw-pgbouncer-"))
        user = server.username or "postgres"
        (self.workdir / "users.txt").write_text(f'"{user}" ""\n')
        (self.workdir / "pgbouncer.ini").write_text(
            CONFIG.format(
                host=server.hostname or "127.0.0.1",
                port=server.port or 5432,
                listen=self.port,
                dir=self.workdir,
                pool_size=self.pool_size,
            )
        )
        command = [binary, str(self.workdir / "pgbouncer.ini")]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            shutil.chown(self.workdir, "postgres")
            for path in self.workdir.iterdir():
                shutil.chown(path, "postgres")
            command = ["runuser", "-u", "postgres", "--", *command]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(self._listening, timeout=15, interval=0.1, what="PgBouncer listening")
        return self

    def _listening(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"PgBouncer exited early: {self.logs()[-2000:]}")
        import socket

        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def url_for(self, database_url: str) -> str:
        """`database_url` (same server) through PgBouncer."""
        parts = urlsplit(database_url)
        netloc = parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{self.port}"
        return parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host).geturl()

    def logs(self) -> str:
        assert self.workdir is not None
        log = self.workdir / "pgbouncer.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
