"""Several livepanel nodes on one PostgreSQL and one Redis, nginx in front (issue 22, items 2, 4 and 7).

End to end with the real engines (tests/clusterproc.py): the Python client as a user runs it and websocket
viewers as the page is one. Writers on every node and viewers on every node see one order; a node
SIGKILLed mid-ingest loses and doubles nothing and its clients and viewers carry on through the others;
PostgreSQL restarted mid-ingest: clients keep their batches, then everything arrives once; a viewer
resumes on another node from its last seq; nodes listen only for the envs their viewers watch; bad
`--hub` settings are refused at start with a message.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pg
import pytest
from client_helpers import wait_for, wait_value
from clusterproc import Cluster, LiveViewer
from nginxproc import nginx_path
from serverproc import ServerProcess, free_port
from test_alerts import delivered, loss_then_nan, send_in_steps
from wire import Socket, arun, get, line_op, send_ops

import livepanel


def require_engines() -> None:
    """Skip without PostgreSQL, Redis, nginx or the drivers; in CI (CI=true: .ci/setup installs them) fail."""
    missing = [
        what
        for what, ok in (
            ("PostgreSQL (apt-get install postgresql)", pg.binaries() is not None),
            ("redis-server (apt-get install redis-server)", shutil.which("redis-server") is not None),
            ("nginx (apt-get install nginx-light)", nginx_path() is not None),
            ('psycopg (pip install "livepanel[cluster]")', _importable("psycopg")),
            ('redis (pip install "livepanel[cluster]")', _importable("redis")),
        )
        if not ok
    ]
    if missing:
        reason = "needs " + ", ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """Three nodes, nginx in front: shared by the tests that leave every part running."""
    require_engines()
    c = Cluster(tmp_path_factory.mktemp("cluster"), 3).start()
    yield c
    c.stop()


@pytest.fixture
def fresh(tmp_path):
    """Three nodes, nginx in front, for a test that kills or restarts a part."""
    require_engines()
    c = Cluster(tmp_path / "cluster", 3).start()
    yield c
    c.stop()


class Training(threading.Thread):
    """A training loop: logs point k (x = k, y = k) to `win`, never waiting for the network, until stopped."""

    def __init__(self, panel: livepanel.Panel, win: str, limit: int = 1_000_000, x0: float = 0.0, pause: float = 0.002):
        super().__init__(daemon=True)
        self.panel, self.win, self.limit, self.x0, self.pause = panel, win, limit, x0, pause
        self.logged = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set() and self.logged < self.limit:
            self.panel.line(self.x0 + self.logged, float(self.logged), win=self.win)
            self.logged += 1
            if self.logged % 20 == 0:
                time.sleep(self.pause)  # a step of training: batches interleave with the other writers'

    def finish(self) -> int:
        self.halt.set()
        self.join(10)
        return self.logged


def env_seq(url: str, env: str) -> int:
    status, answer = get(url, "/api/v1/envs")
    assert status == 200, answer
    return next((e["seq"] for e in answer["envs"] if e["name"] == env), 0)


def xs(url: str, env: str, win: str) -> np.ndarray:
    """The x values of a window's first trace, read from one node at full resolution."""
    status, state = get(url, "/api/v1/window", env=env, win=win)
    if status != 200:
        return np.array([])
    return np.asarray(state["traces"][0]["x"])


def same_everywhere(urls: list[str], env: str, win: str, expected: np.ndarray, timeout: float = 15.0) -> None:
    """Every node serves exactly `expected` as the window's x values (each node applies the others' changes)."""
    for url in urls:
        ok = wait_for(lambda u=url: xs(u, env, win).size == expected.size, timeout)
        got = xs(url, env, win)
        assert ok, f"{url}: {env}/{win} has {got.size} points, expected {expected.size}"
        np.testing.assert_array_equal(got, expected, err_msg=f"{url}: {env}/{win}")


def check_viewer(viewer: LiveViewer, env: str, final: int, timeout: float = 15.0) -> None:
    assert viewer.wait_seq(env, final, timeout), f"viewer {viewer.urls}: at seq {viewer.seq(env)} of {final}"
    assert not viewer.problems, viewer.problems[:5]


