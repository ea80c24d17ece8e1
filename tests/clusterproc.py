"""Several livepanel nodes on one PostgreSQL and one Redis, with nginx in front (issue 22), for tests and benchmarks.

One `PgServer` (tests/pg.py), one `RedisServer` (tests/redisproc.py), N `livepanel serve --store
postgresql://... --hub redis://...` processes on free loopback ports (tests/serverproc.py), and nginx
proxying PREFIX/ to all of them round robin, without sticky sessions, configured as docs/deploy.md's
"Several nodes behind nginx" section says (only ports and paths are put in). Everything is started in
temporary directories and stopped by its own pid: a node can be SIGKILLed (`kill`), PostgreSQL stopped and
started again on the same port (`restart_postgres`).
"""

from __future__ import annotations

import random
import re
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nginxproc import DOC, Nginx
from serverproc import ServerProcess

SECTION = "## Several nodes behind nginx"
DOC_PORTS = (8097, 8098, 8099)  # the upstream servers named in the doc's block


def doc_cluster_config() -> str:
    """The nginx block of docs/deploy.md's "Several nodes behind nginx" section."""
    text = DOC.read_text()
    assert SECTION in text, f"docs/deploy.md: no {SECTION!r} section"
    match = re.search(r"```nginx\n(.*?)```", text.split(SECTION, 1)[1], re.S)
    assert match, f"docs/deploy.md: no ```nginx block in the {SECTION!r} section"
    return match.group(1)


class ClusterNginx(Nginx):
    """nginx in front of several nodes: the doc's upstream block with the nodes' ports put in."""

    def __init__(self, workdir: Path, ports: list[int]):
        super().__init__(workdir, ports[0])
        self.ports = list(ports)

    def config(self) -> str:
        block = doc_cluster_config()
        upstream = re.search(r"upstream \w+ \{\n((?:[ \t]*server [^\n]*\n)+)", block)
        servers = re.findall(r"server 127\.0\.0\.1:(\d+)([^;]*);", upstream.group(1) if upstream else "")
        assert "listen 80;" in block and [int(p) for p, _ in servers] == list(DOC_PORTS), (
            "docs/deploy.md's several-nodes nginx block changed shape (listen 80; upstream servers 8097-8099)"
        )
        indent = re.match(r"[ \t]*", upstream.group(1)).group(0)
        lines = "".join(f"{indent}server 127.0.0.1:{port}{servers[0][1]};\n" for port in self.ports)
        block = block[: upstream.start(1)] + lines + block[upstream.end(1) :]
        block = block.replace("listen 80;", f"listen 127.0.0.1:{self.port};")
        d = self.dir
        temps = "\n".join(f"  {k}_temp_path {d / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        return (
            f"daemon off;\nmaster_process off;\npid {d / 'nginx.pid'};\nerror_log {d / 'error.log'} warn;\n"
            f"events {{ worker_connections 1024; }}\nhttp {{\n  access_log {d / 'access.log'};\n{temps}\n"
            f"{block}\n}}\n"
        )


