"""Several nodes on one real PostgreSQL (livepanel/server/store/cluster.py): one order per env, each batch once
whichever node gets it, and a replay of the log that makes the same state and the same env seqs everywhere.

The nodes here are stores in one process, each with its own connections; the end-to-end tests with server
processes, Redis and nginx are in tests/test_cluster.py."""

from __future__ import annotations

import asyncio

import numpy as np
import pg
import pytest
from test_durability import _assert_identical
from test_ingest import image_op
from wire import arun, line_op

from livepanel import protocol

pytest.importorskip("psycopg", reason='needs the PostgreSQL driver: pip install "livepanel[cluster]"')
if pg.binaries() is None:  # .ci/setup installs it
    pytest.skip("PostgreSQL is not installed", allow_module_level=True)

from livepanel.server.store import Store, StoreError, oplog_pg  # noqa: E402
from livepanel.server.store.cluster import ClusterStore  # noqa: E402


@pytest.fixture
def nodes(db):
    made: list[ClusterStore] = []

    def node() -> ClusterStore:
        made.append(ClusterStore(db))
        return made[-1]

    yield node
    for store in made:
        store.close()


def checked(ops: list[dict]) -> list[dict]:
    batch = protocol.unpackb(protocol.packb({"client": "validate-only", "seq": 1, "ops": ops}))
    return protocol.validate_batch(batch)[2]


def corpus() -> list[list[dict]]:
    """Batches of every kind of change, including those a replay must not redo differently: appends with
    per-point styles, a fork (expanded from the source as it is then), a finished run that data reopens."""
    rng = np.random.default_rng(3)
    return [
        [line_op("e", "loss", np.arange(100.0), rng.normal(size=100), name="train")],
        [line_op("e", "loss", [100, 101], [np.nan, np.inf], name="train"), line_op("e", "loss", [0], [1], name="v")],
        [
            {
                "op": "histogram",
                "env": "e",
                "win": "h",
                "counts": np.array([1, 2]),
                "edges": np.array([0.0, 1, 2]),
                "step": 7,
            }
        ],  # fmt: skip
        [{"op": "text", "env": "e", "win": "t", "text": "# hi <script>"}],
        [{"op": "text", "env": "e", "win": "t", "text": " more", "update": "append"}],
        [{"op": "bar", "env": "e", "win": "b", "y": np.array([1.0, 2.0]), "labels": ["x", "y"]}],
        [{"op": "heatmap", "env": "e", "win": "hm", "z": np.arange(4.0).reshape(2, 2)}],
        [image_op("e", "im", step=3), image_op("e", "im", step=4)],
        [{"op": "opts", "env": "e", "win": "loss", "opts": {"title": "Loss", "ylog": True}}],
        [
            {
                "op": "scatter",
                "env": "e",
                "win": "sc",
                "x": np.arange(3.0),
                "y": np.arange(3.0),
                "opts": {"trace:": {"markercolors": ["#ff0000", "#00ff00", "#0000ff"]}},
            }
        ],  # fmt: skip
        [
            {
                "op": "scatter",
                "env": "e",
                "win": "sc",
                "x": np.arange(3.0, 5.0),
                "y": np.arange(2.0),
                "opts": {"trace:": {"markercolors": ["#ffffff", "#000000"]}},
            }
        ],  # fmt: skip
        [{"op": "run", "env": "e", "config": {"lr": 0.1}, "status": "finished"}],
        [line_op("e", "loss", [102], [0.5], name="train")],  # reopens the finished run
        [{"op": "layout", "env": "e", "layout": {"loss": {"order": 1, "w": 2, "h": 1}}}],
        [{"op": "fork", "env": "copy", "source": "e"}],
        [line_op("copy", "loss", [103], [0.25], name="train")],
        [line_op("e", "loss", [104], [0.5], name="train"), line_op("copy", "loss", [104], [0.5], name="train")],
        [{"op": "close", "env": "e", "win": "b"}],
        [line_op("gone", "x", [1], [1]), {"op": "delete_env", "env": "gone"}],
    ]


def snapshots(store: Store) -> dict:
    return {env: store.state.snapshot(env, None) for env in sorted(store.state.envs)} | {"seqs": store.state.seqs}