def digest(seq: int, op: dict) -> tuple:
    """What identifies a change: its seq, operation, window, trace and x values."""
    return seq, op.get("op"), op.get("win"), op.get("name"), tuple(np.asarray(op.get("x", [])).tolist())


def appended_x(viewer: LiveViewer, env: str, win: str) -> np.ndarray:
    """The x values of the line appends to `win` a viewer got as changes, in env order."""
    parts = [np.asarray(op["x"]) for _, _, op in viewer.changes(env) if op.get("op") == "line" and op["win"] == win]
    return np.concatenate(parts) if parts else np.array([])


# -- 1. one order, every node ----------------------------------------------------------------------------


def test_writers_and_viewers_on_every_node_share_one_order(live, tmp_path):
    """A writer on each node and one through nginx append to one shared trace and to one window each; a
    viewer on each node (and one through nginx) sees every change once, in one order, the same for all;
    every node then serves the same windows, equal to what was sent."""
    env, n = "order", 300
    viewers = [LiveViewer(u, [env]).start() for u in [*live.urls, live.url]]
    urls = [*live.urls, live.url]
    panels = [livepanel.Panel(u, env=env, spool_dir=tmp_path / f"spool{i}") for i, u in enumerate(urls)]
    try:
        shared = [Training(p, "shared", n, x0=i * 100_000, pause=0.02) for i, p in enumerate(panels)]
        own = [Training(p, f"own{i}", n, pause=0.02) for i, p in enumerate(panels)]
        for t in shared + own:
            t.start()
        for t in shared + own:
            t.join(30)
            assert t.logged == n
        for p in panels:
            assert p.flush(20), p.stats
    finally:
        for p in panels:
            p.close()
    try:
        final = wait_value(lambda: env_seq(live.urls[0], env) or None, what="the env's seq")
        wait_for(lambda: len({env_seq(u, env) for u in live.urls}) == 1 and env_seq(live.urls[0], env) >= final, 10)
        final = env_seq(live.urls[0], env)
        assert [env_seq(u, env) for u in live.urls] == [final] * 3, "the nodes disagree on the env's seq"
        for v in viewers:
            check_viewer(v, env, final)
        # one snapshot each (taken before the first write), then every change once, in the same order
        for v in viewers:
            assert len(v.snapshots(env)) == 1 and v.snapshots(env)[0][0] == 0, v.snapshots(env)
            assert [s for s, _, _ in v.changes(env)] == list(range(1, final + 1))
        order = [[digest(s, op) for s, _, op in v.changes(env)] for v in viewers]
        for other in order[1:]:
            assert other == order[0], "two viewers saw the env's changes in different orders"
        # the shared trace: every point once, in the order the viewers saw, on every node
        seen = appended_x(viewers[0], env, "shared")
        sent = np.concatenate([i * 100_000 + np.arange(n, dtype="f8") for i in range(len(urls))])
        np.testing.assert_array_equal(np.sort(seen), sent)
        writer = seen // 100_000
        assert np.count_nonzero(np.diff(writer)) >= 8, "the writers' batches did not interleave: a weak test"
        same_everywhere(live.urls, env, "shared", seen)
        for i in range(len(urls)):
            same_everywhere(live.urls, env, f"own{i}", np.arange(n, dtype="f8"))
    finally:
        for v in viewers:
            v.close()


# -- 2. a node killed mid-ingest ---------------------------------------------------------------------------


