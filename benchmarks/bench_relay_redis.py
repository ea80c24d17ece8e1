"""The Redis relay between nodes (livepanel/server/relay_redis.py, issue 22). Run by hand:
python benchmarks/bench_relay_redis.py [--runs 3] [--entries 2000] [--burst 100000] [--size 200]

Starts its own redis-server (tests/redisproc.py) on a free loopback port and stops it by pid. Two
RedisRelay instances in this one process are two nodes (so both ends share one core and one event loop).
Figures, medians of `--runs` runs, one JSON line each:
- `latency_p50` and `latency_p99`: publish on one node -> on_entry on the other, in ms, over `--entries`
  entries of `--size` bytes published one at a time (1 ms apart, so no entry waits behind another);
- `publish_rate`: entries per second one node publishes (sent to Redis, counted by stats["published"])
  for a burst of `--burst` entries, with no other node watching the env;
- `publish_rate_watched`: the same with the other node watching the env (its on_entry runs here too).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import common
import redisproc  # after common, which puts tests/ on sys.path

from livepanel.server import relay_redis
from livepanel.server.relay_redis import RedisRelay


async def pair(url: str, namespace: str, watch: set[str]) -> tuple[RedisRelay, RedisRelay, dict]:
    """A publisher and a receiver that watches `watch`; the receiver's arrival times by lseq."""
    arrived: dict[int, float] = {}
    sender, receiver = RedisRelay(url, namespace), RedisRelay(url, namespace)

    def on_entry(env: str, lseq: int, entry: bytes | None) -> None:
        arrived[lseq] = time.perf_counter()

    await sender.start(lambda *a: None, lambda *a: None, lambda: None)
    await receiver.start(on_entry, lambda *a: None, lambda: None)
    receiver.watch(watch)
    await receiver.settled()
    return sender, receiver, arrived


async def latency(url: str, run: int, entries: int, size: int) -> list[float]:
    sender, receiver, arrived = await pair(url, f"latency-{run}", {"env"})
    sent: dict[int, float] = {}
    payload = b"x" * size
    for lseq in range(1, entries + 1):
        sent[lseq] = time.perf_counter()
        sender.publish("env", lseq, payload, False)
        await asyncio.sleep(0.001)
    deadline = time.monotonic() + 30
    while len(arrived) < entries and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await sender.close()
    await receiver.close()
    if len(arrived) < entries:
        raise RuntimeError(f"only {len(arrived)} of {entries} entries arrived")
    return sorted((arrived[k] - sent[k]) * 1000 for k in sent)


async def rate(url: str, run: int, burst: int, size: int, watched: bool) -> float:
    sender, receiver, arrived = await pair(url, f"rate-{run}-{watched}", {"env"} if watched else set())
    payload = b"x" * size
    start = time.perf_counter()
    for lseq in range(1, burst + 1):
        while len(sender._queue) >= relay_redis.QUEUE_ITEMS // 2:  # stay under the bound: nothing dropped
            await asyncio.sleep(0)
        sender.publish("env", lseq, payload, False)
    deadline = time.monotonic() + 120
    while sender.stats["published"] < burst and time.monotonic() < deadline:
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - start
    if watched:
        while len(arrived) < burst and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
    dropped = sender.stats["dropped"]
    await sender.close()
    await receiver.close()
    if dropped or sender.stats["published"] < burst:
        raise RuntimeError(f"{dropped} dropped, {sender.stats['published']} of {burst} published")
    return burst / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--entries", type=int, default=2000)
    ap.add_argument("--burst", type=int, default=100_000)
    ap.add_argument("--size", type=int, default=200, help="bytes per entry")
    args = ap.parse_args()
    server = redisproc.RedisServer().start()
    try:
        p50, p99, rates, watched = [], [], [], []
        for run in range(args.runs):
            times = asyncio.run(latency(server.url(), run, args.entries, args.size))
            p50.append(statistics.median(times))
            p99.append(times[int(len(times) * 0.99) - 1])
            rates.append(asyncio.run(rate(server.url(), run, args.burst, args.size, watched=False)))
            watched.append(asyncio.run(rate(server.url(), run, args.burst, args.size, watched=True)))
        common.report("latency_p50", "ms", p50, digits=3, spread=True, entries=args.entries, size=args.size)
        common.report("latency_p99", "ms", p99, digits=3, spread=True, entries=args.entries, size=args.size)
        common.report("publish_rate", "entries/s", rates, digits=0, spread=True, size=args.size)
        common.report("publish_rate_watched", "entries/s", watched, digits=0, spread=True, size=args.size)
    finally:
        server.remove()


if __name__ == "__main__":
    main()