def test_a_replay_of_the_log_makes_the_same_state_and_seqs(nodes):
    a, b = nodes(), nodes()

    async def main() -> None:
        for i, ops in enumerate(corpus(), 1):
            await (a if i % 3 else b).ingest("writer", i, checked(ops))  # both nodes write, in turn
        await a.fresh()
        await b.fresh()

    arun(main())
    assert set(a.state.envs) == {"e", "copy"}
    _assert_identical(snapshots(a), snapshots(b))
    _assert_identical(snapshots(a), snapshots(nodes()))  # a node that starts now reads the tables back
    assert a.replayed > 0 and b.replayed > 0


def test_a_batch_retried_on_another_node_is_applied_once(nodes):
    a, b = nodes(), nodes()
    ops = checked([line_op("e", "w", [1, 2], [3, 4])])

    async def main() -> list[bool]:
        return [await a.ingest("c", 1, ops), await b.ingest("c", 1, ops), await a.ingest("c", 1, ops)]

    assert arun(main()) == [False, True, True]
    arun(b.fresh())
    for store in (a, b):
        assert store.state.window("e", "w").traces[""].n == 2
        assert store.state.seqs["e"] == 1


def test_concurrent_writers_on_two_nodes_see_one_order(nodes):
    a, b = nodes(), nodes()
    seen: dict[int, list] = {0: [], 1: []}
    for i, store in enumerate((a, b)):
        store.listeners.append(lambda messages, i=i: seen[i].extend((m["seq"], m["op"].get("x")[0]) for m in messages))

    async def write(store: ClusterStore, client: str, start: int) -> None:
        for k in range(30):
            await store.ingest(client, k + 1, checked([line_op("e", "w", [start + k], [k], name=client)]))

    async def main() -> None:
        await asyncio.gather(write(a, "ca", 0), write(b, "cb", 1000), write(a, "cc", 2000), write(b, "cd", 3000))
        await a.fresh()
        await b.fresh()

    arun(main())
    assert [s for s, _ in seen[0]] == list(range(1, 121))  # every change once, in env seq order, on both
    assert seen[0] == seen[1]
    _assert_identical(snapshots(a), snapshots(b))


def test_a_node_behind_what_the_log_keeps_reads_the_env_back(nodes, monkeypatch):
    monkeypatch.setattr(oplog_pg, "LOG_KEEP", 4)
    monkeypatch.setattr(oplog_pg, "PRUNE_EVERY", 2)
    a, b = nodes(), nodes()

    async def main() -> None:
        await b.ingest("c", 1, checked([line_op("e", "w", [0], [0])]))
        for k in range(2, 20):
            await a.ingest("c", k, checked([line_op("e", "w", [k], [k])]))
        await b.ingest("c", 20, checked([line_op("e", "w", [20], [20])]))  # b is 18 entries behind: 4 are kept

    arun(main())
    arun(a.fresh())
    _assert_identical(snapshots(a), snapshots(b))
    assert b.state.window("e", "w").traces[""].n == 20


def test_alert_ids_are_unique_across_nodes(nodes):
    a, b = nodes(), nodes()
    arun(a.ingest("c", 1, checked([line_op("e", "w", [0], [0])])))
    stored: list[bool] = []

    async def main() -> None:
        for store in (a, b, a):
            alert = {"env": "e", "win": "w", "kind": "nan", "id": 0, "message": "m", "dismissed": False}
            store.apply_internal([{"op": "alert", "env": "e", "alert": alert}], stored.append)
        deadline = asyncio.get_running_loop().time() + 10
        while len(stored) < 3 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        await a.fresh()

    arun(main())
    assert stored == [True] * 3
    ids = [alert["id"] for alert in a.state.envs["e"].alerts]
    assert len(ids) == 3 and len(set(ids)) == 3
    # the server's own commits are not batches: diagnosis holds alerts while these two counts differ
    assert (a.batches_applied, a.batches_published, b.batches_applied, b.batches_published) == (1, 1, 0, 0)


