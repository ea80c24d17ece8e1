"""Several nodes on PostgreSQL and Redis (issue 22, item 8). Run by hand:
python benchmarks/bench_cluster.py [--seconds 5] [--runs 3] [--only ingest,latency,resume]

Starts everything itself on free loopback ports (tests/clusterproc.py: a postgres, a redis-server,
livepanel nodes, nginx) and stops it by pid. One JSON line per figure:

- `ingest`: acknowledged points per second from `--writers` processes sending raw batches back to back
  for `--seconds` (50 line ops of 10 points a batch, each writer its own env: a training run), into one
  node on SQLite, one node on PostgreSQL, and `--nodes` nodes on PostgreSQL + Redis (writer i sends to
  node i mod N); with the CPU seconds per million points of each node (read from /proc/PID/stat), of
  postgres (all its processes) and of redis-server, from which more nodes can be projected. Medians of
  `--runs`. `cluster` has no viewers (a node applies only its own batches); `cluster_watched` has a
  viewer of every env on every node (in this process), so every node applies every change as well.
  This machine's cores are shared by the writers, the viewers, the nodes and the engines.
- `latency`: from `panel.line()` on node 0 to a viewer's receipt, on node 1 (across nodes, through
  Redis) and on node 0 (the same node), p50 and p99 over `--points` points sent 50 a second; the
  client's own batching (`send_interval`, 10 ms by default) is part of it.
- `resume`: a viewer on node 0 while a writer on node 1 logs a point every 10 ms; node 0 is SIGKILLed;
  seconds from the kill until the viewer, reconnected through nginx to another node and resumed from its
  last seq, has applied the next change (gap-free: checked), with the page's reconnection delay (250 ms
  +-25 % for the first retry, frontend/src/socket.ts) and without it. Medians of `--runs`.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import threading
import time
from pathlib import Path

import common
import numpy as np
from clusterproc import Cluster, LiveViewer  # after common, which puts tests/ on sys.path
from common import cpu_seconds, tree_cpu
from wire import get, line_op, send_ops

import livepanel

OPS, POINTS = 50, 10  # a batch: 50 line ops of 10 points (the training-loop shape)
# -- ingest ---------------------------------------------------------------------------------------------------


def _writer(url: str, index: int, seconds: float, go, out) -> None:
    rng = np.random.default_rng(index)
    sent, seq, step = 0, 0, 0
    go.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seq += 1
        x = np.arange(step, step + POINTS, dtype="f8")
        ops = [line_op(f"run{index}", f"w{k}", x, rng.normal(size=POINTS)) for k in range(OPS)]
        status, answer = send_ops(url, ops, client=f"bench-writer-{index:04d}", seq=seq)
        if status != 200:
            raise RuntimeError(f"{status}: {answer}")
        sent += OPS * POINTS
        step += POINTS
    out.put(sent)


def _drive(urls: list[str], writers: int, seconds: float, pids: dict[str, int], trees: dict[str, int]) -> dict:
    """Run the writers against `urls` (writer i on urls[i % len]); points/s and CPU of each process."""
    ctx = mp.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(urls[i % len(urls)], i, seconds, go, out)) for i in range(writers)]
    for p in procs:
        p.start()
    time.sleep(1.5)  # the writers' imports
    before = {k: cpu_seconds(pid) for k, pid in pids.items()} | {k: tree_cpu(pid) for k, pid in trees.items()}
    t0 = time.monotonic()
    go.set()
    points = sum(out.get(timeout=seconds + 120) for _ in procs)
    elapsed = time.monotonic() - t0
    after = {k: cpu_seconds(pid) for k, pid in pids.items()} | {k: tree_cpu(pid) for k, pid in trees.items()}
    for p in procs:
        p.join(30)
    return {"points": points, "points_per_s": points / elapsed} | {
        k: (after[k] - before[k]) / points * 1e6 for k in before
    }


def _one_ingest(setup: str, nodes: int, writers: int, seconds: float, tmp: Path) -> dict:
    if setup == "sqlite":
        srv = common.ServerProcess(tmp / f"sqlite-{time.monotonic_ns()}", "--no-diagnose").start()
        try:
            return _drive([srv.url], writers, seconds, {"node0": srv.proc.pid}, {})
        finally:
            srv.stop()
    cluster = setup.startswith("cluster")
    c = Cluster(tmp / f"{setup}-{time.monotonic_ns()}", nodes if cluster else 1, nginx=False, hub=cluster)
    c.start()
    viewers = []
    try:
        if setup == "cluster_watched":  # a viewer of every env on every node: each node applies every change
            viewers = [LiveViewer(u, [f"run{i}" for i in range(writers)], width=1000).start() for u in c.urls]
        pids = {f"node{i}": c.pid(i) for i in range(len(c.nodes))}
        if c.redis is not None:
            pids["redis"] = c.redis.proc.pid
        return _drive(c.urls, writers, seconds, pids, {"postgres": c.pg.proc.pid})
    finally:
        for v in viewers:
            v.close()
        c.stop()


def bench_ingest(nodes: int, writers: int, seconds: float, runs: int, tmp: Path) -> None:
    for setup in ("sqlite", "postgresql", "cluster", "cluster_watched"):
        results = [_one_ingest(setup, nodes, writers, seconds, tmp) for _ in range(runs)]
        med = {k: statistics.median(r[k] for r in results) for k in results[0]}
        node_keys = sorted(k for k in med if k.startswith("node"))
        line = {
            "figure": "ingest_points_per_s",
            "setup": setup,
            "nodes": len(node_keys),
            "writers": writers,
            "batch": f"{OPS} ops x {POINTS} points",
            "median": round(med["points_per_s"]),
            "runs": [round(r["points_per_s"]) for r in results],
            "node_cpu_s_per_M": [round(med[k], 2) for k in node_keys],
            "nodes_cpu_s_per_M": round(sum(med[k] for k in node_keys), 2),
        }
        if "postgres" in med:
            line["postgres_cpu_s_per_M"] = round(med["postgres"], 2)
        if "redis" in med:
            line["redis_cpu_s_per_M"] = round(med["redis"], 2)
        common.emit(**line)


# -- latency --------------------------------------------------------------------------------------------------


def bench_latency(nodes: int, points: int, tmp: Path) -> None:
    c = Cluster(tmp / "latency", nodes, nginx=False).start()
    env = "latency"
    try:
        across, same = LiveViewer(c.urls[1], [env]).start(), LiveViewer(c.urls[0], [env]).start()
        sent: dict[float, float] = {}
        with livepanel.Panel(c.urls[0], env=env, spool_dir=tmp / "spool-latency") as panel:
            panel.line(-1, 0.0, win="w")  # the window exists: what follows are appends
            assert panel.flush(10)
            for i in range(points):
                sent[float(i)] = time.monotonic()
                panel.line(i, float(i), win="w")
                time.sleep(0.02)
            assert panel.flush(10)
        final = int(get(c.urls[0], "/api/v1/envs")[1]["envs"][0]["seq"])
        for name, viewer in (("across_nodes", across), ("same_node", same)):
            assert viewer.wait_seq(env, final, 15) and not viewer.problems, viewer.problems
            ms = [
                (t - sent[float(x)]) * 1000
                for _, t, op in viewer.changes(env)
                if op.get("op") == "line"
                for x in np.asarray(op["x"]).tolist()
                if x in sent
            ]
            assert len(ms) == points, f"{name}: {len(ms)} of {points} points arrived"
            p50, p99 = np.percentile(ms, [50, 99])
            common.emit(figure="call_to_viewer_ms", path=name, nodes=nodes, p50=round(p50, 2), p99=round(p99, 2),
                        max=round(max(ms), 2), samples=len(ms), send_interval_ms=10, target="p99 <= 25",
                        ok=bool(p99 <= 25))  # fmt: skip
        across.close()
        same.close()
    finally:
        c.stop()


# -- resume after a node loss -----------------------------------------------------------------------------


def _one_resume(c: Cluster, run: int, page_backoff: bool, tmp: Path) -> tuple[float, float]:
    env = f"resume{run}-{int(page_backoff)}"
    viewer = LiveViewer([c.urls[0], c.url], [env], page_backoff=page_backoff).start()
    panel = livepanel.Panel(c.urls[1:], env=env, spool_dir=tmp / f"spool-resume{run}", max_backoff=0.2)
    halt = threading.Event()

    def training() -> None:
        k = 0
        while not halt.is_set():
            panel.line(k, float(k), win="w")
            k += 1
            time.sleep(0.01)

    writer = threading.Thread(target=training, daemon=True)
    killed = 0.0
    try:
        writer.start()
        deadline = time.monotonic() + 15
        while viewer.seq(env) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        before = viewer.seq(env)
        killed = time.monotonic()  # SIGKILL goes now; kill() returns once the node is gone
        c.kill(0)
        deadline = killed + 20
        back = None
        while back is None and time.monotonic() < deadline:
            with viewer.lock:
                later = [t for k, e, s, t, _ in viewer.events if e == env and s > before and t > killed]
            back = min(later) if later else None
            time.sleep(0.005)
        assert back is not None, "the viewer did not come back"
        reconnected = viewer.connects[-1][0] - killed
        halt.set()
        writer.join(10)
        assert panel.flush(20)
        final = max(e["seq"] for e in get(c.urls[1], "/api/v1/envs")[1]["envs"] if e["name"] == env)
        assert viewer.wait_seq(env, final, 15) and not viewer.problems, viewer.problems  # gap-free
        return back - killed, reconnected
    finally:
        halt.set()
        panel.close(timeout=5)
        viewer.close()
        if killed:
            c.revive(0)


def bench_resume(nodes: int, runs: int, tmp: Path) -> None:
    c = Cluster(tmp / "resume", nodes).start()
    try:
        for page_backoff in (True, False):
            results = [_one_resume(c, run, page_backoff, tmp) for run in range(runs)]
            back = [r[0] for r in results]
            common.emit(figure="resume_after_node_loss_s", reconnect="page" if page_backoff else "at once",
                        nodes=nodes, median=round(statistics.median(back), 3), runs=[round(b, 3) for b in back],
                        reconnected_s=[round(r[1], 3) for r in results], target="<= 2",
                        ok=statistics.median(back) <= 2)  # fmt: skip
    finally:
        c.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0, help="ingest: length of each run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--writers", type=int, default=6, help="ingest: writer processes")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--points", type=int, default=500, help="latency: points sent")
    parser.add_argument("--only", help="comma-separated: ingest,latency,resume")
    args = parser.parse_args()
    if args.nodes < 2 or args.runs < 1 or args.writers < 1 or args.points < 1:
        parser.error("--nodes must be at least 2; --runs, --writers and --points at least 1")
    only = set(args.only.split(",")) if args.only else {"ingest", "latency", "resume"}
    if only - {"ingest", "latency", "resume"}:
        parser.error(f"--only: unknown {', '.join(sorted(only - {'ingest', 'latency', 'resume'}))}")
    with tempfile.TemporaryDirectory(prefix="livepanel-bench-cluster-") as d:
        tmp = Path(d)
        if "latency" in only:
            bench_latency(args.nodes, args.points, tmp)
        if "resume" in only:
            bench_resume(args.nodes, args.runs, tmp)
        if "ingest" in only:
            bench_ingest(args.nodes, args.writers, args.seconds, args.runs, tmp)


if __name__ == "__main__":
    main()
