"""Ingest into one node on SQLite and on PostgreSQL (issue 22). Run by hand:
python benchmarks/bench_store_pg.py [--seconds 5] [--runs 3]

Starts its own livepanel servers (and a postgres from tests/pg.py) on free loopback ports, stops them
by pid. For each store and workload: `--writers` processes send raw batches back to back for
`--seconds`; figures are acknowledged points per second and CPU seconds per million points of the
livepanel server and (PostgreSQL) of the postgres processes, medians of `--runs` runs with their
spread (min, max). Workloads: `scalars` (batches of 50 line ops of 10 points, each to its own
trace: the training-loop shape, many small appends) and `bulk` (one op of 100,000 points a batch).
Diagnosis is off: this measures the store. Also `startup`: seconds to read back a store of
`--startup-points` points (20 traces, appended 50,000 at a time) on each, medians of `--runs`.
One JSON line per figure.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path

import common
import numpy as np
import pg  # after common, which puts tests/ on sys.path
from wire import line_op, send_ops

WORKLOADS = {"scalars": (50, 10), "bulk": (1, 100_000)}  # ops per batch, points per op


def _writer(url: str, index: int, workload: str, seconds: float, go, out) -> None:
    ops_per_batch, points = WORKLOADS[workload]
    rng = np.random.default_rng(index)
    sent, seq, step = 0, 0, 0
    go.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seq += 1
        x = np.arange(step, step + points, dtype="f8")
        ops = [line_op("bench", f"w{index}-{k}", x, rng.normal(size=points)) for k in range(ops_per_batch)]
        status, answer = send_ops(url, ops, client=f"bench-writer-{index:04d}", seq=seq)
        if status != 200:
            raise RuntimeError(f"{status}: {answer}")
        sent += ops_per_batch * points
        step += points
    out.put(sent)


def one_run(store: str, workload: str, seconds: float, writers: int, tmp: Path, postgres_pid: int | None) -> dict:
    srv = common.ServerProcess(tmp / f"data-{time.monotonic_ns()}", "--no-diagnose", store=store).start()
    try:
        ctx = mp.get_context("spawn")
        go, out = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_writer, args=(srv.url, i, workload, seconds, go, out)) for i in range(writers)]
        for p in procs:
            p.start()
        time.sleep(1.0)  # writers imported
        cpu0 = common.cpu_seconds(srv.proc.pid)
        pg0 = common.tree_cpu(postgres_pid) if postgres_pid else 0.0
        t0 = time.monotonic()
        go.set()
        points = sum(out.get(timeout=seconds + 60) for _ in procs)
        elapsed = time.monotonic() - t0
        cpu = common.cpu_seconds(srv.proc.pid) - cpu0
        pg_cpu = common.tree_cpu(postgres_pid) - pg0 if postgres_pid else 0.0
        for p in procs:
            p.join()
    finally:
        srv.stop()
    return {
        "points_per_s": points / elapsed,
        "server_cpu_s_per_M": cpu / points * 1e6,
        "pg_cpu_s_per_M": pg_cpu / points * 1e6,
    }


def bench_startup(where: Path | str, points: int, runs: int) -> list[float]:
    import asyncio

    from livepanel import protocol
    from livepanel.server.store import Store

    async def fill() -> None:
        store = Store(where)
        rng, per = np.random.default_rng(0), 50_000
        try:
            for seq in range(1, points // (20 * per) + 1):
                x = np.arange((seq - 1) * per, seq * per, dtype="f8")
                ops = [line_op("e", f"w{k}", x, rng.normal(size=per)) for k in range(20)]
                batch = protocol.unpackb(protocol.packb({"client": "bench-startup", "seq": seq, "ops": ops}))
                await store.ingest("bench-startup", seq, protocol.validate_batch(batch)[2])
        finally:
            store.close()

    asyncio.run(fill())
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        Store(where).close()
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--workload", choices=[*sorted(WORKLOADS), "startup"], action="append")
    parser.add_argument("--startup-points", type=int, default=10_000_000)
    args = parser.parse_args()
    postgres = pg.PgServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workloads = args.workload or [*sorted(WORKLOADS), "startup"]
            if "startup" in workloads:
                for name, where in (("sqlite", Path(tmp) / "startup"), ("postgresql", postgres.new_database())):
                    times = bench_startup(where, args.startup_points, args.runs)
                    common.emit(figure="startup", store=name, points=args.startup_points,
                                seconds=round(statistics.median(times), 3),
                                spread=[round(min(times), 3), round(max(times), 3)])  # fmt: skip
            for workload in [w for w in workloads if w != "startup"]:
                for name in ("sqlite", "postgresql"):
                    results = []
                    for _ in range(args.runs):
                        store = "sqlite" if name == "sqlite" else postgres.new_database()
                        pid = postgres.proc.pid if name == "postgresql" else None
                        results.append(one_run(store, workload, args.seconds, args.writers, Path(tmp), pid))
                    figure = {"figure": "ingest_one_node", "store": name, "workload": workload,
                              "writers": args.writers, "runs": args.runs}  # fmt: skip
                    for key in results[0]:
                        values = [r[key] for r in results]
                        if name == "sqlite" and key == "pg_cpu_s_per_M":
                            continue
                        figure[key] = round(statistics.median(values), 3)
                        figure[key + "_spread"] = [round(min(values), 3), round(max(values), 3)]
                    common.emit(**figure)
    finally:
        postgres.remove()


if __name__ == "__main__":
    main()
