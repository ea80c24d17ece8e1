"""A real livepanel server in its own process on a free loopback port (for tests and benchmarks)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from childproc import stop, wait_ready


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`livepanel serve` as a child process; stopped only by its own pid."""

    def __init__(self, data_dir: Path, *extra: str, store: str = "sqlite", port: int | None = None):
        self.data_dir = data_dir
        self.extra = list(extra)
        self.store = store
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log = data_dir.parent / f"server-{self.port}.log"
        self.base = ""
        if "--base-url" in self.extra:
            self.base = "/" + self.extra[self.extra.index("--base-url") + 1].strip("/")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> ServerProcess:
        args = [sys.executable, "-m", "livepanel", "serve", "--port", str(self.port), "--store", self.store]
        args += ["--data-dir", str(self.data_dir), *self.extra]
        env = {k: v for k, v in os.environ.items() if k not in ("LIVEPANEL_TOKEN", "LIVEPANEL_URL")}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_ready(self.proc, self.healthy, "server", lambda: "\n" + self.log.read_text(), timeout)
        return self

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + self.base + "/api/v1/health", timeout=1) as resp:
                return json.loads(resp.read()).get("ok") is True
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        return stop(self.proc, sig, timeout)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> ServerProcess:
        self.stop()
        return self.start()