def test_a_node_killed_mid_ingest_loses_and_doubles_nothing(fresh, tmp_path):
    """Panel(url=[n0, n1, n2]) and a Panel through nginx log while n0 is SIGKILLed: the batch n0 was
    committing is retried on another node and applied once; both carry on; the viewers on the other nodes
    carry on, and n0's viewer reconnects to another node and resumes without a gap."""
    c, env = fresh, "killed"
    n0, n1, n2 = c.urls
    on_killed = LiveViewer([n0, n1, n2], [env]).start()
    others = [LiveViewer(n1, [env]).start(), LiveViewer(n2, [env]).start()]
    listed = livepanel.Panel([n0, n1, n2], env=env, spool_dir=tmp_path / "s1", max_backoff=0.2, timeout=2)
    balanced = livepanel.Panel(c.url, env=env, spool_dir=tmp_path / "s2", max_backoff=0.2, timeout=2)
    loops = [Training(listed, "listed"), Training(balanced, "balanced")]
    try:
        for t in loops:
            t.start()
        wait_value(lambda: loops[0].logged > 2000 and listed.stats["batches"] > 5, what="ingest through n0")
        killed_at = time.monotonic()
        c.kill(0)  # mid-ingest: a batch may be committed on n0 without its ack reaching the client
        wait_value(lambda: listed.url != n0 and listed.stats["batches"] > 20, 20, "the client on another node")
        start = loops[0].logged
        wait_value(lambda: loops[0].logged > start + 2000, what="points logged after the kill")
        counts = [t.finish() for t in loops]
        assert listed.flush(20) and balanced.flush(20), (listed.stats, balanced.stats)
    finally:
        for t in loops:
            t.halt.set()
        listed.close(timeout=5)
        balanced.close(timeout=5)
    try:
        for win, n in zip(("listed", "balanced"), counts, strict=True):
            same_everywhere([n1, n2], env, win, np.arange(n, dtype="f8"))  # every acked point, once
        final = env_seq(n1, env)
        assert env_seq(n2, env) == final
        for v in [*others, on_killed]:
            check_viewer(v, env, final)
        for v in others:  # never disconnected: every change once, the points of both writers complete
            assert len(v.connects) == 1
            for win, n in zip(("listed", "balanced"), counts, strict=True):
                np.testing.assert_array_equal(appended_x(v, env, win), np.arange(n, dtype="f8"))
        assert len(on_killed.connects) >= 2 and on_killed.connects[-1][1] != n0
        assert on_killed.connects[-1][0] - killed_at < 5, "the viewer of the killed node took over 5 s to resume"
        # n0 started again reads everything back from PostgreSQL
        c.revive(0)
        same_everywhere(c.urls, env, "listed", np.arange(counts[0], dtype="f8"))
    finally:
        for v in [*others, on_killed]:
            v.close()


# -- 3. PostgreSQL restarted mid-ingest --------------------------------------------------------------------


def test_postgresql_restarted_during_ingest_then_everything_arrives_once(fresh, tmp_path):
    """While PostgreSQL is stopped and started again on its port, writers (on a node, and through nginx)
    keep logging: the nodes answer 503, the clients keep their batches and retry, and afterwards every
    point is stored once on every node; viewers on the other nodes end up with all of it, gap-free."""
    c, env = fresh, "pgrestart"
    viewers = [LiveViewer(c.urls[1], [env]).start(), LiveViewer(c.urls[2], [env]).start()]
    panels = [
        livepanel.Panel(c.urls[0], env=env, spool_dir=tmp_path / "s1", max_backoff=0.2, timeout=5),
        livepanel.Panel(c.url, env=env, spool_dir=tmp_path / "s2", max_backoff=0.2, timeout=5),
    ]
    loops = [Training(p, f"w{i}") for i, p in enumerate(panels)]
    try:
        for t in loops:
            t.start()
        wait_value(lambda: min(t.logged for t in loops) > 1000, what="ingest before the restart")
        c.restart_postgres(down=1.0)
        start = [t.logged for t in loops]
        wait_value(lambda: all(t.logged > s + 2000 for t, s in zip(loops, start, strict=True)), what="after it")
        counts = [t.finish() for t in loops]
        for p in panels:
            assert p.flush(30), p.stats
        assert sum(p.stats["retries"] for p in panels) > 0, "no batch was refused while PostgreSQL was down"
    finally:
        for t in loops:
            t.halt.set()
        for p in panels:
            p.close(timeout=5)
    try:
        for i, n in enumerate(counts):
            same_everywhere(c.urls, env, f"w{i}", np.arange(n, dtype="f8"))
        final = env_seq(c.urls[0], env)
        for v in viewers:
            check_viewer(v, env, final)
            assert len(v.connects) == 1, "a page was disconnected while PostgreSQL was away"
    finally:
        for v in viewers:
            v.close()


