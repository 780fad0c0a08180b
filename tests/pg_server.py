"""A throw-away PostgreSQL server for the tests: initdb + pg_ctl on 127.0.0.1, a random free port, a temp dir.

Uses the Debian ``postgresql`` package's binaries (/usr/lib/postgresql/<version>/bin). PostgreSQL
refuses to run as root, so when the tests run as root the cluster belongs to the ``postgres``
system user and every server command runs through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from live_servers import free_port

SUPERUSER = "sightline"


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def postgres_installed() -> bool:
    """True when Debian's PostgreSQL server binaries are present."""
    return _bin_dir() is not None


class PostgresServer:
    """Start with :meth:`start`, make databases with :meth:`new_database`, :meth:`stop` at the end."""

    def __init__(self) -> None:
        bin_dir = _bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (see scripts/apt-packages.txt)")
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="sightline-pg-"))
        self.data_dir = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.run_as = "postgres" if os.geteuid() == 0 else None

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> PostgresServer:
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            os.chmod(self.root, 0o755)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off -c synchronous_commit=off")
        self._run("pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", str(self.log), "-w", "-t", "60", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """URL of a fresh, empty database."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres",
                             autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def checkpoint(self) -> None:
        """Force every dirty page to the data files (for tests that scan them)."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres",
                             autocommit=True) as connection:
            connection.execute("CHECKPOINT")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")  # data is thrown away
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
