"""Client benchmarks: per-call cost, end-to-end throughput and call-to-viewer latency.

Run by hand (not in CI): `python benchmarks/bench_client.py [--runs 3]`. Starts its own server on a free
loopback port (SQLite store in a temporary directory) and stops it. Prints one JSON line per figure,
with the median over the runs and each run's value.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import statistics
import threading
import time

import common
import numpy as np

import livepanel
from livepanel import protocol


def emit(name: str, runs: list[float], unit: str, target: str = "", **extra) -> None:
    row = {
        "figure": name,
        "median": round(statistics.median(runs), 3),
        "unit": unit,
        "runs": [round(r, 3) for r in runs],
    }
    if target:
        row["target"] = target
    row.update(extra)
    common.emit(**row)


def call_cost(url: str, spool: str, n: int = 100_000) -> tuple[float, float]:
    """Median and p99 (µs) of `panel.line(step, loss, win="loss")` over n calls."""
    p = livepanel.Panel(url, env="bench-calls", spool_dir=spool, replay_spool=False)
    p.line(0, 0.0, win="loss")
    p.flush(5)
    times = np.empty(n)
    clock = time.perf_counter_ns
    line = p.line
    for step in range(n):
        t0 = clock()
        line(step, 0.5, win="loss")
        times[step] = clock() - t0
    p.close(timeout=10)
    return float(np.median(times)) / 1e3, float(np.percentile(times, 99)) / 1e3


def kind_cost(url: str, spool: str, kind: str, n: int = 200) -> float:
    """Median µs in the call for an image (3x256x256 uint8) or a histogram of 100,000 samples."""
    p = livepanel.Panel(url, env="bench-kinds", spool_dir=spool, replay_spool=False)
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (3, 256, 256), dtype=np.uint8)
    samples = rng.normal(size=100_000)
    times = []
    for step in range(n):
        t0 = time.perf_counter_ns()
        if kind == "image":
            p.image(img, win="img", step=step)
        else:
            p.histogram(samples, win="hist", step=step)
        times.append(time.perf_counter_ns() - t0)
        if step % 20 == 19:
            p.flush(30)  # keep the server's queue short so that the runs stay comparable
    p.close(timeout=30)
    return statistics.median(times) / 1e3


def throughput(url: str, spool: str, n: int = 1_000_000) -> float:
    """Scalar points per second from the first call to the last acknowledgement."""
    p = livepanel.Panel(url, env="bench-throughput", spool_dir=spool, replay_spool=False)
    p.line(0, 0.0, win="w")
    p.flush(5)
    line = p.line
    t0 = time.perf_counter()
    for step in range(n):
        line(step, 0.5, win="w")
    ok = p.flush(120)
    elapsed = time.perf_counter() - t0
    p.close(timeout=5)
    if not ok:
        raise RuntimeError("throughput run did not flush")
    return n / elapsed


class Viewer:
    """A websocket subscriber in a thread: records when each change's first y value arrives."""

    def __init__(self, port: int, env: str):
        self.port, self.env = port, env
        self.arrivals: dict[float, float] = {}
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),), daemon=True)
        self.stop_flag = False
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("viewer did not subscribe")

    async def _main(self) -> None:
        from tornado.websocket import websocket_connect

        conn = await websocket_connect(f"ws://127.0.0.1:{self.port}/api/v1/socket")
        await conn.read_message()  # hello
        await conn.write_message(protocol.packb({"type": "subscribe", "envs": [{"env": self.env}]}), binary=True)
        self.ready.set()
        for _ in range(1_000_000):
            if self.stop_flag:
                break
            try:
                frame = await asyncio.wait_for(conn.read_message(), 0.2)
            except TimeoutError:
                continue
            if frame is None:
                break
            now = time.time()
            msg = protocol.unpackb(frame)
            if msg.get("type") == "change" and msg["op"].get("op") == "line":
                for y in protocol.decode_array(msg["op"]["y"]).tolist():
                    self.arrivals.setdefault(y, now)
        conn.close()

    def stop(self) -> None:
        self.stop_flag = True
        self.thread.join(5)


def latency(srv: common.ServerProcess, spool: str, n: int = 100, gap: float = 0.01) -> tuple[float, float]:
    """p50 ms from the call to a subscribed viewer: livepanel Panel, then a synchronous POST per point."""
    results = []
    for mode in ("panel", "sync"):
        env = f"bench-latency-{mode}-{time.time_ns()}"
        seed = livepanel.Panel(srv.url, env=env, spool_dir=spool, replay_spool=False)
        seed.line(0, -1.0, win="w")  # the env must exist before the viewer subscribes
        seed.close(timeout=5)
        viewer = Viewer(srv.port, env)
        time.sleep(0.2)
        sent: dict[float, float] = {}
        if mode == "panel":
            p = livepanel.Panel(srv.url, env=env, spool_dir=spool, replay_spool=False)
            for i in range(n):
                sent[float(i)] = time.time()
                p.line(i, float(i), win="w")
                time.sleep(gap)
            p.flush(10)
            p.close(timeout=5)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            for i in range(n):
                sent[float(i)] = time.time()
                body = protocol.packb({"client": f"sync-bench-{env[-8:]}", "seq": i + 1, "ops": [
                    {"op": "line", "env": env, "win": "w", "x": np.array([float(i)]), "y": np.array([float(i)]),
                     "t": np.array([sent[float(i)]])}]})  # fmt: skip
                conn.request("POST", "/api/v1/ingest", body, {"Content-Type": "application/msgpack"})
                conn.getresponse().read()
                time.sleep(gap)
            conn.close()
        deadline = time.monotonic() + 10
        while len(viewer.arrivals) < n + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        viewer.stop()
        lat = [(viewer.arrivals[k] - t) * 1e3 for k, t in sent.items() if k in viewer.arrivals]
        if len(lat) < n:
            raise RuntimeError(f"{mode}: only {len(lat)} of {n} points reached the viewer")
        results.append(statistics.median(lat))
    return results[0], results[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with common.server() as srv:
        work = str(srv.data_dir.parent)
        spool = os.path.join(work, "spool")
        down = f"http://127.0.0.1:{common.free_port()}"
        up = [call_cost(srv.url, spool) for _ in range(args.runs)]
        emit("line_call_median_server_up", [u[0] for u in up], "us", "<= 3")
        emit("line_call_p99_server_up", [u[1] for u in up], "us", "<= 20")
        dn = [call_cost(down, os.path.join(work, f"spool-down{i}")) for i in range(args.runs)]
        emit("line_call_median_server_down", [d[0] for d in dn], "us", "<= 3")
        emit("line_call_p99_server_down", [d[1] for d in dn], "us", "<= 20")
        emit("image_3x256x256_call", [kind_cost(srv.url, spool, "image") for _ in range(args.runs)], "us", "<= 100")
        emit("histogram_100k_call", [kind_cost(srv.url, spool, "hist") for _ in range(args.runs)], "us", "<= 150")
        emit("scalar_throughput", [throughput(srv.url, spool) for _ in range(args.runs)], "points/s", ">= 200000")
        lat = [latency(srv, spool) for _ in range(args.runs)]
        emit("latency_p50_panel", [v[0] for v in lat], "ms", "<= 5")
        emit("latency_p50_sync_post", [v[1] for v in lat], "ms")
        emit("latency_ratio_panel_over_sync", [v[0] / v[1] for v in lat], "x")


if __name__ == "__main__":
    main()
