"""A PostgreSQL server of a test's own (`initdb` in a temporary directory, on a free loopback
port, never the machine's shared server), for tests that stop or restart the database.

The binaries come from PATH or the newest /usr/lib/postgresql/*/bin. PostgreSQL refuses to
run as root: run as root, the cluster runs as the `postgres` user (`runuser`), its data in a
directory that user owns. Without the binaries the test skips with the reason; CI sets
WAGW_TEST_REQUIRE_POSTGRES=1, which turns that skip into a failure.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.harness import free_port
from tests.support.requirements import missing

REQUIRE = "WAGW_TEST_REQUIRE_POSTGRES"


def postgres_bin_dir() -> Path | None:
    """Where initdb, pg_ctl and postgres are, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2] or 0)
    )
    for directory in reversed(candidates):
        if all(os.access(Path(directory) / tool, os.X_OK) for tool in ("initdb", "pg_ctl")):
            return Path(directory)
    return None


class PrivatePostgres:
    """`start()` creates and starts the cluster; `stop()`, `start_again()` and `restart()`
    act on it as an operator would; `remove()` stops it and deletes its files."""

    def __init__(self) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            missing(
                "PostgreSQL's server binaries (initdb, pg_ctl) are not on PATH nor in "
                "/usr/lib/postgresql/*/bin: install the postgresql server package",
                REQUIRE,
            )
        self._bin = bin_dir
        self.port = free_port()
        self._as_user: list[str] = []
        owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:  # PostgreSQL will not run as root
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                missing("running as root without a `postgres` user to run PostgreSQL as", REQUIRE)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self.root = Path(tempfile.mkdtemp(prefix="wagw-private-pg-"))
        if owner is not None:
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "server.log"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self._as_user, *args], capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}"
                f"\n{self.logs()[-2000:]}"
            )
        return result

    def start(self) -> PrivatePostgres:
        self._run(
            str(self._bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nmax_connections = 300\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "shared_buffers = 32MB\n"
            )
        self.start_again()
        return self

    def start_again(self) -> None:
        self._run(
            str(self._bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self._bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, down_for: float = 0.0, mode: str = "fast") -> None:
        """Stop it (closing every client's connection), stay down `down_for` seconds, start."""
        self.stop(mode)
        time.sleep(down_for)
        self.start_again()

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def remove(self) -> None:
        if self.running():
            try:
                self.stop("immediate")
            except (AssertionError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def logs(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""
