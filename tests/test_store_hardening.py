"""The store under hostile or unlucky input: one batch's failure stays its own, one writer cannot grow
the data directory without end or silence another, and a restart gives back what was there."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import msgpack
import numpy as np
import pytest
from wire import Socket, arun, get, line_op, send_ops, window

from livepanel import protocol
from livepanel.server.store import BatchError, Store
from livepanel.server.store.model import TEXT_DROPPED
from livepanel.server.store.persist import Job, Persistence


def checked(ops: list[dict]) -> list[dict]:
    """Operations as the ingest handler hands them to the store (validated, arrays decoded)."""
    batch = protocol.unpackb(protocol.packb({"client": "validate-only", "seq": 1, "ops": ops}))
    return protocol.validate_batch(batch)[2]


def histogram(win: str, step: int) -> dict:
    op = {"op": "histogram", "env": "e", "win": win, "counts": np.array([1, 2]), "edges": np.array([0.0, 1, 2])}
    return dict(checked([dict(op, step=5)])[0], step=step)  # a step validation would refuse, put in after it


def in_store(path: Path, work):
    """Run `await work(store)` against a real SQLite Store in `path`, closed afterwards."""

    async def run():
        store = Store(path)
        try:
            return await work(store)
        finally:
            store.close()

    return arun(run())  # a thread of its own: the browser tests keep a loop in the main thread


def trace_of(store: Store, win: str) -> np.ndarray:
    return store.state.window("e", win).traces[""].arrays()[1]


# ---------------------------------------------------------------- steps in step order


def test_steps_sent_out_of_order_read_the_same_after_a_restart(server):
    """Steps are kept in step order, in memory as on disk (memory once kept them as they came)."""
    for seq, step in enumerate([5, 2, 9, 2], start=1):
        op = {"op": "histogram", "env": "e", "win": "h", "counts": np.array([step]), "edges": np.array([0.0, 1])}
        assert send_ops(server.url, [dict(op, step=step)], seq=seq)[0] == 200
    before = [s["step"] for s in window(server.url, "e", "h")["steps"]]
    assert before == [2, 5, 9]
    server.restart()
    assert [s["step"] for s in window(server.url, "e", "h")["steps"]] == before


# ---------------------------------------------------------------- one batch's failure is its own


def test_a_batch_the_store_cannot_write_is_refused_alone(tmp_path):
    """A step beyond SQLite's integers (2**63) once got past validation, failed in the writer and made every
    later write a 503, even after a restart. Now that batch alone is refused, and memory is as before it."""

    async def work(store: Store):
        await store.ingest("good-writer-1", 1, checked([line_op("e", "loss", [0, 1], [1.0, 0.5])]))
        seq, windows = store.state.seqs["e"], set(store.state.envs["e"].windows)
        bad = [line_op("e", "loss", [2], [0.25]), histogram("h", 2**63)]
        with pytest.raises(BatchError) as refused:
            await store.ingest("bad-writer-1", 1, checked(bad[:1]) + bad[1:])
        assert refused.value.op == 1  # the operation at fault, for a client to drop it and send the rest
        # taken back whole: the line append of the same batch too
        assert store.state.seqs["e"] == seq and set(store.state.envs["e"].windows) == windows
        assert trace_of(store, "loss").tolist() == [1.0, 0.5]
        assert store.clients.get("bad-writer-1") is None
        # everyone else is served, and the trace goes on where it was
        assert await store.ingest("good-writer-2", 1, checked([line_op("e", "loss", [2], [0.1])])) is False
        # the refused seq is free: the same client may send a good batch under it
        assert await store.ingest("bad-writer-1", 1, checked([histogram("h", 3)])) is False

    in_store(tmp_path, work)

    async def reopened(store: Store):
        assert trace_of(store, "loss").tolist() == [1.0, 0.5, 0.1]
        assert list(store.state.window("e", "h").steps) == [3]
        assert store.clients == {"good-writer-1": 1, "good-writer-2": 1, "bad-writer-1": 1}
        assert await store.ingest("good-writer-1", 2, checked([line_op("e", "loss", [3], [0.0])])) is False

    in_store(tmp_path, reopened)


def test_a_refused_batch_leaves_every_kind_of_window_as_it_was(tmp_path):
    """Whatever a batch did before its failing operation (appends, replaces, steps, text, options,
    closes, a deleted env) is taken back: the state reads exactly as before it."""
    image = {"format": "png", "data": b"\x89PNG", "width": 1, "height": 1, "caption": ""}
    setup = [
        line_op("e", "loss", np.arange(5.0), np.arange(5.0), name="a"),
        line_op("e", "loss", [0], [1.0], name="b"),
        {"op": "text", "env": "e", "win": "log", "text": "first\n"},
        {"op": "bar", "env": "e", "win": "bar", "y": np.array([1.0, 2.0]), "labels": ["p", "q"]},
        {"op": "image", "env": "e", "win": "im", "images": [image], "step": 1},
        {"op": "opts", "env": "e", "win": "loss", "opts": {"title": "Loss"}},
        {"op": "layout", "env": "e", "layout": {"loss": {"order": 0, "w": 6, "h": 4}}},
        line_op("other", "w", [0], [0.0]),
    ]
    changes = [
        line_op("e", "loss", [5, 6], [5.0, 6.0], name="a"),
        line_op("e", "loss", [9], [9.0], name="b", update="replace"),
        line_op("e", "loss", [0], [0.0], name="c"),
        {"op": "text", "env": "e", "win": "log", "text": "second\n", "update": "append"},
        {"op": "image", "env": "e", "win": "im", "images": [image], "step": 0},
        {"op": "opts", "env": "e", "win": "loss", "opts": {"title": None, "ylog": True}},
        {"op": "close", "env": "e", "win": "bar"},
        {"op": "layout", "env": "e", "layout": {}},
        {"op": "delete_env", "env": "other"},
        line_op("new", "w", [0], [0.0]),
    ]

    def everything(store: Store) -> tuple:
        state = store.state
        envs = {name: protocol.packb(state.snapshot(name, None)) for name in state.seqs}
        return envs, dict(state.seqs), {n: list(e.windows) for n, e in state.envs.items()}

    async def work(store: Store):
        await store.ingest("w", 1, checked(setup))
        before = everything(store)
        with pytest.raises(BatchError) as refused:
            await store.ingest("w", 2, checked(changes) + [histogram("h", 2**63)])
        assert refused.value.op == len(changes)
        assert everything(store) == before
        await store.ingest("w", 2, checked(changes))  # and the same changes apply as they would have
        return everything(store)

    after = in_store(tmp_path, work)
    assert in_store(tmp_path, lambda store: asyncio.sleep(0, everything(store))) == after


def test_appends_after_a_refused_batch_survive_a_restart(tmp_path):
    """Memory taken back after a refused batch agrees with disk: later appends are read back whole
    (points whose start disagreed with the trace's length were once skipped at start-up)."""

    async def work(store: Store):
        await store.ingest("w", 1, checked([line_op("e", "loss", np.arange(10.0), np.arange(10.0))]))
        with pytest.raises(BatchError):
            await store.ingest(
                "w", 2, checked([line_op("e", "loss", [10, 11], [0, 0])]) + [histogram("h", -(2**63) - 1)]
            )
        for i in range(3, 40):
            await store.ingest("w", i, checked([line_op("e", "loss", [i + 7], [float(i)])]))
        return trace_of(store, "loss").tolist()

    before = in_store(tmp_path, work)
    assert len(before) == 47
    assert in_store(tmp_path, lambda store: asyncio.sleep(0, trace_of(store, "loss").tolist())) == before


def test_a_batch_failing_in_the_writer_fails_alone(tmp_path):
    """A batch the writer cannot commit (here: two alerts with one id) fails alone, with a 400 kind of
    error; batches committed with it or after it are acknowledged and kept."""

    def alert(number: int) -> dict:
        body = {"id": number, "win": "nowhere", "kind": "nan", "message": "NaN"}
        return {"op": "alert", "env": "e", "win": "nowhere", "alert": body}  # made by the server, never sent

    async def work(store: Store):
        line = checked([line_op("e", "loss", [0], [1.0])])
        await store.ingest("writer-1", 1, line)
        results = await asyncio.gather(
            store.ingest("writer-2", 1, checked([line_op("e", "other", [0], [2.0])])),
            store.ingest("writer-3", 1, [alert(7), alert(7)]),
            store.ingest("writer-4", 1, checked([line_op("e", "third", [0], [3.0])])),
            return_exceptions=True,
        )
        assert results[0] is False and results[2] is False
        assert isinstance(results[1], BatchError) and isinstance(results[1], protocol.ProtocolError)
        assert store.clients.get("writer-3") is None
        assert await store.ingest("writer-1", 2, checked([line_op("e", "loss", [1], [0.5])])) is False

    in_store(tmp_path, work)

    async def reopened(store: Store):
        assert trace_of(store, "loss").tolist() == [1.0, 0.5]
        assert trace_of(store, "other").tolist() == [2.0] and trace_of(store, "third").tolist() == [3.0]
        assert store.state.envs["e"].alerts == []
        assert store.clients == {"writer-1": 2, "writer-2": 1, "writer-4": 1}

    in_store(tmp_path, reopened)


def test_a_group_commit_keeps_every_batch_but_the_culprit(tmp_path):
    """Jobs waiting together are committed in one transaction; when it fails, the others are committed
    one by one and only the job at fault reports an error (not a storage failure)."""
    persist = Persistence(tmp_path)
    store_writes = [("env", "e", 1), ("layout", "e", msgpack.packb({"a": 1}))]
    culprit = [("alert", "e", 1, "w", b"x"), ("alert", "e", 1, "w", b"x")]  # the same id twice
    finished = threading.Semaphore(0)
    jobs = [
        Job(store_writes, "c1", 1, lambda job: finished.release()),
        Job(culprit, "c2", 1, lambda job: finished.release()),
        Job([("env", "f", 1), ("layout", "f", msgpack.packb({"b": 2}))], "c3", 1, lambda job: finished.release()),
    ]
    for job in jobs:  # all waiting before the writer starts: one group
        persist.submit(job)
    persist.start()
    for _ in jobs:
        assert finished.acquire(timeout=20)
    assert jobs[0].error is None and jobs[2].error is None
    assert isinstance(jobs[1].error, sqlite3.IntegrityError) and not jobs[1].fatal
    assert persist.failed is None
    persist.close()
    with sqlite3.connect(tmp_path / "livepanel.sqlite3") as db:
        assert db.execute("SELECT client, seq FROM clients ORDER BY client").fetchall() == [("c1", 1), ("c3", 1)]
        assert db.execute("SELECT env FROM envs ORDER BY env").fetchall() == [("e",), ("f",)]
        assert db.execute("SELECT count(*) FROM alerts").fetchone() == (0,)


def test_a_storage_failure_stops_writes_with_503(tmp_path):
    """Only the storage failing (here: the database file replaced by garbage) stops writes; it is a 503,
    and stays one until a restart."""

    async def work(store: Store):
        await store.ingest("w", 1, checked([line_op("e", "loss", [0], [1.0])]))
        store.persist.db.execute("PRAGMA query_only=1")  # the database refuses writes: SQLITE_READONLY
        with pytest.raises(Exception) as failed:
            await store.ingest("w", 2, checked([line_op("e", "loss", [1], [2.0])]))
        assert not isinstance(failed.value, BatchError)
        with pytest.raises(Exception) as again:
            await store.ingest("other", 1, checked([line_op("e", "x", [0], [1.0])]))
        assert "until restarted" in str(again.value)
        store.persist.db.execute("PRAGMA query_only=0")  # so that close can checkpoint

    in_store(tmp_path, work)


# ---------------------------------------------------------------- seqs far ahead


def test_a_seq_far_ahead_is_refused_and_does_not_silence_its_writer(server):
    assert send_ops(server.url, [line_op("e", "loss", [0], [1.0])], client="writer-one", seq=1)[0] == 200
    status, answer = send_ops(server.url, [line_op("e", "loss", [9], [9.0])], client="writer-one", seq=2**63 - 1)
    assert status == 400 and "more than 1000000 above the last one" in answer["error"], answer
    status, answer = send_ops(server.url, [line_op("e", "loss", [1], [2.0])], client="writer-one", seq=2)
    assert status == 200 and answer["duplicate"] is False
    assert window(server.url, "e", "loss")["traces"][0]["y"].tolist() == [1.0, 2.0]
    assert get(server.url, "/api/v1/clients", client="writer-one")[1]["seq"] == 2
    # a gap within the bound is a client's right (refused batches leave one), and so is a new client
    # id starting high (a spool replayed to a server that never saw it)
    assert send_ops(server.url, [line_op("e", "loss", [2], [3.0])], client="writer-one", seq=1_000_002)[0] == 200
    assert send_ops(server.url, [line_op("e", "loss", [3], [4.0])], client="new-writer", seq=10**12)[0] == 200


# ---------------------------------------------------------------- text windows stay bounded


def data_dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def test_text_window_keeps_the_newest_text_and_says_so(server_factory):
    srv = server_factory("--max-text", "8K")

    async def run():
        sock = await Socket(srv.url).connect()
        await sock.subscribe([{"env": "e"}])
        seen = (await sock.until(lambda m: m["type"] == "snapshot"))["windows"]
        text = seen[0]["text"] if seen else ""
        lines = [f"line {i:04d} " + "x" * 90 + "\n" for i in range(300)]  # 30,000 characters in all
        for i, line in enumerate(lines):
            op = {"op": "text", "env": "e", "win": "log", "text": line, "update": "append"}
            assert (await asyncio.to_thread(send_ops, srv.url, [op], seq=i + 1))[0] == 200
        for _ in lines:  # a viewer applying the changes it gets ends with the window's text
            op = (await sock.until(lambda m: m["type"] == "change"))["op"]
            text = op["text"] if op["update"] == "replace" else text + op["text"]
        sock.close()
        return text, lines

    viewed, lines = arun(run())
    text = window(srv.url, "e", "log")["text"]
    assert viewed == text
    assert text.startswith(TEXT_DROPPED) and text.endswith(lines[-1])
    body = text[len(TEXT_DROPPED) :]
    assert 5 * 1024 <= len(body) <= 8 * 1024 and "".join(lines).endswith(body) and body.startswith("line ")
    srv.restart()
    assert window(srv.url, "e", "log")["text"] == text
    op = {"op": "text", "env": "e", "win": "log", "text": "# new", "update": "replace"}
    assert send_ops(srv.url, [op], seq=1000)[0] == 200
    srv.restart()
    assert window(srv.url, "e", "log")["text"] == "# new"


def test_one_writer_of_large_text_does_not_grow_the_data_dir(server):
    """80 appends of 1 MiB to one text window once rewrote the whole ever-growing text on each append:
    acks slowed to seconds and the data dir passed 3 GB. The text is kept to --max-text (1 MiB) and the
    WAL is truncated under steady writes."""
    piece = ("y" * 1023 + "\n") * 1024
    largest = 0
    for i in range(1, 81):
        op = {"op": "text", "env": "e", "win": "big", "text": piece, "update": "append"}
        assert send_ops(server.url, [op], seq=i)[0] == 200
        largest = max(largest, data_dir_size(server.data_dir))
        assert largest < 128 << 20, f"the data dir holds {largest} bytes after {i} appends"
    text = window(server.url, "e", "big")["text"]
    assert text == TEXT_DROPPED + piece


def test_an_empty_text_window_survives_a_restart(tmp_path):
    async def work(store: Store):
        await store.ingest("w", 1, checked([{"op": "text", "env": "e", "win": "t", "text": "", "update": "append"}]))

    in_store(tmp_path, work)
    assert in_store(tmp_path, lambda store: asyncio.sleep(0, store.state.window("e", "t").content)) == {"text": ""}


OLD_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE clients (client TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE envs (env TEXT PRIMARY KEY, seq INTEGER NOT NULL, live INTEGER NOT NULL, layout BLOB);
CREATE TABLE windows (env TEXT, win TEXT, kind TEXT NOT NULL, opts BLOB, content BLOB, PRIMARY KEY (env, win));
CREATE TABLE traces (env TEXT, win TEXT, trace TEXT, ord INTEGER, ydtype TEXT, t0 REAL,
    PRIMARY KEY (env, win, trace));
CREATE TABLE points (env TEXT, win TEXT, trace TEXT, start INTEGER, n INTEGER, x BLOB, y BLOB, t BLOB);
CREATE UNIQUE INDEX points_key ON points (env, win, trace, start);
CREATE TABLE steps (env TEXT, win TEXT, step INTEGER, body BLOB, PRIMARY KEY (env, win, step));
CREATE TABLE alerts (id INTEGER PRIMARY KEY, env TEXT, win TEXT, body BLOB);
"""


def test_a_data_dir_of_the_first_schema_is_upgraded(server_factory, tmp_path):
    """Text windows move into parts, and windows get their own seq (the env's until they change)."""
    data = tmp_path / "old"
    data.mkdir()
    with sqlite3.connect(data / "livepanel.sqlite3") as db:
        db.executescript(OLD_SCHEMA)
        db.execute("INSERT INTO meta VALUES ('store_id', 'old-store-1234')")
        db.execute("INSERT INTO envs VALUES ('e', 7, 1, NULL)")
        db.execute("INSERT INTO windows VALUES ('e', 'notes', 'text', ?, ?)", (b"\x80", msgpack.packb({"text": "hi"})))
    db.close()
    srv = server_factory(data_dir=data)
    state = window(srv.url, "e", "notes")
    assert state["text"] == "hi" and state["seq"] == 7
    op = {"op": "text", "env": "e", "win": "notes", "text": " there", "update": "append"}
    assert send_ops(srv.url, [op])[0] == 200
    srv.restart()
    state = window(srv.url, "e", "notes")
    assert state["text"] == "hi there" and state["seq"] == 8
    assert get(srv.url, "/api/v1/envs")[1]["store"] == "old-store-1234"


def test_a_data_dir_of_schema_3_gets_env_mutes_and_keeps_its_alerts(server_factory, tmp_path):
    """Schema 4 adds envs.mute; alerts stored before it read as not dismissed, and can be dismissed."""
    data = tmp_path / "v3"
    data.mkdir()
    schema_3 = OLD_SCHEMA.replace("content BLOB, PRIMARY KEY", "content BLOB, seq INTEGER, PRIMARY KEY")
    alert = {"id": 3, "kind": "nonfinite", "env": "e", "win": "loss", "trace": "", "step": 5.0, "detected": 5.0,
             "message": "m", "suggestion": "s", "key": "k", "t": 1.0}  # fmt: skip
    with sqlite3.connect(data / "livepanel.sqlite3") as db:
        db.executescript(schema_3)
        db.execute("CREATE TABLE texts (env TEXT, win TEXT, part INTEGER, text TEXT, PRIMARY KEY (env, win, part))")
        db.execute("INSERT INTO meta VALUES ('store_id', 'v3-store-1234')")
        db.execute("INSERT INTO meta VALUES ('schema', '3')")
        db.execute("INSERT INTO envs VALUES ('e', 4, 1, NULL)")
        db.execute("INSERT INTO windows VALUES ('e', 'loss', 'line', NULL, NULL, 4)")
        db.execute("INSERT INTO alerts VALUES (3, 'e', 'loss', ?)", (msgpack.packb(alert),))
    db.close()
    srv = server_factory(data_dir=data)
    assert get(srv.url, "/api/v1/alerts", env="e")[1]["alerts"] == [alert | {"dismissed": False}]
    ops = [{"op": "mute", "env": "e", "kind": "overfitting"}, {"op": "dismiss", "env": "e", "id": 3}]
    assert send_ops(srv.url, ops)[0] == 200
    srv.restart()
    assert get(srv.url, "/api/v1/alerts", env="e")[1]["alerts"] == [alert | {"dismissed": True}]

    async def snapshot():
        sock = await Socket(srv.url).connect()
        await sock.recv()
        await sock.subscribe([{"env": "e"}])
        snap = await sock.until(lambda m: m["type"] == "snapshot")
        sock.close()
        return snap

    snap = arun(snapshot())
    assert snap["mute"] == ["overfitting"] and snap["seq"] == 6
    assert send_ops(srv.url, [{"op": "delete_env", "env": "e"}], seq=2)[0] == 200
    srv.restart()
    assert arun(snapshot())["mute"] == []


# ---------------------------------------------------------------- a window's seq


def test_window_seq_is_its_last_change_after_a_restart(server):
    assert send_ops(server.url, [line_op("e", "a", [0], [1.0])], seq=1)[0] == 200
    assert send_ops(server.url, [{"op": "text", "env": "e", "win": "b", "text": "hi"}], seq=2)[0] == 200
    assert send_ops(server.url, [line_op("e", "c", [0], [1.0])], seq=3)[0] == 200
    assert send_ops(server.url, [line_op("e", "a", [1], [2.0])], seq=4)[0] == 200
    assert send_ops(server.url, [{"op": "opts", "env": "e", "win": "c", "opts": {"title": "C"}}], seq=5)[0] == 200
    before = {w: window(server.url, "e", w)["seq"] for w in "abc"}
    assert before == {"a": 4, "b": 2, "c": 5}
    server.restart()
    assert {w: window(server.url, "e", w)["seq"] for w in "abc"} == before


# ---------------------------------------------------------------- rows merged at a trace's tail


def merged_rows_stay_in_order(where) -> None:
    """Appends of 50,000 points (a size class whose eight rows make a full row): when a merge left a small
    row before the full one, eight rows later that small row was merged with the new ones, points out of
    order, and a restart dropped 60% of the trace as stray rows. `where`: a data dir or a database URL."""

    async def work():
        store = Store(where)
        merge = store.persist._compact
        store.persist._compact = lambda: None  # nine rows at the tail before the first merge
        x = np.arange(16 * 50_000, dtype="f8")
        try:
            for seq in range(1, 17):
                if seq == 10:
                    store.persist._compact = merge
                chunk = x[(seq - 1) * 50_000 : seq * 50_000]
                await store.ingest("merge-writer", seq, checked([line_op("e", "w", chunk, chunk)]))
        finally:
            store.close()
        store = Store(where)
        try:
            np.testing.assert_array_equal(store.state.window("e", "w").traces[""].arrays()[0], x)
        finally:
            store.close()

    arun(work())


def test_merged_rows_stay_in_order_after_a_restart(tmp_path):
    merged_rows_stay_in_order(tmp_path)
