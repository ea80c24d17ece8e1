"""Live updates over the websocket: snapshot, changes in order, resume, slow viewers."""

from __future__ import annotations

import asyncio
import socket
import time

import numpy as np
from wire import Socket, arun, line_op, send_ops


def is_type(kind: str, env: str | None = None):
    return lambda m: m["type"] == kind and (env is None or m.get("env") == env)


async def post(url: str, ops: list, **kw):
    return await asyncio.to_thread(send_ops, url, ops, **kw)


def test_snapshot_then_changes_in_order(server):
    async def run():
        await post(server.url, [line_op("e", "loss", [0, 1], [1.0, 0.9])])
        sock = await Socket(server.url).connect()
        hello = await sock.recv()
        assert hello["type"] == "hello" and hello["envs"][0]["name"] == "e"
        await sock.subscribe([{"env": "e"}], width=800)
        snap = await sock.until(is_type("snapshot"))
        assert snap["seq"] == 1 and snap["windows"][0]["traces"][0]["n"] == 2
        for i in range(2, 7):
            await post(server.url, [line_op("e", "loss", [i], [1.0 / i])], seq=i)
        changes = [await sock.until(is_type("change")) for _ in range(5)]
        assert [c["seq"] for c in changes] == [2, 3, 4, 5, 6]
        assert changes[0]["op"]["x"].tolist() == [2.0] and len(changes[0]["op"]["t"]) == 1
        await post(server.url, [line_op("new", "w", [1], [1])], seq=7)
        envs = await sock.until(is_type("envs"))
        assert {e["name"] for e in envs["envs"]} == {"e", "new"}
        sock.close()

    arun(run())


def test_two_viewers_see_the_same_update(server):
    async def run():
        socks = [await Socket(server.url).connect() for _ in range(2)]
        for s in socks:
            await s.subscribe([{"env": "e"}])
            await s.until(is_type("snapshot"))
        await post(server.url, [line_op("e", "w", [1], [42.0])])
        for s in socks:
            msg = await s.until(is_type("change"))
            assert msg["op"]["y"].tolist() == [42.0]
            s.close()

    arun(run())


def test_resume_after_disconnect_misses_nothing(server):
    async def run():
        sock = await Socket(server.url).connect()
        hello = await sock.recv()
        await sock.subscribe([{"env": "e"}])
        snap = await sock.until(is_type("snapshot"))
        last = snap["seq"]
        sock.close()
        for i in range(1, 6):
            await post(server.url, [line_op("e", "w", [i], [i])], seq=i)
        sock = await Socket(server.url).connect()
        await sock.recv()
        await sock.subscribe([{"env": "e", "seq": last, "store": hello["store"]}])
        got = [await sock.recv() for _ in range(5)]
        assert [(m["type"], m["seq"]) for m in got] == [("change", s) for s in range(1, 6)]
        sock.close()

    arun(run())


def test_resume_too_far_behind_gets_a_snapshot(server_factory):
    srv = server_factory("--replay-buffer", "2")

    async def run():
        sock = await Socket(srv.url).connect()
        hello = await sock.recv()
        sock.close()
        for i in range(1, 6):
            await post(srv.url, [line_op("e", "w", [i], [i])], seq=i)
        sock = await Socket(srv.url).connect()
        await sock.recv()
        await sock.subscribe([{"env": "e", "seq": 1, "store": hello["store"]}])
        snap = await sock.recv()
        assert snap["type"] == "snapshot" and snap["seq"] == 5
        assert snap["windows"][0]["traces"][0]["n"] == 5
        sock.close()

    arun(run())


def test_resume_across_a_server_restart(server):
    async def before():
        await post(server.url, [line_op("e", "w", [1], [1])])
        sock = await Socket(server.url).connect()
        hello = await sock.recv()
        await sock.subscribe([{"env": "e"}])
        snap = await sock.until(is_type("snapshot"))
        sock.close()
        return hello["store"], snap["seq"]

    store, seq = arun(before())
    server.restart()

    async def after():
        sock = await Socket(server.url).connect()
        assert (await sock.recv())["store"] == store
        await sock.subscribe([{"env": "e", "seq": seq, "store": store}])
        await post(server.url, [line_op("e", "w", [2], [2])], seq=2)
        msg = await sock.recv()
        assert (msg["type"], msg["seq"]) == ("change", seq + 1)
        sock.close()

    arun(after())


def test_stalled_viewer_does_not_hold_up_another(server_factory):
    srv = server_factory("--viewer-queue", "1M")
    n, size = 60, 20_000

    async def run():
        stalled = await Socket(srv.url).connect()
        # a small receive buffer, so that the kernel's (up to 32 MB here) does not absorb the whole backlog
        stalled.conn.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
        await stalled.recv()
        await stalled.subscribe([{"env": "e"}])
        await stalled.until(is_type("snapshot"))
        # From here on the stalled viewer reads nothing: its TCP window and server queue fill up.
        live = await Socket(srv.url).connect()
        await live.recv()
        await live.subscribe([{"env": "e"}])
        await live.until(is_type("snapshot"))
        start = time.monotonic()
        for i in range(1, n + 1):
            x = np.arange(size, dtype="f8") + i * size
            await post(srv.url, [line_op("e", "w", x, np.sin(x))], seq=i)
            msg = await live.until(is_type("change"), timeout=5)
            assert msg["seq"] == i + 0 and len(msg["op"]["x"]) == size
        assert time.monotonic() - start < 60
        # The stalled viewer, reading again, is brought back by a snapshot rather than the whole backlog:
        # its queue was dropped (when it overflowed; perhaps more than once) and a snapshot sent when it
        # drained, then the changes after that snapshot, in order, up to the last one.
        seq, points, resyncs = 0, 0, 0
        while seq != n:
            msg = await stalled.recv(timeout=10)
            if msg["type"] == "snapshot":
                resyncs += 1
                seq, points = msg["seq"], msg["windows"][0]["traces"][0]["n"]
            elif msg["type"] == "change":
                assert msg["seq"] == seq + 1, f"a gap: change {msg['seq']} after seq {seq}"
                seq, points = msg["seq"], points + len(msg["op"]["x"])
        assert resyncs >= 1, "the stalled viewer's queue was never dropped"
        assert points == n * size
        live.close()
        stalled.close()

    arun(run())


def test_env_list_follows_window_counts_and_says_when_each_env_changed(server):
    """The page's env picker shows each env's window count: a window opened in an env the viewer does not
    watch reaches it too (at most about once a second), and the list says when each env last changed."""

    async def run():
        await post(server.url, [line_op("a", "loss", [0], [1.0]), line_op("b", "loss", [0], [1.0])], client="counts-1")
        sock = await Socket(server.url).connect()
        hello = await sock.recv()
        assert {e["name"]: e["windows"] for e in hello["envs"]} == {"a": 1, "b": 1}
        assert all(isinstance(e["updated"], float) for e in hello["envs"])
        await sock.subscribe([{"env": "a"}])
        await sock.until(is_type("snapshot"))
        await post(server.url, [line_op("b", "acc", [0], [0.5])], client="counts-1", seq=2)
        envs = await sock.until(
            lambda m: m["type"] == "envs" and {e["name"]: e["windows"] for e in m["envs"]}["b"] == 2
        )
        assert {e["name"]: e["windows"] for e in envs["envs"]} == {"a": 1, "b": 2}
        sock.close()

    arun(run())
