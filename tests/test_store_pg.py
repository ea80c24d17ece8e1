"""The store on a real PostgreSQL: what the SQLite store keeps, with the same guarantees (ack after commit,
exactly once, one batch's failure its own, 503 while the database is away and then everything once),
`livepanel migrate`, and a server without `--store postgresql://` that never loads the driver."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import pg
import pytest
import test_durability
import test_store_hardening
from client_helpers import messages
from serverproc import ServerProcess, free_port
from test_alerts import delivered, loss_then_nan, send_in_steps
from test_durability import _all_kinds, _assert_identical, _states
from wire import arun, get, line_op, send_ops, window

import livepanel
from livepanel import cli, protocol

pytest.importorskip("psycopg", reason='needs the PostgreSQL driver: pip install "livepanel[cluster]"')
if pg.binaries() is None:  # .ci/setup installs it
    pytest.skip("PostgreSQL is not installed", allow_module_level=True)

from livepanel.server.store import BatchError, Store, StoreError, persist_pg  # noqa: E402


def serve(tmp_path: Path, url: str) -> ServerProcess:
    return ServerProcess(tmp_path / "unused", store=url).start()


def _env_records(url: str) -> list:
    """What an env keeps besides its windows: the env list (layout, mute, counts), run record, alerts."""
    envs, alerts = get(url, "/api/v1/envs")[1], get(url, "/api/v1/alerts", env="e")[1]
    runs = [{k: r.get(k) for k in ("env", "config", "status")} for r in get(url, "/api/v1/runs")[1]["runs"]]
    return [envs, alerts, runs]


def checked(ops: list[dict]) -> list[dict]:
    batch = protocol.unpackb(protocol.packb({"client": "validate-only", "seq": 1, "ops": ops}))
    return protocol.validate_batch(batch)[2]


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    out = subprocess.run(
        [sys.executable, "-m", "livepanel", *args], capture_output=True, timeout=60, env=env, cwd=tmp_path
    )
    out.stdout, out.stderr = out.stdout.decode(), out.stderr.decode()  # as written: "\r" redraws a line
    return out


# ---------------------------------------------------------------- one machine: nothing changes


def test_a_server_without_postgres_loads_no_driver(tmp_path):
    """The server's whole import graph, with its SQLite store open: psycopg and redis stay out of it."""
    script = (
        "import sys, json\n"
        "from livepanel.config import Config\n"
        "from livepanel.server.app import make_app\n"
        "from livepanel.server.diagnosis import Diagnosis\n"
        "from livepanel.server.hub import Hub\n"
        "from livepanel.server.store import Store\n"
        "import livepanel.cli, livepanel.migrate\n"
        f"store = Store(__import__('pathlib').Path({str(tmp_path / 'data')!r}))\n"
        "make_app(Config(), store, Hub(store), Diagnosis(store, enabled=False))\n"
        "store.close()\n"
        "drivers = ('psycopg', 'psycopg_binary', 'redis', 'hiredis')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in drivers)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def mapped(pid: int) -> str:
    """The files a running process has mapped: its loaded C extensions and libraries (Linux)."""
    return Path(f"/proc/{pid}/maps").read_text()


def test_a_running_sqlite_server_has_no_driver_mapped(server):
    assert send_ops(server.url, [line_op("e", "w", [0], [0])])[0] == 200
    maps = mapped(server.proc.pid)
    assert "psycopg" not in maps and "libpq" not in maps  # test_every_kind_... sees them in a PostgreSQL one


def test_without_the_driver_the_error_names_the_extra(tmp_path, db):
    script = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from livepanel.cli import main\n"
        f"sys.exit(main(['serve', '--port', '0', '--store', {db!r}]))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "livepanel[cluster]" in out.stderr


def test_without_the_redis_driver_the_error_names_the_extra(tmp_path, db):
    script = (
        "import sys; sys.modules['redis'] = None\n"
        "from livepanel.cli import main\n"
        f"sys.exit(main(['serve', '--port', '0', '--store', {db!r}, '--hub', 'redis://127.0.0.1:1/0']))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "livepanel[cluster]" in out.stderr, out.stderr


def test_bad_store_urls_and_an_unreachable_database_are_clear_errors(tmp_path):
    out = run(tmp_path, "serve", "--port", "0", "--store", "postgresql://")
    assert out.returncode == 2 and "postgresql://user@host:5432/dbname" in out.stderr
    out = run(tmp_path, "serve", "--port", "0", "--store", "mysql://x/y")
    assert out.returncode == 2 and "store must be 'sqlite', 'memory' or a postgresql://" in out.stderr
    url = f"postgresql://someone:secret@127.0.0.1:{free_port()}/nothing"
    out = run(tmp_path, "serve", "--port", "0", "--store", url)
    assert out.returncode == 1 and "cannot connect to PostgreSQL" in out.stderr
    assert "secret" not in out.stderr and "someone:***@" in out.stderr


def test_postgres_tables_are_the_sqlite_ones():
    """A table or column added to persist.py's SCHEMA needs its twin in persist_pg (SCHEMA, COLUMNS,
    KEYS, COPY_TYPES) and a schema step there: this says so before a batch fails on it."""
    from livepanel.server.store import persist

    db = sqlite3.connect(":memory:")
    try:
        db.executescript(persist.SCHEMA)
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        sqlite_columns = {t: tuple(r[1] for r in db.execute(f"PRAGMA table_info({t})")) for t in tables}
    finally:
        db.close()
    assert sqlite_columns == persist_pg.COLUMNS
    assert set(persist_pg.KEYS) == set(persist_pg.COPY_TYPES) == set(tables)
    assert all(len(persist_pg.COPY_TYPES[t]) == len(c) for t, c in persist_pg.COLUMNS.items())


# ---------------------------------------------------------------- what the SQLite store keeps


def test_every_kind_reads_back_bit_identical_after_a_restart(tmp_path, db, monkeypatch):
    srv = serve(tmp_path, db)
    try:
        _all_kinds(srv.url)
        assert "psycopg" in mapped(srv.proc.pid)  # what the SQLite server must not load
        more = [
            {"op": "layout", "env": "e", "layout": {"loss": {"order": 1, "w": 300, "h": 200}}},
            {"op": "run", "env": "e", "config": {"lr": 0.1, "opt": "adam"}, "status": "running"},
            {"op": "mute", "env": "e", "win": "loss", "kind": "overfitting", "muted": True},
        ]
        assert send_ops(srv.url, more, seq=99)[0] == 200
        x, y = loss_then_nan()
        assert delivered(srv.url, send_in_steps(srv.url, x, y, env="e", chunk=50))  # alerts: stored like any change
        before = [_states(srv.url), _env_records(srv.url)]
        assert srv.stop() == 0
        srv.start()
        _assert_identical(before, [_states(srv.url), _env_records(srv.url)])
        # a second server on the same database is refused (several nodes: not yet)
        monkeypatch.setattr(persist_pg, "LOCK_WAIT", 0.0)
        with pytest.raises(RuntimeError, match="another livepanel server is using the database"):
            Store(db)
    finally:
        srv.stop()


def test_a_batch_retried_after_a_lost_ack_is_applied_once(tmp_path, db):
    srv = serve(tmp_path, db)
    try:
        op = line_op("e", "w", np.arange(5.0), np.arange(5.0))
        assert send_ops(srv.url, [op], client="writer-0001", seq=1) == (200, {"ok": True, "seq": 1, "duplicate": False})
        assert send_ops(srv.url, [op], client="writer-0001", seq=1)[1]["duplicate"] is True
        srv.stop(signal.SIGKILL)  # the client seq is committed with the batch, so it outlives the process
        srv.start()
        assert send_ops(srv.url, [op], client="writer-0001", seq=1)[1]["duplicate"] is True
        assert window(srv.url, "e", "w")["traces"][0]["n"] == 5
    finally:
        srv.stop()


def test_a_batch_postgres_cannot_store_is_refused_alone(db):
    """A value beyond the database (a step of 2**63, a NUL in text) refuses that batch only, with a 400."""

    async def work():
        store = Store(db)
        try:
            await store.ingest("good-writer-1", 1, checked([line_op("e", "loss", [0, 1], [1.0, 0.5])]))
            hist = {"op": "histogram", "env": "e", "win": "h", "counts": np.array([1]), "edges": np.array([0.0, 1])}
            with pytest.raises(BatchError):
                await store.ingest("bad-writer-1", 1, [dict(checked([dict(hist, step=1)])[0], step=2**63)])
            with pytest.raises(BatchError, match="NUL"):  # the protocol refuses it first; the store too
                text = dict(checked([{"op": "text", "env": "e", "win": "t", "text": "a"}])[0], text="a\x00")
                await store.ingest("bad-writer-2", 1, [text])
            await store.ingest("good-writer-1", 2, checked([line_op("e", "loss", [2], [0.25])]))
            assert set(store.state.envs["e"].windows) == {"loss"}
        finally:
            store.close()
        store = Store(db)
        try:
            assert store.state.window("e", "loss").traces[""].arrays()[1].tolist() == [1.0, 0.5, 0.25]
            assert store.clients == {"good-writer-1": 2}
        finally:
            store.close()

    arun(work())


@pytest.mark.parametrize(
    "test",
    [
        test_durability.test_sigkill_during_ingest_from_several_writers,
        test_store_hardening.test_steps_sent_out_of_order_read_the_same_after_a_restart,
        test_store_hardening.test_window_seq_is_its_last_change_after_a_restart,
    ],
    ids=lambda test: test.__name__.removeprefix("test_"),
)
def test_store_behaviours_of_sqlite_hold_on_postgres(test, tmp_path, db):
    """Tests written for the SQLite store, run as they are against a server on PostgreSQL."""
    started: list[ServerProcess] = []

    def factory(*extra: str) -> ServerProcess:
        started.append(ServerProcess(tmp_path / f"unused{len(started)}", *extra, store=db).start())
        return started[-1]

    try:
        if "server_factory" in test.__code__.co_varnames[: test.__code__.co_argcount]:
            test(factory)
        else:
            test(factory())
    finally:
        for srv in started:
            srv.stop()


def test_merged_rows_stay_in_order_on_postgres(db):
    test_store_hardening.merged_rows_stay_in_order(db)


# ---------------------------------------------------------------- the database away during ingest


def test_postgres_stopped_during_ingest_then_everything_arrives_once(tmp_path, postgres, caplog):
    caplog.set_level(logging.WARNING, logger="livepanel.client")
    url = postgres.new_database()
    srv = serve(tmp_path, url)
    p = livepanel.Panel(srv.url, env="down", spool_dir=tmp_path / "spool", max_backoff=0.2, timeout=2)
    try:
        n = 1500
        for step in range(n):
            p.line(step, float(step), win="w")
            if step == 500:
                assert p.flush(10)
                postgres.stop(signal.SIGQUIT)  # immediate: like a crash of the database server
            if step == 1000:
                status, answer = send_ops(srv.url, [line_op("e", "probe", [0], [0])], client="probe-0001")
                assert status == 503, answer  # refused while the database is away: clients keep their batches
                assert not p.flush(0.5)
                postgres.start()
        assert p.flush(30)
        state = p.get("w")
        np.testing.assert_array_equal(state["traces"][0]["x"], np.arange(n))  # every point once, in order
        srv.stop()
        srv.start()  # and all of it was committed
        np.testing.assert_array_equal(window(srv.url, "down", "w")["traces"][0]["x"], np.arange(n))
        assert messages(caplog, "HTTP 503")  # the client was refused, kept its batches and retried
    finally:
        p.close()
        srv.stop()
        if postgres.proc.poll() is not None:
            postgres.start()
    assert "reconnected to PostgreSQL" in srv.log.read_text()


@pytest.mark.parametrize("committed", [True, False], ids=["committed", "not-committed"])
def test_a_commit_whose_answer_is_lost_is_applied_once(db, committed):
    """The connection drops after COMMIT was sent: the batch may or may not be in. The client gets a 503,
    the store reads back what is committed, and the retry is a duplicate if it was in, applied if not."""
    import psycopg

    async def work():
        store = Store(db)
        try:
            op = checked([line_op("e", "w", [0.0, 1.0], [0.0, 1.0])])
            assert await store.ingest("doubt-writer", 1, op) is False
            conn = store.persist.db.conn
            commit = conn.commit

            def commit_then_lose_the_answer():
                commit() if committed else conn.rollback()
                raise psycopg.OperationalError("server closed the connection unexpectedly")

            conn.commit = commit_then_lose_the_answer
            again = checked([line_op("e", "w", [2.0], [2.0])])
            with pytest.raises(StoreError) as refused:
                await store.ingest("doubt-writer", 2, again)
            assert not isinstance(refused.value, BatchError)  # a 503: the client keeps the batch
            deadline = time.monotonic() + 10
            while store._failed is not None and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert store.state.window("e", "w").traces[""].n == (3 if committed else 2)  # read back
            assert await store.ingest("doubt-writer", 2, again) is committed  # a duplicate only if it was in
            assert await store.ingest("doubt-writer", 3, checked([line_op("e", "w", [3.0], [3.0])])) is False
        finally:
            store.close()
        store = Store(db)
        try:
            assert store.state.window("e", "w").traces[""].arrays()[0].tolist() == [0.0, 1.0, 2.0, 3.0]
        finally:
            store.close()

    arun(work())


def test_viewers_get_a_snapshot_holding_a_commit_whose_answer_was_lost(db):
    """The batch whose answer was lost is committed: read back, it is in the state, but it was never
    published; the viewers watching its env get a snapshot holding it (without one they would miss it)."""
    import psycopg

    from livepanel.server.hub import Hub

    async def work():
        store = Store(db)
        hub = Hub(store)
        frames: list[dict] = []

        async def write(frame: bytes) -> None:
            frames.append(protocol.unpackb(frame))

        try:
            viewer = hub.connect(write)
            hub.subscribe(viewer, [{"env": "e"}], None)
            assert await store.ingest("lost-answer", 1, checked([line_op("e", "w", [0.0], [0.0])])) is False
            conn = store.persist.db.conn
            commit = conn.commit

            def commit_then_lose_the_answer():
                commit()
                raise psycopg.OperationalError("server closed the connection unexpectedly")

            conn.commit = commit_then_lose_the_answer
            with pytest.raises(StoreError):
                await store.ingest("lost-answer", 2, checked([line_op("e", "w", [1.0], [1.0])]))
            deadline = time.monotonic() + 10
            while not any(f.get("type") == "snapshot" and f["seq"] == store.state.seqs["e"] for f in frames[2:]):
                assert time.monotonic() < deadline, frames
                await asyncio.sleep(0.02)
            snap = [f for f in frames if f.get("type") == "snapshot"][-1]
            assert protocol.decode_arrays(snap)["windows"][0]["traces"][0]["x"].tolist() == [0.0, 1.0]
            assert viewer.envs["e"] == store.state.seqs["e"]  # live changes go on from there, gap-free
        finally:
            hub.close()
            store.close()

    arun(work())


def test_postgres_restarted_while_idle_goes_unnoticed(tmp_path, postgres):
    """Nothing was in doubt (no commit in flight): the next batch reconnects and is acknowledged."""
    srv = serve(tmp_path, postgres.new_database())
    try:
        assert send_ops(srv.url, [line_op("e", "w", [0], [0])], client="idle-writer", seq=1)[0] == 200
        postgres.stop()
        postgres.start()
        assert send_ops(srv.url, [line_op("e", "w", [1], [1])], client="idle-writer", seq=2)[0] == 200
        srv.restart()
        assert window(srv.url, "e", "w")["traces"][0]["x"].tolist() == [0, 1]
    finally:
        srv.stop()
    assert "lost and is back" in srv.log.read_text()


# ---------------------------------------------------------------- livepanel migrate


def test_migrate_copies_a_sqlite_store_and_checks_the_counts(tmp_path, postgres, capsys):
    data = tmp_path / "data"
    srv = ServerProcess(data).start()
    try:
        _all_kinds(srv.url)
        before = _states(srv.url)
    finally:
        srv.stop()
    url = postgres.new_database()
    out = run(tmp_path, "migrate", "--from", str(data), "--to", url)
    assert out.returncode == 0, out.stderr
    assert "all counts match" in out.stdout and "\r[" in out.stderr and "100%" in out.stderr
    moved = serve(tmp_path, url)
    try:
        _assert_identical(before, _states(moved.url))
        ack = send_ops(moved.url, [line_op("e", "acc32", [9], [1])], seq=29)[1]
        assert ack["duplicate"] is True  # the client seqs came along: a retry is not applied twice
    finally:
        moved.stop()

    def migrate(*args: str) -> tuple[int, str]:  # in this process: no interpreter start per case
        code = cli.main(["migrate", *args])
        return code, capsys.readouterr().err

    code, err = migrate("--from", str(data), "--to", url)
    assert code == 1 and "--overwrite" in err
    assert migrate("--from", str(data), "--to", url, "--overwrite")[0] == 0
    code, err = migrate("--from", str(tmp_path / "nope"), "--to", url)
    assert code == 1 and "no such directory" in err
    code, err = migrate("--from", str(tmp_path), "--to", url)
    assert code == 1 and "no livepanel store there" in err
    newer = tmp_path / "newer"
    newer.mkdir()
    shutil.copy(data / "livepanel.sqlite3", newer / "livepanel.sqlite3")
    with closing(sqlite3.connect(newer / "livepanel.sqlite3")) as db, db:
        db.execute("UPDATE meta SET value='99' WHERE key='schema'")
    code, err = migrate("--from", str(newer), "--to", url, "--overwrite")
    assert code == 1 and "a newer livepanel wrote this store" in err
    code, err = migrate("--from", str(data), "--to", "mysql://x")
    assert code == 1 and "--to must be a postgresql://" in err
    code, err = migrate("--from", str(data), "--to", f"postgresql://u:pw@127.0.0.1:{free_port()}/x")
    assert code == 1 and "cannot connect to PostgreSQL" in err and "pw" not in err