def test_reads_go_on_from_memory_while_postgresql_is_away(fresh, tmp_path):
    c, env = fresh, "pgaway"
    with livepanel.Panel(c.urls[0], env=env, spool_dir=tmp_path / "spool") as panel:
        panel.line([0, 1], [1.0, 2.0], win="w")
        assert panel.flush(10)
    c.pg.stop()
    try:
        for url in c.urls:
            assert get(url, "/api/v1/window", env=env, win="w")[0] == 200
            assert get(url, "/api/v1/envs")[0] == 200
    finally:
        c.pg.start()


# -- 4. a viewer resumes on another node ---------------------------------------------------------------------


def test_a_viewer_resumes_on_another_node_from_its_last_seq(live, tmp_path):
    """A viewer of node A with its last seq subscribes on node B with the store id and seq, as the page
    does after a reconnect: it gets exactly the changes it missed (or a snapshot), never one twice."""
    env = "resume"
    a, b, writer_node = live.urls
    with livepanel.Panel(writer_node, env=env, spool_dir=tmp_path / "spool") as panel:

        def write(k0: int, n: int) -> int:
            for k in range(k0, k0 + n):
                panel.line(k, float(k), win="w")
                assert panel.flush(10)

            def agreed() -> int | None:
                seqs = {env_seq(u, env) for u in (a, b, writer_node)}
                return seqs.pop() if len(seqs) == 1 else None

            return wait_value(agreed, what="the nodes agreeing on the env's seq")

        write(0, 20)

        async def scenario() -> tuple[list[tuple[int, list[dict]]], str, str, int]:
            first = await Socket(a).connect()
            hello_a = await first.recv()
            await first.subscribe([{"env": env}])
            snap = await first.until(lambda m: m["type"] == "snapshot")
            last = snap["seq"]
            await asyncio.to_thread(write, 20, 15)  # live changes on A, then A is left
            while last < env_seq(a, env):
                last = (await first.until(lambda m: m["type"] == "change"))["seq"]
            first.close()
            current = await asyncio.to_thread(write, 35, 25)  # missed while away
            got = []
            for since in (last, 1):  # just behind, and far behind
                second = await Socket(b).connect()
                hello_b = await second.recv()
                await second.subscribe([{"env": env, "seq": since, "store": hello_a["store"]}])
                msgs = [await second.until(lambda m: m["type"] in ("change", "snapshot", "window"))]
                while msgs[-1]["seq"] < current:
                    msgs.append(await second.until(lambda m: m["type"] in ("change", "snapshot", "window")))
                with pytest.raises(asyncio.TimeoutError):  # and nothing more: no duplicate after the last
                    await second.until(lambda m: m["type"] in ("change", "snapshot", "window"), timeout=0.5)
                second.close()
                got.append((since, msgs))
            return got, hello_a["store"], hello_b["store"], current

        got, store_a, store_b, current = arun(scenario())
    assert store_a == store_b, "two nodes on one database must give one store id, or no page could resume"
    for since, msgs in got:
        if msgs[0]["type"] == "snapshot":  # the node could not replay: a snapshot, then what follows
            assert msgs[0]["seq"] <= current
            seqs = [m["seq"] for m in msgs[1:]]
            assert seqs == list(range(msgs[0]["seq"] + 1, current + 1))
        else:
            assert [m["seq"] for m in msgs] == list(range(since + 1, current + 1)), f"resume from {since}"
            assert all(m["type"] == "change" for m in msgs)
    # just behind: replayed, not a snapshot (the missed changes are few and recent)
    assert got[0][1][0]["type"] == "change", "a viewer one burst behind got a snapshot, not the changes it missed"


def test_a_viewer_with_another_store_id_or_a_seq_ahead_gets_a_snapshot(live):
    async def scenario(store: str, seq: int) -> dict:
        sock = await Socket(live.urls[1]).connect()
        try:
            await sock.recv()
            await sock.subscribe([{"env": "resume2", "seq": seq, "store": store}])
            return await sock.until(lambda m: m["type"] in ("change", "snapshot"))
        finally:
            sock.close()

    status, _ = get(live.urls[0], "/api/v1/health")
    assert status == 200
    assert arun(scenario("0123456789abcdef", 0))["type"] == "snapshot"  # another store: its seqs mean nothing
    assert arun(scenario(get(live.urls[0], "/api/v1/envs")[1]["store"], 10**6))["type"] == "snapshot"