class Cluster:
    """PostgreSQL, Redis, `nodes` livepanel nodes and (with `nginx=True`) nginx in front of them.

    `extra` goes to every node's command line (`--no-diagnose` by default: diagnosis would add alert
    changes of its own to the envs the tests count). `hub=False` starts the nodes without `--hub`.
    """

    def __init__(
        self,
        root: Path | None = None,
        nodes: int = 3,
        *extra: str,
        nginx: bool = True,
        hub: bool = True,
        token: str | None = None,
    ):
        if nodes < 1:
            raise ValueError(f"a cluster needs at least one node, got {nodes}")
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="livepanel-cluster-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.size = nodes
        self.extra = list(extra) if extra else ["--no-diagnose"]
        self.with_nginx, self.with_hub, self.token = nginx, hub, token
        self.pg = None
        self.redis = None
        self.db = ""
        self.nodes: list[ServerProcess] = []
        self.nginx: ClusterNginx | None = None

    # -- start and stop ------------------------------------------------------------------------------

    def start(self) -> Cluster:
        import pg

        try:
            self.pg = pg.PgServer().start()
            self.db = self.pg.new_database()
            if self.with_hub:
                from redisproc import RedisServer

                self.redis = RedisServer().start()
            for i in range(self.size):
                args = [*self.extra]
                if self.with_hub:
                    args += ["--hub", self.hub_url]
                if self.token:
                    args += ["--token", self.token]
                self.nodes.append(ServerProcess(self.root / f"node{i}", *args, store=self.db))
            for node in self.nodes:  # one at a time: the first one makes the tables
                self._start_node(node)
            if self.with_nginx:
                self.nginx = ClusterNginx(self.root / "nginx", [n.port for n in self.nodes]).start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_node(self, node: ServerProcess) -> None:
        if self.token:
            from wire import get

            def healthy() -> bool:
                try:
                    return get(node.url, "/api/v1/health", token=self.token)[0] == 200
                except OSError:
                    return False

            node.healthy = healthy  # type: ignore[method-assign]
        node.start(timeout=30)

    def stop(self) -> None:
        """Stop everything this cluster started (each by its pid), nginx first, PostgreSQL last."""
        if self.nginx is not None:
            self.nginx.stop()
        for node in self.nodes:
            node.stop()
        if self.redis is not None:
            self.redis.remove()
        if self.pg is not None:
            self.pg.remove()

    # -- what the tests use ---------------------------------------------------------------------------

    @property
    def hub_url(self) -> str:
        assert self.redis is not None
        return self.redis.url(0)

    @property
    def urls(self) -> list[str]:
        """Each node's own URL."""
        return [n.url for n in self.nodes]

    @property
    def url(self) -> str:
        """The URL through nginx (with its path prefix)."""
        assert self.nginx is not None, "this cluster has no nginx"
        return self.nginx.url

    def pid(self, i: int) -> int:
        proc = self.nodes[i].proc
        assert proc is not None
        return proc.pid

    def kill(self, i: int) -> int:
        """SIGKILL node i (by its pid); return that pid."""
        pid = self.pid(i)
        self.nodes[i].stop(signal.SIGKILL)
        return pid

    def revive(self, i: int) -> ServerProcess:
        """Start node i again on its port (after `kill`)."""
        self._start_node(self.nodes[i])
        return self.nodes[i]

    def restart_postgres(self, down: float = 0.0) -> float:
        """Stop PostgreSQL (fast shutdown), keep it down `down` seconds, start it on the same port and data
        directory; return the seconds it was down."""
        assert self.pg is not None
        t0 = time.monotonic()
        self.pg.stop()
        if down > 0:
            time.sleep(down)
        self.pg.start()
        return time.monotonic() - t0

    def logs(self) -> str:
        """The tails of every node's log (for assertion messages)."""
        out = []
        for node in self.nodes:
            text = node.log.read_text(errors="replace") if node.log.exists() else ""
            out.append(f"--- node {node.port} ---\n{text[-1500:]}")
        if self.nginx is not None:
            out.append(f"--- nginx ---\n{self.nginx.errors()[-1500:]}")
        return "\n".join(out)


@contextmanager
def cluster(root: Path | None = None, nodes: int = 3, *extra: str, **kwargs) -> Iterator[Cluster]:
    """A started Cluster, stopped at the end."""
    c = Cluster(root, nodes, *extra, **kwargs)
    c.start()
    try:
        yield c
    finally:
        c.stop()


