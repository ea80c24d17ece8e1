"""The Redis transport between nodes (livepanel/server/relay_redis.py) on a real redis-server: several
RedisRelay instances in one process are the nodes. Entries reach the nodes that watch their env, in
order; heads reach every node; history gives exactly a range or None; big entries travel as notices;
a Redis restart never blocks or raises in publish and ends in on_resync; names never leak."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from client_helpers import messages
from serverproc import free_port
from wire import arun

pytest.importorskip("redis", reason='needs the Redis driver: pip install "livepanel[cluster]"')

from livepanel.server import relay_redis  # noqa: E402
from livepanel.server.relay_redis import RedisRelay  # noqa: E402

_names = itertools.count()


class Calls(list):
    """A list that a callback appends its arguments to."""

    def append_args(self, *args) -> None:
        self.append(args)


class Node:
    """One RedisRelay and what its callbacks were given."""

    def __init__(self, url: str, namespace: str, **kwargs) -> None:
        self.relay = RedisRelay(url, namespace, **kwargs)
        self.entries = Calls()  # (env, lseq, entry)
        self.heads = Calls()  # (env, lseq, notable)
        self.resyncs = 0

    async def start(self, *watch: str, everything: bool = False) -> Node:
        await self.relay.start(self.entries.append_args, self.heads.append_args, self._resync)
        self.relay.watch(set(watch), everything)
        await self.relay.settled()
        return self

    def _resync(self) -> None:
        self.resyncs += 1

    def lseqs(self, env: str) -> list[int]:
        return [lseq for e, lseq, _ in self.entries if e == env]


async def until(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def nodes(url: str, *watches, namespace: str | None = None, **kwargs) -> tuple[str, list[Node]]:
    """Started nodes sharing a fresh namespace; each of `watches` is the envs a node watches (a set), or
    "*" for everything."""
    namespace = namespace or f"store-{next(_names)}"
    started = []
    for watch in watches:
        node = Node(url, namespace, **kwargs)
        started.append(await (node.start(everything=True) if watch == "*" else node.start(*watch)))
    return namespace, started


async def close(*all_nodes: Node) -> None:
    for node in all_nodes:
        await node.relay.close()


def test_entries_reach_the_nodes_watching_their_env_in_order_and_heads_reach_all(redis_server):
    async def body():
        _, (a, b, c) = await nodes(redis_server.url(), (), ("run/1",), ("other",))
        for lseq in range(1, 51):
            a.relay.publish("run/1", lseq, b"entry %d" % lseq, notable=lseq % 10 == 0)
        for lseq in range(1, 6):
            a.relay.publish("other", lseq, b"o%d" % lseq, notable=False)
        last = ("other", 5, False)
        await until(lambda: all(n.heads and n.heads[-1] == last for n in (a, b, c)), "the heads on every node")
        assert b.entries == [("run/1", k, b"entry %d" % k) for k in range(1, 51)]
        assert c.entries == [("other", k, b"o%d" % k) for k in range(1, 6)]
        assert a.entries == []
        expected_heads = [("run/1", k, k % 10 == 0) for k in range(1, 51)] + [("other", k, False) for k in range(1, 6)]
        assert a.heads == b.heads == c.heads == expected_heads
        assert a.relay.stats["published"] == 55 and b.relay.stats["received"] == 50
        await close(a, b, c)

    arun(body())


def test_watch_changes_what_a_node_receives(redis_server):
    async def body():
        namespace, (a, b) = await nodes(redis_server.url(), (), ("x",))
        _, (stranger,) = await nodes(redis_server.url(), ())  # another store on the same Redis
        a.relay.publish("x", 1, b"x1", False)
        await until(lambda: b.lseqs("x") == [1], "x 1")

        b.relay.watch({"y"})
        await b.relay.settled()
        a.relay.publish("x", 2, b"x2", False)
        a.relay.publish("y", 1, b"y1", False)
        await until(lambda: ("y", 1, False) in b.heads, "the head of y 1")
        assert b.entries == [("x", 1, b"x1"), ("y", 1, b"y1")]

        b.relay.watch(set(), everything=True)
        await b.relay.settled()
        a.relay.publish("x", 3, b"x3", False)
        stranger.relay.publish("x", 1, b"not this store's", False)
        a.relay.publish("z", 1, b"z1", False)
        await until(lambda: ("z", 1, False) in b.heads, "the head of z 1")
        assert b.entries[2:] == [("x", 3, b"x3"), ("z", 1, b"z1")]
        assert ("x", 1, False) not in b.heads[3:]  # heads are per namespace too

        b.relay.watch(set())
        await b.relay.settled()
        a.relay.publish("x", 4, b"x4", False)
        await until(lambda: ("x", 4, False) in b.heads, "the head of x 4")
        assert b.lseqs("x") == [1, 3]
        await close(a, b, stranger)

    arun(body())


def test_env_names_with_pattern_characters_stay_apart(redis_server):
    envs = ["a*", "a?", "a[bc]", "ab", "ac", "a\\*", "a b/ü", "a%2A", "a:e:*", "*", ""]

    async def body():
        namespace, (a, star, everything) = await nodes(redis_server.url(), (), ("a*",), "*", namespace="ns")
        _, (other_ns,) = await nodes(redis_server.url(), "*", namespace="ns*")
        _, (colon_ns,) = await nodes(redis_server.url(), "*", namespace="ns:e")
        for env in envs:
            a.relay.publish(env, 1, env.encode(), False)
        last = (envs[-1], 1, False)
        await until(lambda: everything.heads and everything.heads[-1] == last, "every head")
        await until(lambda: star.heads and star.heads[-1] == last, "every head on the node watching a*")
        assert star.entries == [("a*", 1, b"a*")]
        assert everything.entries == [(env, 1, env.encode()) for env in envs]
        assert [h[0] for h in everything.heads] == envs
        assert other_ns.entries == colon_ns.entries == [] and other_ns.heads == colon_ns.heads == []
        for env in envs:
            assert await star.relay.history(env, 0, 1) == [(1, env.encode())]
        await close(a, star, everything, other_ns, colon_ns)

    arun(body())


def test_history_gives_exactly_the_range_or_none(redis_server):
    async def body():
        _, (a, b) = await nodes(redis_server.url(), (), ("gap",), history=10)
        for lseq in range(1, 21):
            a.relay.publish("e", lseq, b"%d" % lseq, False)
        for lseq in (1, 2, 4, 3, 5):  # out of order: 3 comes after 4 and is not kept
            a.relay.publish("gap", lseq, b"g%d" % lseq, False)
        await until(lambda: b.lseqs("gap") == [1, 2, 4, 3, 5], "the gap env's entries, as published")
        assert a.relay.stats["skipped"] == 1

        assert await b.relay.history("e", 15, 18) == [(k, b"%d" % k) for k in range(16, 19)]
        assert await b.relay.history("e", 20, 20) == [] and await b.relay.history("e", 20, 3) == []
        assert await b.relay.history("e", 19, 21) is None  # 21 was never published
        assert await b.relay.history("never", 0, 1) is None
        assert await b.relay.history("gap", 0, 2) == [(1, b"g1"), (2, b"g2")]
        assert await b.relay.history("gap", 0, 5) is None
        assert await b.relay.history("gap", 3, 5) == [(4, b"g4"), (5, b"g5")]

        for lseq in range(21, 1001):  # the stream is capped near `history`
            a.relay.publish("e", lseq, b"%d" % lseq, False)
        await until(lambda: a.relay.stats["published"] == 1005, "the publishes")
        assert await b.relay.history("e", 0, 1000) is None
        assert await b.relay.history("e", 10, 20) is None
        assert await b.relay.history("e", 990, 1000) == [(k, b"%d" % k) for k in range(991, 1001)]
        for bad in ((-1, 3), (1.5, 3), (0, "3")):
            with pytest.raises(ValueError, match="history needs"):
                await b.relay.history("e", *bad)
        await close(a, b)

    arun(body())


def test_a_big_entry_travels_as_a_notice(redis_server):
    big = bytes(range(256)) * (20 * 4096)  # 20 MB: past Redis' pub/sub output buffer limit
    near = b"\x01" * 900_000  # under the 1 MB threshold: sent whole

    async def body():
        _, (a, b) = await nodes(redis_server.url(), (), ("e",))
        a.relay.publish("e", 1, near, False)
        a.relay.publish("e", 2, big, True)
        a.relay.publish("e", 3, b"after", False)
        await until(lambda: b.lseqs("e") == [1, 2, 3], "the three entries")
        assert b.entries == [("e", 1, near), ("e", 2, None), ("e", 3, b"after")]
        assert b.heads == [("e", 1, False), ("e", 2, True), ("e", 3, False)]
        assert await b.relay.history("e", 0, 1) == [(1, near)]
        assert await b.relay.history("e", 1, 2) is None  # not kept in Redis: read it from PostgreSQL
        assert await b.relay.history("e", 2, 3) == [(3, b"after")]
        await close(a, b)

    arun(body())


def test_redis_restarted_publish_never_blocks_and_nodes_resync(redis_server):
    async def body():
        _, (a, b) = await nodes(redis_server.url(), (), ("e",))
        a.relay.publish("e", 1, b"1", False)
        await until(lambda: b.lseqs("e") == [1], "the first entry")

        redis_server.stop()  # SIGTERM: Redis closes every connection
        slowest, lseq = 0.0, 1
        for _ in range(200):
            lseq += 1
            t = time.perf_counter()
            a.relay.publish("e", lseq, b"x" * 1000, False)
            slowest = max(slowest, time.perf_counter() - t)
            await asyncio.sleep(0.001)
        assert slowest < 0.05, f"publish took {slowest:.3f} s while Redis was down"
        await until(lambda: a.relay.stats["dropped"] >= 190, "entries dropped while Redis is down")
        assert len(a.relay._queue) == 0  # nothing held while Redis is away

        redis_server.start()
        await until(lambda: b.resyncs >= 1 and a.resyncs >= 1, "on_resync on both nodes once Redis is back")
        deadline = time.monotonic() + 10
        while not b.lseqs("e")[1:] and time.monotonic() < deadline:  # until the publisher sees Redis back
            lseq += 1
            a.relay.publish("e", lseq, b"%d" % lseq, False)
            await asyncio.sleep(0.02)
        for _ in range(5):
            lseq += 1
            a.relay.publish("e", lseq, b"%d" % lseq, False)
        await until(lambda: b.lseqs("e")[-1:] == [lseq], "the entries after the restart")
        after = b.lseqs("e")[1:]
        assert after == list(range(after[0], lseq + 1))
        assert await b.relay.history("e", 0, lseq) is None  # Redis came back empty
        assert await b.relay.history("e", lseq - 5, lseq) == [(k, b"%d" % k) for k in range(lseq - 4, lseq + 1)]
        await close(a, b)

    arun(body())


def test_a_node_that_dropped_entries_makes_the_others_resync(redis_server):
    async def body():
        _, (a, b) = await nodes(redis_server.url(), (), ("e",))
        n = relay_redis.QUEUE_ITEMS + 50
        for lseq in range(1, n + 1):  # without yielding to the sender: the queue fills, the rest is dropped
            a.relay.publish("e", lseq, b"%d" % lseq, False)
        assert a.relay.stats["dropped"] == 50
        await until(lambda: b.resyncs == 1, "the resync notice of the node that dropped entries", timeout=30)
        assert a.resyncs == 0  # not its own notice
        assert b.lseqs("e") == list(range(1, relay_redis.QUEUE_ITEMS + 1))
        a.relay.publish("e", n + 1, b"next", False)
        await until(lambda: b.lseqs("e")[-1] == n + 1, "the next entry (a visible gap before it)")
        await close(a, b)

    arun(body())


def test_bad_arguments_say_what_is_wrong(redis_server):
    for url, message in [
        ("http://127.0.0.1:6379/0", "must look like redis://"),
        ("redis://:s3cret@127.0.0.1:port/0", "bad port"),
        ("redis://:s3cret@127.0.0.1:70000/0", "bad port"),
        ("redis:///0", "names no host"),
        ("redis://127.0.0.1:6379/x", "database number"),
        ("redis://127.0.0.1:6379/0?db=1", "database number"),
        (None, "must look like redis://"),
    ]:
        with pytest.raises(ValueError, match=message) as err:
            RedisRelay(url, "ns")
        assert "s3cret" not in str(err.value)
    for kwargs, message in [({"namespace": ""}, "namespace"), ({"history": 0}, "history"), ({"big": -1}, "big")]:
        with pytest.raises(ValueError, match=message):
            RedisRelay(**{"url": redis_server.url(), "namespace": "ns", **kwargs})

    async def body():
        nowhere = RedisRelay(f"redis://:s3cret@127.0.0.1:{free_port()}/0", "ns")
        with pytest.raises(RuntimeError, match="before start"):
            nowhere.publish("e", 1, b"", False)
        with pytest.raises(ConnectionError, match="cannot reach Redis") as err:
            await nowhere.start(print, print, print)
        assert "s3cret" not in str(err.value)
        with pytest.raises(ConnectionError, match="DB index is out of range"):
            await RedisRelay(redis_server.url(db=99), "ns").start(print, print, print)
        _, (a,) = await nodes(redis_server.url(), ())
        with pytest.raises(ValueError, match="lseq >= 1"):
            a.relay.publish("e", 0, b"", False)
        with pytest.raises(TypeError, match="bytes"):
            a.relay.publish("e", 1, "text", False)
        with pytest.raises(ValueError, match="surrogates not allowed"):
            a.relay.publish("\ud800", 1, b"", False)
        with pytest.raises(TypeError, match="set of env names"):
            a.relay.watch("env")
        await close(a)

    arun(body())


def test_a_malformed_message_or_a_failing_callback_stops_nothing(redis_server, caplog):
    async def body():
        import redis.asyncio as aredis

        _, (a, b) = await nodes(redis_server.url(), (), ("e",))
        failures = []

        def on_entry(env, lseq, entry):
            if lseq == 1:
                failures.append(lseq)
                raise RuntimeError("a receiver's bug")
            b.entries.append((env, lseq, entry))

        b.relay._on = (on_entry, *b.relay._on[1:])
        other = aredis.Redis(port=redis_server.port)
        await other.publish(b.relay.channel("e"), b"\xc1 not msgpack")
        await other.publish(b.relay.channel("e"), b"\x93\x01\x02\x03")  # msgpack, not a list of entries
        await other.aclose()
        a.relay.publish("e", 1, b"1", False)
        a.relay.publish("e", 2, b"2", False)
        await until(lambda: b.lseqs("e") == [2], "the entry after the failing one")
        assert failures == [1]
        await close(a, b)
        assert len(messages(caplog, "ignoring a malformed message")) == 2
        assert messages(caplog, "a Redis relay callback failed")

    arun(body())


def test_a_lost_subscription_ends_in_on_resync_never_in_a_silent_reconnect(redis_server):
    async def body():
        import redis.asyncio as aredis

        _, (a, b) = await nodes(redis_server.url(), (), ("e",))
        killer = aredis.Redis(port=redis_server.port)
        await killer.execute_command("CLIENT", "KILL", "TYPE", "pubsub")  # every subscriber, Redis stays up
        await until(lambda: a.resyncs == b.resyncs == 1, "on_resync on both nodes")
        a.relay.publish("e", 1, b"1", False)
        await until(lambda: b.lseqs("e") == [1], "an entry after the resync")

        # the connection breaks under a watch change: redis-py would reconnect it on the next command
        await b.relay._pubsub.connection.disconnect()
        b.relay.watch({"e", "f"})
        await until(lambda: b.resyncs == 2, "on_resync after the broken connection")
        await b.relay.settled()
        a.relay.publish("f", 1, b"f1", False)
        await until(lambda: b.lseqs("f") == [1], "an entry of the newly watched env")
        assert a.relay.stats["dropped"] == 0 and a.resyncs == 1
        await killer.aclose()
        await close(a, b)

    arun(body())
