"""Clients fail over (issue 22, item 4): `Panel(url=[a, b])` moves to the next node when the one in use dies,
sends the same batch again under the same client id and seq, and a node sharing the store applies it once;
reads and the downlink follow; bad URL lists are refused at construction."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time

import numpy as np
import pg
import pytest
from client_helpers import messages, wait_value
from serverproc import ServerProcess, free_port
from wire import Socket, arun, window

import livepanel
from livepanel.client.spool import replay_all
from livepanel.client.transport import resolve_url


def test_a_node_killed_mid_ingest_the_client_carries_on_through_another_on_the_same_database(tmp_path, caplog):
    """Two servers cannot share a PostgreSQL database at once (the store's advisory lock), so: A serves,
    A is SIGKILLed while the client logs, B starts on the same database, and the client goes on through B.
    A batch A committed without its ack reaching the client is sent to B again: a duplicate, applied once."""
    pytest.importorskip("psycopg", reason='needs the PostgreSQL driver: pip install "livepanel[cluster]"')
    if pg.binaries() is None:
        pytest.skip("PostgreSQL is not installed")
    caplog.set_level(logging.WARNING, logger="livepanel.client")
    postgres = pg.PgServer().start()
    db = postgres.new_database()
    a = ServerProcess(tmp_path / "a", store=db).start()
    b = ServerProcess(tmp_path / "b", store=db)  # its port is known, nothing listens there yet
    p = livepanel.Panel([a.url, b.url], env="fo", spool_dir=tmp_path / "spool", max_backoff=0.2, timeout=2)
    got: list[dict] = []
    stop = threading.Event()
    logged = [0]

    def training() -> None:  # logs steadily, never waiting for the network
        while not stop.is_set():
            p.line(logged[0], float(logged[0]), win="w")
            logged[0] += 1
            if logged[0] % 20 == 0:
                time.sleep(0.002)

    writer = threading.Thread(target=training)
    try:
        assert p.url == a.url and p.urls == (a.url, b.url)
        p.line(-1, 0.0, win="clicks")
        p.on("clicks", got.append)  # the downlink, on A first
        wait_value(p._downlink.connected.is_set, what="the downlink on A")
        writer.start()
        wait_value(lambda: logged[0] > 2000, what="points logged before the kill")
        a.kill()  # SIGKILL mid-ingest: a batch may be committed without its ack
        wait_value(lambda: logged[0] > 4000, what="points logged while no node is up")
        b.start()  # A's advisory lock went with its connection
        wait_value(lambda: p.stats["batches"] and p.url == b.url, what="the sender on B")
        wait_value(lambda: logged[0] > 8000, what="points logged through B")
        stop.set()
        writer.join()
        assert p.flush(20)
        n = logged[0]
        x = p.get("w")["traces"][0]["x"]  # a read: from B, the node in use
        np.testing.assert_array_equal(x, np.arange(n))  # every acked point once: none lost, none twice
        assert 2 <= p.stats["retries"] < 200  # backed off after each round of both URLs, not a tight loop
        assert messages(caplog, f"server {a.url} failed") and messages(caplog, f"now sending to {b.url}")
        assert len(messages(caplog, "all unreachable")) == 1

        wait_value(lambda: p._downlink.connects >= 2 and p._downlink.connected.is_set(), what="the downlink on B")
        assert p._downlink.ws_url.startswith(b.url.replace("http", "ws"))

        async def click() -> None:
            sock = await Socket(b.url).connect()
            await sock.subscribe([{"env": "fo"}])
            await sock.send({"type": "event", "env": "fo", "win": "clicks", "event": "key", "key": "k", "code": "KeyK"})
            await asyncio.to_thread(wait_value, lambda: got, 10.0, "the event through B")
            sock.close()

        arun(click())
        assert got[0]["key"] == "k"
    finally:
        stop.set()
        if writer.is_alive():
            writer.join()
        p.close()
        a.kill()
        b.stop()
        postgres.remove()


def test_a_node_down_at_start_the_client_uses_the_next_and_reads_from_it(tmp_path, server_factory):
    down = free_port()  # nothing listens there
    b = server_factory()
    p = livepanel.Panel([f"127.0.0.1:{down}", b.url], env="e", spool_dir=tmp_path / "spool", timeout=2)
    try:
        assert p.url == f"http://127.0.0.1:{down}"  # the first URL until it fails
        p.line([0, 1, 2], [3.0, 4.0, 5.0], win="w")
        assert p.flush(10)
        assert p.url == b.url  # and then the one that took the batch: sticky
        assert p.get("w")["traces"][0]["y"].tolist() == [3.0, 4.0, 5.0]  # read from B
        p.line(3, 6.0, win="w")
        assert p.flush(10) and p.url == b.url and p.stats["retries"] == 1  # stayed on B
    finally:
        p.close()


def test_reads_fail_over_before_any_batch_moved_the_client(tmp_path, server_factory):
    b = server_factory()
    first = livepanel.Panel(b.url, env="r", spool_dir=tmp_path / "s1")
    first.line([0], [7.0], win="w")
    assert first.close()
    p = livepanel.Panel([f"127.0.0.1:{free_port()}", b.url], env="r", spool_dir=tmp_path / "s2", timeout=2)
    try:
        assert p.get("w", flush=False)["traces"][0]["y"].tolist() == [7.0]
    finally:
        p.close()


def test_down_everywhere_the_batches_are_spooled_and_replayed_to_a_node_that_answers(tmp_path, server_factory):
    b = server_factory(start=False)
    a = f"http://127.0.0.1:{free_port()}"
    root = tmp_path / "spool"
    p = livepanel.Panel([a, b.url], env="s", spool_dir=root, timeout=1, max_backoff=0.1, exit_timeout=0.3)
    p.line([0, 1], [1.0, 2.0], win="w")
    assert not p.close(timeout=1)  # nobody answered: kept in the spool
    (meta,) = [json.loads(m.read_text()) for m in root.glob("*/meta.json")]
    assert meta["url"] == a and meta["urls"] == [a, b.url]
    b.start()
    assert replay_all(str(root), None, None) >= 1  # A still down: through B, the next node it recorded
    assert window(b.url, "s", "w")["traces"][0]["y"].tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    "urls, error, text",
    [
        ([], ValueError, "list of server URLs is empty"),
        (["http://127.0.0.1:1", "ftp://127.0.0.1:2"], ValueError, "url[1]: url must look like"),
        (["http://127.0.0.1:1", ""], ValueError, "url[1] must be a server URL"),
        (["http://127.0.0.1:1", 5], ValueError, "url[1] must be a server URL"),
        (["http://127.0.0.1:1", "https://127.0.0.1:2"], ValueError, "mix of http and https"),
        (["127.0.0.1:1", "http://127.0.0.1:1/"], ValueError, "listed twice"),
        ({"http://127.0.0.1:1"}, TypeError, "a list of strings"),
    ],
)
def test_bad_url_lists_are_refused_at_construction(tmp_path, urls, error, text):
    with pytest.raises(error) as refused:
        livepanel.Panel(urls, spool_dir=tmp_path / "spool")
    assert text in str(refused.value)


def test_a_url_list_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEPANEL_URL", "127.0.0.1:1, 127.0.0.1:2")
    p = livepanel.Panel(spool_dir=tmp_path / "spool")
    try:
        assert p.urls == ("http://127.0.0.1:1", "http://127.0.0.1:2")
        assert repr(p) == "Panel(['http://127.0.0.1:1', 'http://127.0.0.1:2'], env='main')"
        assert resolve_url(None) == "http://127.0.0.1:1"  # commands that take one server use the first
    finally:
        p.close(timeout=0)
