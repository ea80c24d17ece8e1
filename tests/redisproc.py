"""A real Redis server for tests and benchmarks: `redis-server` on a free loopback port in a temporary
directory, nothing saved to disk, stopped by its own pid; restartable on the same port."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

from childproc import stop, wait_ready
from serverproc import free_port


def binary() -> str | None:
    """Where redis-server is, or None."""
    return shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if Path(p).exists()), None
    )


class RedisServer:
    """`redis-server` on 127.0.0.1; `url(db)` names a database on it."""

    def __init__(self, port: int | None = None) -> None:
        found = binary()
        if found is None:
            raise RuntimeError("Redis is not installed (no redis-server)")
        self.binary = found
        self.dir = Path(tempfile.mkdtemp(prefix="livepanel-redis-"))
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> RedisServer:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        args += ["--save", "", "--appendonly", "no", "--logfile", str(self.dir / "redis.log")]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_ready(self.proc, self.ping, "redis-server", self.log, timeout)
        return self

    def ping(self) -> bool:
        """True when the server answers PING (a raw RESP round trip: no driver needed)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def log(self) -> str:
        path = self.dir / "redis.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Stop it by its pid (SIGKILL: like a crash); the port is free again when this returns."""
        stop(self.proc, sig, timeout)

    def restart(self, sig: int = signal.SIGKILL) -> RedisServer:
        """Stop and start again on the same port, empty (nothing is saved)."""
        self.stop(sig)
        return self.start()

    def remove(self) -> None:
        self.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)
