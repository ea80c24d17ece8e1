"""A real nginx in front of a livepanel server, in a temporary directory, on a free loopback port.

The proxy configuration is read from docs/deploy.md ("nginx in front"), so the tests run exactly what the
doc tells an operator to write; only the listen port and the upstream port are put in. nginx runs in the
foreground as one process (`master_process off`): it never switches user, so no root is needed, and it is
stopped by its own pid.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from childproc import stop, wait_ready
from serverproc import ServerProcess, free_port
from wire import get

DOC = Path(__file__).resolve().parents[1] / "docs" / "deploy.md"
PREFIX = "/livepanel"


def nginx_path() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def require_nginx() -> None:
    """Skip without nginx; in CI (CI=true, where .ci/setup installs it) fail instead."""
    if nginx_path() is None:
        reason = "nginx is not installed: apt-get install nginx-light (.ci/setup does)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


def doc_config() -> str:
    """The nginx block of docs/deploy.md's "nginx in front" section."""
    text = DOC.read_text()
    section = text.split("## nginx in front", 1)[1]
    match = re.search(r"```nginx\n(.*?)```", section, re.S)
    assert match, "docs/deploy.md: no ```nginx block in the 'nginx in front' section"
    return match.group(1)


class Nginx:
    """nginx proxying PREFIX/ on a free port to a livepanel server on `upstream_port`."""

    def __init__(self, workdir: Path, upstream_port: int, keep_prefix: bool = False):
        self.dir = workdir
        self.port = free_port()
        self.upstream_port = upstream_port
        self.keep_prefix = keep_prefix  # the doc's variant: no trailing / on proxy_pass, livepanel --base-url
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The livepanel URL as seen through the proxy (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}{PREFIX}"

    def config(self) -> str:
        block = doc_config()
        assert "listen 80;" in block and "127.0.0.1:8097" in block, "docs/deploy.md's nginx block changed shape"
        block = block.replace("listen 80;", f"listen 127.0.0.1:{self.port};")
        if self.keep_prefix:
            assert "proxy_pass http://127.0.0.1:8097/;" in block
            block = block.replace("proxy_pass http://127.0.0.1:8097/;", "proxy_pass http://127.0.0.1:8097;")
        block = block.replace("127.0.0.1:8097", f"127.0.0.1:{self.upstream_port}")
        d = self.dir
        temps = "\n".join(f"  {k}_temp_path {d / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        return (
            f"daemon off;\nmaster_process off;\npid {d / 'nginx.pid'};\nerror_log {d / 'error.log'} warn;\n"
            f"events {{ worker_connections 256; }}\nhttp {{\n  access_log {d / 'access.log'};\n{temps}\n"
            f"{block}\n}}\n"
        )

    def start(self, timeout: float = 10.0) -> Nginx:
        exe = nginx_path()
        assert exe, "nginx is not installed"
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "nginx.conf"
        conf.write_text(self.config())
        log = self.dir / "error.log"
        args = [exe, "-c", str(conf), "-p", str(self.dir), "-e", str(log)]
        with open(self.dir / "stderr.log", "ab") as err:
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
        wait_ready(self.proc, self._listening, "nginx", self.errors, timeout)
        return self

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def errors(self) -> str:
        return "".join(p.read_text() for p in (self.dir / "stderr.log", self.dir / "error.log") if p.exists())

    def stop(self, timeout: float = 10.0) -> None:
        stop(self.proc, signal.SIGTERM, timeout)  # SIGTERM: nginx's fast shutdown


@contextmanager
def behind_nginx(root: Path, token: str, keep_prefix: bool = False) -> Iterator[tuple[Nginx, ServerProcess]]:
    """A token-guarded livepanel server (memory store) on loopback, and nginx in front of it under PREFIX."""
    extra = ("--base-url", PREFIX) if keep_prefix else ()
    srv = ServerProcess(root / "data", "--token", token, *extra, store="memory")

    def healthy() -> bool:  # the health endpoint needs the token too
        try:
            return get(srv.url, srv.base + "/api/v1/health", token=token)[0] == 200
        except OSError:
            return False

    srv.healthy = healthy  # type: ignore[method-assign]
    ngx = Nginx(root / "nginx", srv.port, keep_prefix)
    try:
        srv.start()
        ngx.start()
        yield ngx, srv
    finally:
        ngx.stop()
        srv.stop()


def requested_paths(ngx: Nginx) -> list[str]:
    """The paths of the requests nginx has logged (combined log format)."""
    log = ngx.dir / "access.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [line.split('"', 2)[1].split(" ")[1] for line in lines if line.count('"') >= 2]