class LiveViewer:
    """A websocket viewer (as the page is one) in a thread of its own, checking what it gets as it goes.

    It subscribes to `envs` on the first of `urls`; when its socket closes it connects to the next URL at once
    (as a page reconnects through the balancer) and resumes each env from its last seq with the store id it
    was told, like the page does. Every snapshot and change is kept with its arrival time
    (`time.monotonic()`, one clock for every process of the machine). `problems` lists what a page would
    have to paper over: a change whose seq is not the last one + 1 (a gap, or a duplicate), a change before
    any snapshot, an `error` frame.
    """

    def __init__(
        self,
        urls: str | list[str],
        envs: list[str],
        token: str | None = None,
        width: int | None = None,
        page_backoff: bool = False,
    ):
        import threading

        self.urls = [urls] if isinstance(urls, str) else list(urls)
        self.envs, self.token, self.width = list(envs), token, width
        self.lock = threading.Lock()
        self.seqs: dict[str, int] = {}  # env -> the last seq applied
        self.store: str | None = None
        self.stores: list[str] = []  # the store id of each hello
        self.events: list[tuple[str, str, int, float, dict]] = []  # (kind, env, seq, arrival, message)
        self.problems: list[str] = []
        self.connects: list[tuple[float, str]] = []  # (when subscribed, url)
        self.closes: list[float] = []
        self.failed_connects = 0
        self._index = 0
        self.page_backoff = page_backoff  # wait before reconnecting as the page does (frontend/src/socket.ts)
        self._retry = 0
        self._next: str | None = None
        self._stop = False
        self._loop = None
        self._conn = None
        self._thread = threading.Thread(target=self._main, daemon=True, name="live-viewer")

    # -- the viewer's thread ---------------------------------------------------------------------------

    def _main(self) -> None:
        import asyncio

        asyncio.run(self._run())

    async def _run(self) -> None:
        import asyncio

        self._loop = asyncio.get_running_loop()
        first = True
        while not self._stop:
            if self.page_backoff and not first:  # the page: 250 ms, doubling to 5 s, +-25 %
                await asyncio.sleep(min(5.0, 0.25 * 2**self._retry) * random.uniform(0.75, 1.25))
                self._retry = min(self._retry + 1, 6)
            first = False
            url, self._next = self._next or self.urls[self._index % len(self.urls)], None
            try:
                await self._session(url)
            except Exception:
                self.failed_connects += 1
                if not self.page_backoff:
                    await asyncio.sleep(0.02)
            self._index += 1

    async def _session(self, url: str) -> None:
        """One connection: hello, subscribe (resuming), then every frame until the socket closes."""
        import asyncio

        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        from livepanel import protocol

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        req = HTTPRequest(url.replace("http://", "ws://") + "/api/v1/socket", headers=headers, connect_timeout=2)
        conn = await websocket_connect(req, max_message_size=1 << 30)
        try:
            hello = protocol.unpackb(await asyncio.wait_for(conn.read_message(), 5))
            self._conn, self._retry = conn, 0
            with self.lock:
                self.stores.append(hello["store"])
                resume = [
                    {"env": e, "seq": self.seqs[e], "store": self.store}
                    if e in self.seqs and self.store
                    else {"env": e}
                    for e in self.envs
                ]
                self.store = hello["store"]
            await conn.write_message(protocol.packb({"type": "subscribe", "envs": resume, "width": self.width}), True)
            with self.lock:
                self.connects.append((time.monotonic(), url))
            while True:
                frame = await conn.read_message()
                if frame is None:
                    break
                self._handle(protocol.decode_arrays(protocol.unpackb(frame)), time.monotonic())
            with self.lock:
                self.closes.append(time.monotonic())
        finally:
            self._conn = None
            stream = conn.protocol.stream if conn.protocol is not None else None
            conn.close()
            if stream is not None:
                stream.close()

    def _handle(self, msg: dict, now: float) -> None:
        kind, env = msg.get("type"), msg.get("env")
        with self.lock:
            if kind == "snapshot":
                self.seqs[env] = msg["seq"]
                self.events.append(("snapshot", env, msg["seq"], now, msg))
            elif kind == "change":
                seq, last = msg["seq"], self.seqs.get(env)
                if last is None:
                    self.problems.append(f"{env}: change {seq} before any snapshot")
                elif seq <= last:
                    self.problems.append(f"{env}: change {seq} again after {last} (a duplicate)")
                    return
                elif seq != last + 1:
                    self.problems.append(f"{env}: change {seq} after {last} (a gap)")
                self.seqs[env] = seq
                self.events.append(("change", env, seq, now, msg))
            elif kind == "window":
                self.seqs[env] = max(self.seqs.get(env, 0), msg["seq"])
                self.events.append(("window", env, msg["seq"], now, msg))
            elif kind == "error":
                self.problems.append(f"error frame: {msg.get('message')}")

    # -- the test's side -------------------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> LiveViewer:
        """Start, and return once each env has its first snapshot."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if all(e in self.seqs for e in self.envs):
                    return self
            time.sleep(0.01)
        self.close()
        raise TimeoutError(f"viewer on {self.urls[0]}: no snapshot of {self.envs} in {timeout} s")

    def seq(self, env: str) -> int:
        with self.lock:
            return self.seqs.get(env, -1)

    def changes(self, env: str) -> list[tuple[int, float, dict]]:
        """(seq, arrival, op) of each change of `env` received, in order."""
        with self.lock:
            return [(s, t, m["op"]) for k, e, s, t, m in self.events if k == "change" and e == env]

    def snapshots(self, env: str) -> list[tuple[int, float]]:
        with self.lock:
            return [(s, t) for k, e, s, t, _ in self.events if k == "snapshot" and e == env]

    def wait_seq(self, env: str, seq: int, timeout: float = 15.0) -> bool:
        """Poll until this viewer has applied `seq` of `env` (True), or `timeout` passed (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.seq(env) >= seq:
                return True
            time.sleep(0.01)
        return False

    def move(self, url: str) -> None:
        """Close the socket and reconnect to `url` (then on along the list), resuming."""
        self._next = url
        conn, loop = self._conn, self._loop
        if conn is not None and loop is not None:
            loop.call_soon_threadsafe(conn.close)

    def close(self) -> None:
        self._stop = True
        conn, loop = self._conn, self._loop
        if conn is not None and loop is not None:
            loop.call_soon_threadsafe(conn.close)
        self._thread.join(10)
