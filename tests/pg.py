"""A real PostgreSQL server for tests and benchmarks: initdb in a temporary directory, postgres on a free
loopback port, run unprivileged (postgres refuses root), stopped by its own pid."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from childproc import stop, wait_ready
from serverproc import free_port


def binaries() -> Path | None:
    """The directory holding initdb and postgres (Debian: /usr/lib/postgresql/VERSION/bin), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres")
    return Path(on_path).parent if on_path else None


class PgServer:
    """`postgres` in its own temporary data directory; `url(db)` names a database on it."""

    def __init__(self) -> None:
        bindir = binaries()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (no postgres under /usr/lib/postgresql/*/bin)")
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="livepanel-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.prefix: list[str] = []
        if os.getuid() == 0:  # postgres refuses to run as root: run it as an unprivileged user
            user = next(u for u in ("postgres", "nobody") if _exists(u))
            pw = pwd.getpwnam(user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.prefix = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups", "--"]
        subprocess.run(
            [
                *self.prefix,
                str(bindir / "initdb"),
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "-N",
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "LC_ALL": "C"},
        )
        self._databases = 0

    def start(self, timeout: float = 30.0) -> PgServer:
        args = [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.dir)]
        args += ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=on", "-c", "max_connections=60"]
        log = open(self.dir / "server.log", "ab")  # noqa: SIM115 (the child keeps it)
        with log:
            self.proc = subprocess.Popen([*self.prefix, *args], stdout=log, stderr=subprocess.STDOUT)
        wait_ready(self.proc, self._ready, "postgres", self.log, timeout)
        return self

    def _ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def log(self) -> str:
        return (self.dir / "server.log").read_text(errors="replace")[-2000:]

    def url(self, db: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        """A fresh, empty database: its URL."""
        import psycopg

        self._databases += 1
        name = f"t{self._databases}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30.0) -> None:
        """Stop postgres by its pid (SIGINT: fast shutdown; SIGQUIT: immediate, like a crash)."""
        stop(self.proc, sig, timeout)

    def remove(self) -> None:
        self.stop(signal.SIGQUIT)  # its data is thrown away: no shutdown checkpoint
        shutil.rmtree(self.dir, ignore_errors=True)


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True