# -- 5. nodes listen only for the envs their viewers watch -------------------------------------------------


def redis_channels(c: Cluster) -> dict[str, int]:
    """Each Redis pub/sub channel and how many connections listen on it (PUBSUB CHANNELS, NUMSUB)."""
    import redis

    client = redis.Redis.from_url(c.hub_url)
    try:
        names = [n.decode() if isinstance(n, bytes) else n for n in client.pubsub_channels()]
        return {(k.decode() if isinstance(k, bytes) else k): v for k, v in client.pubsub_numsub(*names)}
    finally:
        client.close()


def test_nodes_listen_only_for_the_envs_their_viewers_watch(live, tmp_path):
    env = "watched-only"
    with livepanel.Panel(live.urls[0], env=env, spool_dir=tmp_path / "spool") as panel:
        panel.line(0, 1.0, win="w")
        assert panel.flush(10)

        def listeners() -> int:
            return sum(n for name, n in redis_channels(live).items() if env in name)

        assert listeners() == 0, redis_channels(live)  # written, watched by no one: no node listens
        assert all(name.startswith("lp:") for name in redis_channels(live)), redis_channels(live)
        viewer = LiveViewer(live.urls[1], [env]).start()
        try:
            assert wait_for(lambda: listeners() == 1, 10), redis_channels(live)  # node 1 only
            second = LiveViewer(live.urls[2], [env]).start()
            try:
                assert wait_for(lambda: listeners() == 2, 10), redis_channels(live)
                panel.line(1, 2.0, win="w")
                assert panel.flush(10)
                final = env_seq(live.urls[0], env)
                check_viewer(viewer, env, final)
                check_viewer(second, env, final)
            finally:
                second.close()
            assert wait_for(lambda: listeners() == 1, 10), redis_channels(live)
        finally:
            viewer.close()
        assert wait_for(lambda: listeners() == 0, 10), redis_channels(live)  # nobody watches: unsubscribed


def test_a_batch_sent_again_to_another_node_is_acknowledged_as_a_duplicate(live):
    """The retry of a batch a node committed (its ack lost) lands on another node: applied once."""
    env, body = "retried", [line_op("retried", "w", [0, 1, 2], [1.0, 2.0, 3.0])]
    first = send_ops(live.urls[0], body, client="retry-client", seq=1)
    assert first == (200, {"ok": True, "seq": 1, "duplicate": False}), first
    for url in (live.urls[1], live.urls[2], live.url):
        again = send_ops(url, body, client="retry-client", seq=1)
        assert again == (200, {"ok": True, "seq": 1, "duplicate": True}), (url, again)
    assert get(live.urls[2], "/api/v1/clients", client="retry-client") == (200, {"client": "retry-client", "seq": 1})
    same_everywhere(live.urls, env, "w", np.array([0.0, 1.0, 2.0]))


# -- Redis lost and back ---------------------------------------------------------------------------------


