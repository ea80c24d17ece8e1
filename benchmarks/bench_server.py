"""Server benchmarks (issue 2). Run by hand: python benchmarks/bench_server.py [--quick]

Prints one JSON line per figure. Starts its own servers on free loopback ports, in a temporary
data directory, and stops them by pid. Figures: 1M-point line call-to-ack, scalar throughput from
8 writer processes, fan-out latency to 50 viewers, memory per stored point, start-up time, and the
cost of diagnosis (`--only diagnosis`): ingest throughput with it on and off, server-bound over HTTP
(3 writers sending batches of 50 line ops back to back to one server for --seconds; --points-per-op,
new series all the time or --before points per series first), --runs of each, alternating, medians.
Figures measured are in docs/diagnosis.md, "Cost".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from common import ServerProcess, cpu_seconds, emit
from wire import Socket, send_ops

from livepanel import Panel


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_with_children(pid: int) -> float:
    """CPU time of a process and of its children (the server's diagnosis worker) so far (Linux /proc)."""
    total = cpu_seconds(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                total += cpu_seconds(int(child))
            except FileNotFoundError:  # it ended meanwhile
                pass
    return total


def cpu_when_quiet(pid: int, limit: float = 60.0) -> float:
    """CPU time of the server and its diagnosis worker once they stop using any (all diagnosed), waiting
    `limit` s at most."""
    last, deadline = cpu_with_children(pid), time.monotonic() + limit
    while time.monotonic() < deadline:  # bounded by `limit`
        time.sleep(0.3)
        now = cpu_with_children(pid)
        if now - last < 0.005:
            return now
        last = now
    return last


def emit_on_off(figure: str, results: list[tuple[float, float]], **extra) -> None:
    """One line for (on, off) throughput pairs: their medians and the drop, overall and per run."""
    on, off = [r[0] for r in results], [r[1] for r in results]
    emit(
        figure=figure,
        **extra,
        on=round(statistics.median(on)),
        off=round(statistics.median(off)),
        drop_percent=round(100 * (1 - statistics.median(on) / statistics.median(off)), 1),
        drop_percent_per_run=sorted(round(100 * (1 - a / b), 1) for a, b in results),
        target="drop <= 10%",
    )


def bench_million_line(tmp: Path, runs: int) -> None:
    """One panel.line(x, y) of 1,000,000 points, from the call to the durable acknowledgement."""
    srv = ServerProcess(tmp / "million").start()
    try:
        x = np.arange(1_000_000, dtype="f8")
        times, mem = [], []
        with Panel(srv.url, env="bench", spool_dir=str(tmp / "spool-million")) as panel:
            panel.line([0.0], [0.0], win="warm")
            panel.flush()
            for i in range(runs):
                y = np.random.default_rng(i).normal(size=1_000_000)
                before = rss_bytes(srv.proc.pid)
                start = time.perf_counter()
                panel.line(x, y, win=f"big{i}", name="train")
                ok = panel.flush(timeout=30)
                times.append(time.perf_counter() - start)
                assert ok
                mem.append(rss_bytes(srv.proc.pid) - before)
        emit(
            figure="million_point_line_call_to_ack_ms",
            median=round(statistics.median(times) * 1000, 1),
            runs=[round(t * 1000, 1) for t in times],
            target="<= 150",
        )
        emit(figure="million_point_line_server_rss_growth_mib", median=round(statistics.median(mem) / 2**20, 1))
    finally:
        srv.stop()


def _writer(url: str, index: int, seconds: float, spool: str, go, out: mp.Queue) -> None:
    panel = Panel(url, env=f"w{index}", spool_dir=spool)
    out.put("ready")
    go.wait(120)
    step, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for _ in range(1000):
            panel.line(step, 1.0 / (step + 1), win="loss")
            step += 1
    start = time.perf_counter()
    panel.flush(timeout=60)
    panel.close()
    out.put((step, time.perf_counter() - start))


def bench_writers(tmp: Path, seconds: float, writers: int = 8) -> float:
    """Scalar points per second, sustained, from several writer processes (each its own Panel), from
    when all have started (their imports done) to their last flush."""
    srv = ServerProcess(tmp / f"writers{time.monotonic_ns()}").start()
    try:
        ctx = mp.get_context("spawn")
        go, out = ctx.Event(), ctx.Queue()
        procs = [
            ctx.Process(target=_writer, args=(srv.url, i, seconds, str(tmp / f"spool-w{i}"), go, out))
            for i in range(writers)
        ]
        for p in procs:
            p.start()
        assert [out.get(timeout=120) for _ in procs] == ["ready"] * writers  # started, imports done
        start = time.perf_counter()
        go.set()
        results = [out.get(timeout=seconds + 120) for _ in procs]
        for p in procs:
            p.join(30)
        elapsed = time.perf_counter() - start
        total = sum(r[0] for r in results)
        # Everything sent is stored: count it back.
        stored = 0
        for i in range(writers):
            with urllib.request.urlopen(f"{srv.url}/api/v1/window?env=w{i}&win=loss&format=json&width=1") as r:
                stored += json.loads(r.read())["traces"][0]["n"]
        emit(
            figure="scalar_points_per_s_8_writers",
            value=round(total / elapsed),
            points=total,
            stored=stored,
            seconds=round(elapsed, 2),
            target=">= 100000",
        )
        assert stored == total
        return total / elapsed
    finally:
        srv.stop()


def _saturating_writer(
    urls: list[str], index: int, points_per_op: int, seconds: float, before: int, fresh: int, rounds, out
) -> None:
    """Send batches of 50 line ops back to back on one keep-alive connection per server, each as soon as
    the last is acknowledged: for each (url, seconds) taken from `rounds` (None ends), send to that
    server for that long and report the points acknowledged in that time.

    The batches' ops are encoded beforehand (enough for `seconds` of sending at up to 6M points/s among
    3 writers, then they repeat), so the writer's own work is small. `before` points per series are sent
    to every server first (in ops of 10,000), before "ready". `fresh` > 0: every `fresh` batches the
    writer moves to 50 new series (new runs starting all the time)."""
    import http.client

    import msgpack

    from livepanel import protocol

    rng = np.random.default_rng(index)
    head = b"\x83" + msgpack.packb("client") + msgpack.packb(f"saturating-writer-{index}") + msgpack.packb("seq")
    ops_key = msgpack.packb("ops")
    conns, seqs, sent = {}, dict.fromkeys(urls, 0), dict.fromkeys(urls, 0)
    for url in urls:
        host, port = url.removeprefix("http://").split(":")
        conns[url] = http.client.HTTPConnection(host, int(port), timeout=60)

    def send(url: str, encoded_ops: bytes) -> None:
        seqs[url] += 1
        body = head + msgpack.packb(seqs[url]) + ops_key + encoded_ops
        conns[url].request("POST", "/api/v1/ingest", body, {"Content-Type": "application/msgpack"})
        resp = conns[url].getresponse()
        assert resp.status == 200, resp.read()
        resp.read()

    for url in urls:
        for b in range(before // 10_000):
            send(url, protocol.packb(_loss_ops(f"sat{index}-", b, 10_000, rng)))
    first = before // points_per_op
    pool = []
    for b in range(int(seconds * min(2000, 2e6 / (50 * points_per_op)))):  # bounded by the run's length
        prefix = f"sat{index}-{b // fresh}-" if fresh else f"sat{index}-"
        pool.append(protocol.packb(_loss_ops(prefix, first + (b % fresh if fresh else b), points_per_op, rng)))
    out.put("ready")
    for url, length in iter(lambda: rounds.get(timeout=600), None):  # bounded: the parent ends it
        points, end = 0, time.perf_counter() + length
        while time.perf_counter() < end:  # bounded by the round's length, each request with a 60 s timeout
            send(url, pool[sent[url] % len(pool)])
            sent[url] += 1
            points += 50 * points_per_op
        out.put(points)
    for conn in conns.values():
        conn.close()


class _SaturatingWriters:
    """`writers` processes running _saturating_writer against `urls`, ready once entered; round() runs one."""

    def __init__(self, urls: list[str], writers: int, points_per_op: int, seconds: float, before: int, fresh: int):
        ctx = mp.get_context("spawn")
        self.out, self.rounds = ctx.Queue(), [ctx.Queue() for _ in range(writers)]
        args = (points_per_op, seconds, before, fresh)
        self.procs = [
            ctx.Process(target=_saturating_writer, args=(urls, i, *args, self.rounds[i], self.out))
            for i in range(writers)
        ]

    def __enter__(self) -> _SaturatingWriters:
        for p in self.procs:
            p.start()
        assert [self.out.get(timeout=300) for _ in self.procs] == ["ready"] * len(self.procs)
        return self

    def round(self, url: str, seconds: float) -> int:
        """All writers send to `url` for `seconds`; the points acknowledged."""
        for q in self.rounds:
            q.put((url, seconds))
        return sum(self.out.get(timeout=seconds + 120) for _ in self.procs)

    def __exit__(self, *exc) -> None:
        for q in self.rounds:
            q.put(None)
        for p in self.procs:
            p.join(30)
            if p.is_alive():
                p.kill()


def bench_server_bound(
    tmp: Path, points_per_op: int, seconds: float, runs: int, before: int = 0, fresh: int = 0, writers: int = 3
) -> None:
    """End to end, with the server the bottleneck: `writers` processes send one server batches of 50
    line ops (training losses) over HTTP back to back for `seconds`; its figure is the points it
    acknowledged per second. Servers with diagnosis off and on take turns, `runs` of each, a fresh
    server (memory store: the CPU is the limit) each time. `before` points per series are sent first,
    outside the timing, and the run starts once the server is quiet (their diagnosis done). Besides
    the throughput, the CPU time per point of the server and its diagnosis worker is reported, counted
    until both are quiet again after the run (so it includes diagnosis still catching up: the whole cost).
    `fresh`: series are new every `fresh` batches (0: the same series all along)."""

    def one_run(extra: tuple[str, ...]) -> tuple[float, float]:
        """(points per second acknowledged, server and worker CPU µs per point, diagnosis caught up)."""
        srv = ServerProcess(tmp / f"bound{time.monotonic_ns()}", *extra, store="memory").start()
        try:
            with _SaturatingWriters([srv.url], writers, points_per_op, seconds, before, fresh) as load:
                cpu0 = cpu_when_quiet(srv.proc.pid)
                points = load.round(srv.url, seconds)
            return points / seconds, 1e6 * (cpu_when_quiet(srv.proc.pid) - cpu0) / points
        finally:
            srv.stop()

    results, cpu = [], []
    for i in range(runs):
        order = [(), ("--no-diagnose",)] if i % 2 else [("--no-diagnose",), ()]
        got = {extra: one_run(extra) for extra in order}
        results.append((got[()][0], got[("--no-diagnose",)][0]))
        cpu.append((got[()][1], got[("--no-diagnose",)][1]))
    emit_on_off(
        f"server_bound_ingest_points_per_s_{points_per_op}_points_per_op_diagnosis_on_vs_off",
        results,
        server_cpu_us_per_point_on=round(statistics.median(c[0] for c in cpu), 3),
        server_cpu_us_per_point_off=round(statistics.median(c[1] for c in cpu), 3),
        server_cpu_extra_percent_per_run=sorted(round(100 * (a / b - 1), 1) for a, b in cpu),
        series_points_before=before,
        new_series_every_batches=fresh,
        seconds=seconds,
        writers=writers,
        store="memory",
    )


def bench_fanout(tmp: Path, viewers: int, points: int) -> None:
    """Latency from the writer's acknowledgement (and from its send) to receipt at every viewer."""
    srv = ServerProcess(tmp / "fanout").start()

    async def run():
        socks = [await Socket(srv.url).connect() for _ in range(viewers)]
        for s in socks:
            await s.recv()
            await s.subscribe([{"env": "fan"}])
            await s.recv()
        from_ack, from_send = [], []
        loop = asyncio.get_running_loop()
        for i in range(1, points + 1):
            sent = time.monotonic()
            arrivals: list[float] = []

            readers = [loop.create_task(_arrival(s, arrivals)) for s in socks]
            status, _ = await asyncio.to_thread(send_ops, srv.url, [_point(i)], "fanout-client", i)
            acked = time.monotonic()
            await asyncio.gather(*readers)
            assert status == 200
            from_ack += [max(0.0, a - acked) for a in arrivals]
            from_send += [a - sent for a in arrivals]
            await asyncio.sleep(0.02)
        for s in socks:
            s.close()
        return from_ack, from_send

    try:
        from_ack, from_send = asyncio.run(run())
        q = np.percentile(np.array(from_send) * 1000, [50, 99])
        emit(
            figure=f"fanout_{viewers}_viewers_send_to_receipt_ms",
            p50=round(q[0], 2),
            p99=round(q[1], 2),
            samples=len(from_send),
            target="ack to receipt: p50 <= 3, p99 <= 15",
            note="from the writer's POST (before its commit and ack) to each viewer's receipt: an upper bound "
            "of ack to receipt; viewers get the change before the writer has read its ack "
            f"({sum(1 for v in from_ack if v == 0.0)} of {len(from_ack)} receipts)",
        )
    finally:
        srv.stop()


async def _arrival(sock: Socket, arrivals: list[float]) -> None:
    await sock.conn.read_message()
    arrivals.append(time.monotonic())


def _point(i: int) -> dict:
    return {
        "op": "line",
        "env": "fan",
        "win": "loss",
        "x": np.array([float(i)]),
        "y": np.array([1.0 / i]),
    }


def bench_memory_and_startup(tmp: Path, total: int, runs: int) -> None:
    """Server RSS per stored point at `total` points, and start-up time with them on disk."""
    srv = ServerProcess(tmp / "ten-million").start()
    try:
        base = rss_bytes(srv.proc.pid)
        traces = 10
        per = min(1_000_000, total // traces)
        seq = 0
        for tr in range(traces):
            for start in range(0, total // traces, per):
                seq += 1
                x = np.arange(start, start + per, dtype="f8")
                op = {"op": "line", "env": "mem", "win": f"w{tr}", "x": x, "y": np.sin(x / 1e4)}
                status, answer = send_ops(srv.url, [op], "memory-client", seq)
                assert status == 200, answer
        time.sleep(1.0)  # let the last request's buffers go: count what is held, not what is in flight
        grown = rss_bytes(srv.proc.pid) - base
        emit(
            figure="server_bytes_per_stored_point",
            value=round(grown / total, 1),
            points=total,
            rss_mib=round(rss_bytes(srv.proc.pid) / 2**20),
            target="<= 24",
        )
        times = []
        for _ in range(runs):
            srv.stop()
            start = time.perf_counter()
            srv.start(timeout=60)
            times.append(time.perf_counter() - start)
        emit(
            figure="startup_s_with_10M_points",
            median=round(statistics.median(times), 2),
            runs=[round(t, 2) for t in times],
            target="<= 2",
            note="process start to first healthy answer, including the Python interpreter",
        )
    finally:
        srv.stop()


def _loss_ops(env: str, b: int, points_per_op: int, rng: np.random.Generator, series: int = 50) -> list[dict]:
    """One batch: a line append of `points_per_op` points to each of `series` training losses."""
    ops = []
    for tr in range(series):
        x = b * points_per_op + np.arange(points_per_op, dtype="f8")
        y = 2 * np.exp(-x / 3000) + 0.02 * rng.normal(size=points_per_op)
        ops.append({"op": "line", "env": f"{env}{tr % 5}", "win": "loss", "name": f"train{tr}", "x": x, "y": y})
    return ops


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument(
        "--only",
        help="comma-separated: million,writers,fanout,memory,diagnosis (diagnosis-http: the same)",
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="diagnosis: length of each run")
    parser.add_argument("--runs", type=int, default=5, help="diagnosis: runs with it on, and as many off")
    parser.add_argument("--points-per-op", type=int, default=10, help="diagnosis: points per line op")
    parser.add_argument(
        "--before", type=int, default=0, help="diagnosis: points per series first (0: new series every 200 batches)"
    )
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else {"million", "writers", "fanout", "memory", "diagnosis"}
    with tempfile.TemporaryDirectory(prefix="livepanel-bench-") as d:
        tmp = Path(d)
        os.environ["LIVEPANEL_SPOOL"] = str(tmp / "spool")
        if "million" in only:
            bench_million_line(tmp, 3 if args.quick else 7)
        if "writers" in only:
            bench_writers(tmp, 2 if args.quick else 8)
        if "fanout" in only:
            bench_fanout(tmp, 50, 20 if args.quick else 200)
        if "diagnosis" in only or "diagnosis-http" in only:
            fresh = 0 if args.before else 200
            runs = 1 if args.quick else args.runs
            bench_server_bound(tmp, args.points_per_op, args.seconds, runs, args.before, fresh)
        if "memory" in only:
            bench_memory_and_startup(tmp, 2_000_000 if args.quick else 10_000_000, 2 if args.quick else 5)


if __name__ == "__main__":
    main()
