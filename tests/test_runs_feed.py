"""The runs feed and a run's colour over the page's socket (issue 19, items 3 and 5): a real server, a real
websocket, the real client. Every row at once, then the rows that changed and the envs gone, at most once a
second; a colour set by a page stored, shared and kept; bad messages answered with an error frame."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from wire import Socket, arun, get, line_op, send_ops

import livepanel
from livepanel.server.hub import Hub
from livepanel.server.runsfeed import FEED_EVERY
from livepanel.server.store import Store


def is_runs(m: dict) -> bool:
    return m["type"] == "runs"


def delta_with(env: str, check=lambda row: True):
    """A predicate: a runs frame of changes whose row for `env` passes `check`."""

    def predicate(m: dict) -> bool:
        if not is_runs(m) or m.get("full"):
            return False
        return any(r["env"] == env and check(r) for r in m["rows"])

    return predicate


async def on_feed(url: str) -> tuple[Socket, dict]:
    sock = await Socket(url).connect()
    assert (await sock.recv())["type"] == "hello"
    await sock.send({"type": "runs", "on": True})
    return sock, await sock.until(is_runs)


async def quiet_for(sock: Socket, seconds: float, predicate) -> list[dict]:
    """The messages that pass `predicate` within `seconds` (for checking that nothing comes)."""
    got, deadline = [], time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            m = await sock.recv(left)
        except TimeoutError:
            break
        if predicate(m):
            got.append(m)
    return got


@pytest.fixture
def panel(server, tmp_path):
    p = livepanel.Panel(server.url, env="feed/a", spool_dir=tmp_path / "spool", max_backoff=0.2)
    yield p
    p.close(timeout=5)


def test_feed_sends_every_row_then_the_changes(server, panel):
    panel.config({"lr": 0.1})
    panel.line(np.arange(5.0), np.linspace(1, 0.5, 5), win="loss")
    send_ops(server.url, [line_op("feed/b", "loss", [0], [3.0])], client="feed-client-b")
    assert panel.flush(10)

    async def run():
        sock, full = await on_feed(server.url)
        assert full["full"] is True
        rows = {r["env"]: r for r in full["rows"]}
        assert set(rows) == {"feed/a", "feed/b"}
        a = rows["feed/a"]
        assert a["config"] == {"lr": 0.1} and a["status"] == "running" and a["steps"] == 4
        assert a["metrics"]["loss"] == {"last": 0.5, "min": 0.5, "max": 1.0, "step": 4.0}
        assert set(a) == {
            "env", "config", "summary", "color", "metrics", "status", "alerts", "steps", "created", "updated"
        }  # fmt: skip

        panel.line([5.0], [0.25], win="loss")  # data: the row follows within a second or so
        frame = await sock.until(delta_with("feed/a", lambda r: r["metrics"]["loss"]["last"] == 0.25), 5)
        assert [r["env"] for r in frame["rows"]] == ["feed/a"] and frame["gone"] == []  # only what changed

        panel.config({"lr": 0.2})  # the run record
        await sock.until(delta_with("feed/a", lambda r: r["config"] == {"lr": 0.2}), 5)
        panel.close()  # finished
        await sock.until(delta_with("feed/a", lambda r: r["status"] == "finished"), 5)

        assert await quiet_for(sock, 2.5 * FEED_EVERY, is_runs) == []  # nothing changed: no frame

        status, _ = send_ops(server.url, [{"op": "delete_env", "env": "feed/b"}], client="feed-client-b", seq=2)
        assert status == 200
        gone = await sock.until(lambda m: is_runs(m) and m.get("gone"), 5)
        assert gone["gone"] == ["feed/b"] and gone["rows"] == []

        await sock.send({"type": "runs", "on": False})  # off: no more frames
        await sock.subscribe([{"env": "feed/c"}])
        await sock.until(lambda m: m["type"] == "snapshot")
        send_ops(server.url, [line_op("feed/c", "loss", [0], [1.0])], client="feed-client-c")
        await sock.until(lambda m: m["type"] == "change" and m["env"] == "feed/c")
        assert await quiet_for(sock, 2.5 * FEED_EVERY, is_runs) == []
        sock.close()

    arun(run())


def test_feed_rows_follow_alerts_and_dismissals(server, tmp_path):
    x = np.arange(300, dtype="f8")
    y = 2.0 * np.exp(-x / 60) + 0.1
    y[200:] = np.nan

    async def run():
        sock, full = await on_feed(server.url)
        assert full["rows"] == []
        with livepanel.Panel(server.url, env="feed/nan", spool_dir=str(tmp_path / "spool")) as p:
            for i in range(0, 300, 10):
                p.line(x[i : i + 10], y[i : i + 10], win="loss", name="train")
            assert p.flush(30)
            await sock.until(delta_with("feed/nan", lambda r: r["alerts"] == 1), 10)
            [alert] = p.alerts()
            p.dismiss(alert["id"])
            await sock.until(delta_with("feed/nan", lambda r: r["alerts"] == 0), 10)
        sock.close()

    arun(run())


def test_feed_messages_are_checked(server):
    async def run():
        sock = await Socket(server.url).connect()
        await sock.recv()
        errors = []
        for bad in (
            {"type": "runs", "on": 1},
            {"type": "runs"},
            {"type": "runs", "on": "yes"},
            {"type": "runs", "on": True, "filter": "lr < 1"},
        ):
            await sock.send(bad)
            errors.append((await sock.until(lambda m: m["type"] == "error"))["message"])
        assert errors[0] == "runs on must be true or false, got 1"
        assert errors[1] == "runs on must be true or false, got None"
        assert "runs on must be true or false" in errors[2]
        assert errors[3] == "runs: unknown field(s) 'filter'"
        await sock.send({"type": "runs", "on": True})  # the socket still works
        assert (await sock.until(is_runs))["full"] is True
        sock.close()

    arun(run())


def test_a_running_run_turns_stale_by_time_alone():
    """In process (a real store and hub, a short staleness): only time passes, and the row goes out."""

    async def run():
        store = Store(None)
        hub = Hub(store)
        hub.runs.stale_after = 1.5
        frames: list[dict] = []

        async def write(frame: bytes) -> None:
            from livepanel import protocol

            frames.append(protocol.unpackb(frame))

        viewer = hub.connect(write)
        await store.ingest("stale-client", 1, [_line("s/a"), _line("s/b")])
        hub.runs.start(viewer)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(f["type"] == "runs" and f.get("full") for f in frames):
            await asyncio.sleep(0.02)
        [full] = [f for f in frames if f["type"] == "runs"]
        assert {r["env"]: r["status"] for r in full["rows"]} == {"s/a": "running", "s/b": "running"}
        while time.monotonic() < deadline and not any(f["type"] == "runs" and not f.get("full") for f in frames):
            await asyncio.sleep(0.02)
        [delta] = [f for f in frames if f["type"] == "runs" and not f.get("full")]
        assert sorted((r["env"], r["status"]) for r in delta["rows"]) == [("s/a", "stale"), ("s/b", "stale")]
        hub.close()
        assert hub.runs._timer is None  # no viewer on the feed: no periodic check

    arun(run())


def _line(env: str) -> dict:
    from livepanel import protocol

    return protocol.validate_op(protocol.unpackb(protocol.packb(line_op(env, "w", [0.0], [1.0]))))


# ------------------------------------------------------------ a run's colour from a page


def runs_by_env(url: str) -> dict[str, dict]:
    status, body = get(url, "/api/v1/runs")
    assert status == 200, body
    return {r["env"]: r for r in body["runs"]}


def test_a_page_sets_a_run_colour_for_everyone_and_it_is_kept(server):
    send_ops(server.url, [line_op("c/a", "loss", [0, 1], [1.0, 0.5])], client="colour-client-a")
    updated = runs_by_env(server.url)["c/a"]["updated"]

    async def run():
        other, _ = await on_feed(server.url)
        await other.subscribe([{"env": "c/a"}])
        await other.until(lambda m: m["type"] == "snapshot")
        sock = await Socket(server.url).connect()
        await sock.recv()
        await sock.send({"type": "run", "env": "c/a", "color": "#ff8800"})
        change = await other.until(lambda m: m["type"] == "change" and m["op"]["op"] == "run")
        assert change["op"]["run"]["color"] == "#ff8800"
        await other.until(delta_with("c/a", lambda r: r["color"] == "#ff8800"), 5)
        sock.close()
        other.close()

    arun(run())
    row = runs_by_env(server.url)["c/a"]
    assert row["color"] == "#ff8800"
    assert row["updated"] == updated and row["status"] == "running"  # a colour is not the run being alive
    server.restart()
    assert runs_by_env(server.url)["c/a"]["color"] == "#ff8800"

    async def reset():
        sock = await Socket(server.url).connect()
        await sock.recv()
        await sock.subscribe([{"env": "c/a"}])
        snap = await sock.until(lambda m: m["type"] == "snapshot")
        assert snap["run"]["color"] == "#ff8800"
        await sock.send({"type": "run", "env": "c/a", "color": None})  # back to the default
        change = await sock.until(lambda m: m["type"] == "change" and m["op"]["op"] == "run")
        assert change["op"]["run"]["color"] is None
        sock.close()

    arun(reset())
    assert runs_by_env(server.url)["c/a"]["color"] is None


@pytest.mark.parametrize(
    "color", ["red", "RebeccaPurple", "#abc", "#aabbccdd", "rgb(10, 20, 30)", "rgba(1,2,3,0.5)", "hsl(120 50% 40%)"]
)
def test_colours_a_page_may_set(server, color):
    send_ops(server.url, [line_op("c/ok", "loss", [0], [1.0])], client="colour-client-ok")

    async def run():
        sock = await Socket(server.url).connect()
        await sock.recv()
        await sock.subscribe([{"env": "c/ok"}])
        await sock.until(lambda m: m["type"] == "snapshot")
        await sock.send({"type": "run", "env": "c/ok", "color": color})
        m = await sock.until(lambda m: m["type"] in ("change", "error"))
        sock.close()
        return m

    m = arun(run())
    assert m["type"] == "change" and m["op"]["run"]["color"] == color


def test_bad_colour_messages_get_an_error_frame_and_the_socket_keeps_working(server):
    send_ops(server.url, [line_op("c/b", "loss", [0], [1.0])], client="colour-client-b")
    cases = [
        ({"color": "javascript:alert(1)"}, "run color 'javascript:alert(1)' is not a colour"),
        ({"color": "url(x.png)"}, "run color 'url(x.png)' is not a colour"),
        ({"color": "red; background: url(x)"}, "is not a colour"),
        ({"color": "notacolour"}, "run color 'notacolour' is not a colour"),
        ({"color": "#12345"}, "is not a colour"),
        ({"color": "x" * 51}, "run color must be a string of 1 to 50 characters or nil"),
        ({"color": 7}, "run color must be a string of 1 to 50 characters or nil, got 7"),
        ({"color": "red", "status": "finished"}, "run: unknown field(s) 'status'"),
        ({"color": "red", "config": {"lr": 1}}, "run: unknown field(s) 'config'"),
        ({}, "run: color is required"),
    ]

    async def run():
        sock = await Socket(server.url).connect()
        await sock.recv()
        got = []
        for fields, _ in cases:
            await sock.send({"type": "run", "env": "c/b", **fields})
            got.append((await sock.until(lambda m: m["type"] == "error"))["message"])
        await sock.send({"type": "run", "env": "c/nowhere", "color": "red"})
        got.append((await sock.until(lambda m: m["type"] == "error"))["message"])
        await sock.subscribe([{"env": "c/b"}])  # still works
        await sock.until(lambda m: m["type"] == "snapshot")
        await sock.send({"type": "run", "env": "c/b", "color": "teal"})
        change = await sock.until(lambda m: m["type"] == "change")
        sock.close()
        return got, change

    got, change = arun(run())
    for message, (_, expected) in zip(got, cases, strict=False):
        assert expected in message, (message, expected)
    assert got[-1] == "run: no env 'c/nowhere'"
    assert change["op"]["run"]["color"] == "teal"
    assert "c/nowhere" not in runs_by_env(server.url)
    assert runs_by_env(server.url)["c/b"]["config"] == {}


def test_a_writer_colour_is_checked_too(server):
    status, body = send_ops(
        server.url, [{"op": "run", "env": "c/w", "color": "expression(alert(1))"}], client="colour-client-w"
    )
    assert status == 400 and "is not a colour" in body["error"]