def test_redis_lost_during_ingest_writes_go_on_and_viewers_catch_up(live, tmp_path):
    """Redis is killed while a writer logs on node 0: batches are still committed (PostgreSQL decides), the
    viewer on node 0 still gets them live, and once Redis is back (empty: nothing is kept) the viewers of the
    other nodes catch up from the log, gap-free; reads on every node were current all along."""
    env = "redis-lost"
    viewers = [LiveViewer(u, [env]).start() for u in live.urls]
    panel = livepanel.Panel(live.urls[0], env=env, spool_dir=tmp_path / "spool", max_backoff=0.2, timeout=5)
    loop = Training(panel, "w")
    try:
        loop.start()
        wait_value(lambda: panel.stats["batches"] > 5, what="ingest before Redis goes")
        live.redis.stop(signal.SIGKILL)
        before = panel.stats["batches"]
        wait_value(lambda: panel.stats["batches"] > before + 10, what="batches acknowledged without Redis")
        mid = env_seq(live.urls[0], env)
        assert viewers[0].wait_seq(env, mid), "the writer's node stopped showing its own changes"
        for url in live.urls[1:]:  # a read catches up from PostgreSQL
            assert env_seq(url, env) >= mid
        late = LiveViewer(live.urls[2], [env]).start()  # a page that subscribes meanwhile: from PostgreSQL too
        late.close()
        assert late.snapshots(env)[0][0] >= mid
        live.redis.start()
        start = loop.logged
        wait_value(lambda: loop.logged > start + 1000, what="points logged with Redis back")
        n = loop.finish()
        assert panel.flush(20), panel.stats
    finally:
        loop.halt.set()
        panel.close(timeout=5)
    try:
        same_everywhere(live.urls, env, "w", np.arange(n, dtype="f8"))
        final = env_seq(live.urls[0], env)
        for v in viewers:
            check_viewer(v, env, final, timeout=20)
            assert len(v.connects) == 1, "a viewer was disconnected"
    finally:
        for v in viewers:
            v.close()


# -- 6. bad settings are refused at start --------------------------------------------------------------------


def serve(tmp_path: Path, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "livepanel", "serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "d")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEPANEL_")}
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.parametrize(
    ("store", "hub", "message"),
    [
        ("sqlite", "redis://127.0.0.1:6379/0", "postgresql"),
        ("memory", "redis://127.0.0.1:6379/0", "postgresql"),
        ("PG", "http://127.0.0.1:6379/0", "redis://"),
        ("PG", "redis://", "redis://"),
        ("PG", "CLOSED", "redis"),
    ],
    ids=["hub-on-sqlite", "hub-on-memory", "not-redis", "no-host", "unreachable"],
)
def test_bad_hub_settings_are_refused_at_start(live, tmp_path, store, hub, message):
    if store == "PG":
        store = live.db
    if hub == "CLOSED":
        hub = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    t0 = time.monotonic()
    done = serve(tmp_path, "--store", store, "--hub", hub)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert message in output.lower() and "hub" in output.lower(), output
    assert "Traceback" not in output, output
    assert time.monotonic() - t0 < 20


def test_a_single_server_and_nodes_never_share_a_database(live, tmp_path):
    done = serve(tmp_path, "--store", live.db)  # the nodes hold it: a server without --hub is refused
    assert done.returncode != 0 and "--hub" in done.stdout + done.stderr, done.stdout + done.stderr
    other = live.pg.new_database()
    single = ServerProcess(tmp_path / "single", store=other).start()
    try:
        done = serve(tmp_path, "--store", other, "--hub", live.hub_url)
        output = done.stdout + done.stderr
        assert done.returncode != 0 and "without --hub" in output and "Traceback" not in output, output
    finally:
        single.stop()


def test_diagnosis_on_a_node_raises_an_alert_every_node_shows(tmp_path):
    require_engines()
    c = Cluster(tmp_path / "cluster", 2, "--replay-buffer", "4096", nginx=False).start()  # diagnosis on
    try:
        a, b = c.urls[:2]
        x, y = loss_then_nan()
        acks = send_in_steps(a, x, y)
        alerts = delivered(a, acks)
        assert [(al["kind"], al["win"], al["step"]) for al in alerts] == [("nonfinite", "loss", 200.0)], alerts
        # stored through the log: the other node lists the same alert, with the same id
        assert wait_for(
            lambda: get(b, "/api/v1/alerts", env="run")[1]["alerts"] == get(a, "/api/v1/alerts", env="run")[1]["alerts"]
        )
        assert [al["id"] for al in get(b, "/api/v1/alerts", env="run")[1]["alerts"]] == [alerts[0]["id"]]
        # and the next problem is raised too (the first alert's own commit holds nothing back)
        more = delivered(a, send_in_steps(a, x, y, env="run2", client="diag-client-2"), "diag-client-2")
        assert [(al["env"], al["kind"]) for al in more] == [("run2", "nonfinite")], more
        assert more[0]["id"] != alerts[0]["id"]
    finally:
        c.stop()