def test_a_single_server_and_cluster_nodes_never_share_a_database(db, nodes):
    node = nodes()
    with pytest.raises(RuntimeError, match="several nodes on one database each need --hub"):
        Store(db)
    node.close()
    single = Store(db)
    try:
        with pytest.raises(RuntimeError, match="a single livepanel server .* is using the database"):
            ClusterStore(db)
    finally:
        single.close()


def test_refusals_leave_every_node_as_it_was(nodes):
    a, b = nodes(), nodes()
    arun(a.ingest("c", 1, checked([line_op("e", "w", [0], [0])])))
    bad = checked([{"op": "histogram", "env": "e", "win": "w", "counts": np.array([1]), "edges": np.array([0.0, 1])}])
    with pytest.raises(protocol.ProtocolError, match="is a line window"):
        arun(b.ingest("c", 2, bad))
    with pytest.raises(protocol.ProtocolError, match="more than"):
        arun(b.ingest("c", 10_000_000, checked([line_op("e", "w", [1], [1])])))
    assert arun(b.ingest("c", 2, checked([line_op("e", "w", [1], [1])]))) is False  # seq 2 was not taken
    arun(a.fresh())
    _assert_identical(snapshots(a), snapshots(b))
    assert a.state.seqs["e"] == 2


def test_a_node_refuses_writes_while_the_database_is_away(postgres, nodes):
    a = nodes()
    arun(a.ingest("c", 1, checked([line_op("e", "w", [0], [0])])))
    postgres.stop()
    try:
        with pytest.raises(StoreError, match="PostgreSQL"):
            arun(a.ingest("c", 2, checked([line_op("e", "w", [1], [1])])))
        assert a.state.window("e", "w").traces[""].n == 1  # memory holds only what is committed
    finally:
        postgres.start()
    assert arun(a.ingest("c", 2, checked([line_op("e", "w", [1], [1])]))) is False
    assert a.state.window("e", "w").traces[""].n == 2


def test_small_appends_from_several_nodes_are_merged_into_rows_in_order(db, nodes):
    import psycopg

    a, b = nodes(), nodes()

    def rows() -> int:
        with psycopg.connect(db) as conn:
            return conn.execute("SELECT count(*) FROM points WHERE env='e'").fetchone()[0]

    async def main() -> None:
        for k in range(40):  # one row each, from both nodes in turn
            await (a, b)[k % 2].ingest("c", k + 1, checked([line_op("e", "w", [k], [k])]))
        deadline = asyncio.get_running_loop().time() + 15
        while rows() > 10 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        await a.fresh()

    arun(main())
    assert rows() <= 10
    loaded = nodes()
    _assert_identical(snapshots(a), snapshots(loaded))
    assert list(loaded.state.window("e", "w").traces[""].arrays()[0]) == list(range(40))


def test_many_batches_at_once_use_a_bounded_number_of_connections(nodes):
    a = nodes()

    async def main() -> list[bool]:
        writes = [a.ingest(f"client{k:04d}", 1, checked([line_op(f"env{k}", "w", [0], [k])])) for k in range(60)]
        return await asyncio.gather(*writes)

    assert arun(main()) == [False] * 60
    assert len(a.state.envs) == 60
    assert a.oplog.opened <= oplog_pg.POOL + oplog_pg.TXNS


def test_after_a_database_restart_nodes_keep_a_single_server_off_it(postgres, db, nodes):
    a = nodes()
    postgres.stop()
    postgres.start()
    arun(a.oplog.check_session())  # what the node does every few seconds
    with pytest.raises(RuntimeError, match="several nodes on one database each need --hub"):
        Store(db)


def test_an_entry_that_cannot_be_replayed_makes_the_node_read_the_env_back(db, nodes, caplog):
    import psycopg

    a, b = nodes(), nodes()

    async def main() -> None:
        for k in range(3):
            await a.ingest("c", k + 1, checked([line_op("e", "w", [k], [k])]))

    arun(main())
    with psycopg.connect(db) as conn:  # a damaged entry (a bug, or a hand-edited database)
        conn.execute("UPDATE log SET entry = %s WHERE env = 'e' AND lseq = 2", (b"\x00not msgpack",))
    arun(b.fresh())
    assert "could not be replayed" in caplog.text
    _assert_identical(snapshots(a), snapshots(b))
    assert b.applied["e"] == 3
