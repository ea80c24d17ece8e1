"""Events across cluster nodes (issue 22): a Panel's downlink on one node, the page on another, with the real
engines (tests/clusterproc.py: PostgreSQL, Redis, two `livepanel serve --hub` processes). A click on the
page's node reaches the handler once; a properties edit made there reaches the Panel; a downlink that moves
to the page's node gets no event twice; a page still may not send into an env it does not watch; the
relay's event frames reach only the other nodes watching the env and are never kept; bad input is refused.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil

import pytest
from client_helpers import wait_value
from wire import Socket, arun

import livepanel
from livepanel import protocol
from livepanel.protocol import ProtocolError
from livepanel.server.events import Events
from livepanel.server.store import Store

pytest.importorskip("redis", reason='needs the Redis driver: pip install "livepanel[cluster]"')
pytest.importorskip("psycopg", reason='needs the PostgreSQL driver: pip install "livepanel[cluster]"')

from livepanel.server.relay_redis import EVENT_BYTES, RedisRelay  # noqa: E402


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    """Two nodes on one PostgreSQL and one Redis (no nginx: the tests pick the node)."""
    import pg
    from clusterproc import Cluster

    if pg.binaries() is None or shutil.which("redis-server") is None:
        reason = "needs PostgreSQL and redis-server (apt-get install postgresql redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    c = Cluster(tmp_path_factory.mktemp("cluster"), 2, nginx=False).start()
    yield c
    c.stop()


def click(env: str, win: str, x: float) -> dict:
    return {"type": "event", "env": env, "win": win, "event": "click", "x": x, "y": 0.5, "point": None}


async def page(url: str, env: str) -> Socket:
    sock = await Socket(url).connect()
    await sock.subscribe([{"env": env}])
    await sock.until(lambda m: m["type"] == "snapshot" and m["env"] == env)
    return sock


def test_a_click_and_an_edit_on_one_node_reach_the_panel_on_another(nodes, tmp_path):
    a, b = nodes.urls
    panel = livepanel.Panel(a, env="ev", spool_dir=tmp_path / "spool")
    panel.line([0, 1, 2], [1.0, 0.5, 0.25], win="loss")
    props = panel.properties("controls", {"lr": 0.1})
    assert panel.flush()
    got: list[dict] = []
    edits: list[dict] = []
    panel.on("loss", got.append)
    panel.on("controls", edits.append)
    wait_value(panel._downlink.connected.is_set, 20.0, "the downlink on node A")

    async def run():
        sock = await page(b, "ev")
        await sock.send(click("ev", "loss", 1.0))
        await asyncio.to_thread(wait_value, lambda: len(got) >= 1, 15.0, "the click from node B")
        await sock.send({"type": "event", "env": "ev", "win": "loss", "event": "key", "key": "k", "code": "KeyK"})
        await asyncio.to_thread(wait_value, lambda: len(got) >= 2, 15.0, "the key press from node B")
        await sock.send({"type": "edit", "env": "ev", "win": "controls", "id": 0, "value": 0.01})
        await asyncio.to_thread(wait_value, lambda: edits, 15.0, "the edit made on node B")
        # bad input is still refused on node B: an env this page does not watch
        await sock.send(click("other", "loss", 2.0))
        error = await sock.until(lambda m: m["type"] == "error")
        assert "env 'other' is not one this page watches" in error["message"]
        # one more click, after everything: the handler has each event exactly once, in order
        await sock.send(click("ev", "loss", 3.0))
        await asyncio.to_thread(wait_value, lambda: len(got) >= 3, 15.0, "the last click")
        sock.close()

    arun(run())
    assert [(e["event"], e.get("x")) for e in got] == [("click", 1.0), ("key", None), ("click", 3.0)], got
    assert got[0]["env"] == "ev" and got[0]["win"] == "loss" and got[0]["pane"]["kind"] == "line"
    assert props["lr"] == 0.01
    assert [(e["event"], e["name"], e["value"]) for e in edits] == [("property", "lr", 0.01)]
    panel.close()


def test_a_downlink_that_moves_to_the_pages_node_gets_no_event_twice(nodes, tmp_path):
    a, b = nodes.urls
    panel = livepanel.Panel([a, b], env="moved", spool_dir=tmp_path / "spool")
    panel.line([0, 1], [1.0, 2.0], win="w")
    assert panel.flush()
    got: list[dict] = []
    panel.on("w", got.append)
    link = panel._downlink
    wait_value(link.connected.is_set, 20.0, "the downlink on node A")
    assert link.index == 0

    async def run():
        sock = await page(b, "moved")
        await sock.send(click("moved", "w", 1.0))  # kept on node B, relayed to node A
        await asyncio.to_thread(wait_value, lambda: len(got) == 1, 15.0, "the first click")
        connects = link.connects
        nodes.nodes[0].stop()  # node A goes away: the downlink moves to node B with node A's boot
        await asyncio.to_thread(wait_value, lambda: link.connects > connects and link.connected.is_set(), 20.0,
                                "the downlink on node B")  # fmt: skip
        assert link.index == 1
        await sock.send(click("moved", "w", 2.0))
        await asyncio.to_thread(wait_value, lambda: len(got) >= 2, 15.0, "the click after the move")
        sock.close()

    try:
        arun(run())
        assert [e["x"] for e in got] == [1.0, 2.0], got  # node B's kept first click did not come again
    finally:
        panel.close()
        nodes.revive(0)


def test_event_frames_reach_only_the_other_nodes_watching_and_are_never_kept(nodes):
    async def body():
        got: dict[str, list] = {"a": [], "b": [], "c": []}
        relays = {}
        for name, watch in (("a", {"env"}), ("b", {"env"}), ("c", {"elsewhere"})):
            relay = relays[name] = RedisRelay(nodes.hub_url, "events-only")
            await relay.start(
                lambda *_: None, lambda *_: None, lambda: None, on_event=lambda *args, n=name: got[n].append(args)
            )
            relay.watch(watch)
            await relay.settled()
        try:
            relays["a"].publish_event("env", b"one")
            relays["a"].publish_event("env", bytearray(b"two"))
            deadline = asyncio.get_running_loop().time() + 10
            while len(got["b"]) < 2 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
            assert got["b"] == [("env", b"one"), ("env", b"two")]
            assert got["a"] == [] and got["c"] == []  # not back to the sender, not to a node not watching
            assert await relays["b"]._client.exists(relays["b"]._stream("env")) == 0  # nothing kept
            assert relays["a"].stats["events"] == 2 and relays["a"].stats["published"] == 0
            assert relays["b"].stats["events_received"] == 2 and relays["b"].stats["received"] == 0
            with pytest.raises(ValueError, match="env name"):
                relays["a"].publish_event(None, b"x")  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="an event frame is bytes"):
                relays["a"].publish_event("env", "text")  # type: ignore[arg-type]
            with pytest.raises(ValueError, match=f"at most {EVENT_BYTES} bytes"):
                relays["a"].publish_event("env", bytes(EVENT_BYTES + 1))
        finally:
            for relay in relays.values():
                await relay.close()
        relays["a"].publish_event("env", b"late")  # after close: dropped, counted, never raised
        assert relays["a"].stats["events_dropped"] == 1

    arun(body())


def test_a_relayed_event_is_checked_like_a_pages():
    events = Events(Store(None))
    bad = [
        ("e", b"\xc1", "not valid msgpack"),
        ("e", protocol.packb([1]), "must be a map"),
        ("e", protocol.packb({"event": "click"}), "relayed event win must be a string"),
        ("e", protocol.packb({"win": "w", "event": "tap"}), "event must be one of click, key"),
        ("e", protocol.packb({"win": "w", "event": "click", "x": "far"}), "click x (data coordinates)"),
        ("e", "text", "a relayed event is bytes"),
        ("", protocol.packb({"win": "w", "event": "click"}), "relayed event env"),
    ]
    for env, frame, message in bad:
        with pytest.raises(ProtocolError, match=re.escape(message)):
            events.relayed(env, frame)  # type: ignore[arg-type]
    events.relayed("e", protocol.packb({"win": "w", "event": "click", "x": 1, "y": 2, "point": None}))
    assert events.seqs == {}  # no downlink follows the env here: nothing numbered, nothing kept
