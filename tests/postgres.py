"""A throwaway PostgreSQL server for the tests: Debian's (or the CI runner's) own binaries, a cluster in a temporary
folder, reached over TCP on 127.0.0.1 with a password. PostgreSQL refuses to run as root: as root the cluster
belongs to the ``postgres`` user and its commands run as that user."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER, DATABASE = "search", "search"


def binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise RuntimeError(f"no PostgreSQL {name}: install Debian's postgresql package (.ci/run does)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tiny-mnist-pg-"))
        self.data, self.log = self.root / "data", self.root / "server.log"
        self.port, self.password = free_port(), secrets.token_hex(12)
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres")
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self.as_postgres:
            shutil.chown(pwfile, "postgres")
        self.run(binary("initdb"), "-D", str(self.data), "-U", USER, "--auth=scram-sha-256", f"--pwfile={pwfile}")
        pwfile.unlink()

    def run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, text=True, cwd=self.root)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run(binary("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self.run(binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, password: str | None = None, database: str = DATABASE) -> str:
        secret = self.password if password is None else password
        return f"postgresql+psycopg://{USER}:{secret}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A fresh database on the server (one per test): its URL."""
        import psycopg

        with psycopg.connect(self.url(database="postgres").replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(database=name)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
