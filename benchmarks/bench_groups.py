"""Group curve benchmark (issue 19, item 11). Run by hand: python benchmarks/bench_groups.py [--quick]

Target: a group curve over 50 runs of 100,000 points each in <= 300 ms on the server. Starts its own
server on a free loopback port (--store memory, so that loading is quick), loads two groups of runs with
the raw wire client, then times `GET /api/v1/group` (the whole request, seen by the client) and the
curve's computation in this process on the same points (the server's share without HTTP and msgpack):

- aligned: every run logs the same steps (seeds logging every 10 steps): the matrix fast path;
- misaligned: run i logs every 1 + i % 5 steps from an offset of i % 7 (500,000 union steps);
- misaligned_float: the same with a fractional offset per run (5,000,000 distinct steps, the worst case).

Prints one JSON line per figure: median, min and max over --repeats runs (at least 5), for both bands
(the computation also with its median CPU time, which a busy machine disturbs less). Stops the server it
started, by its pid.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import urllib.parse
import urllib.request

import common
import numpy as np
from wire import line_op, send_ops

from livepanel import protocol
from livepanel.server.groups import clean, curve


def emit(**fields) -> None:
    """One figure, with the machine's load average (other processes make wall times longer)."""
    common.emit(**fields, loadavg_1min=round(os.getloadavg()[0], 2))


def groups(runs: int, points: int) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    rng = np.random.default_rng(0)
    out: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {"aligned": {}, "misaligned": {}, "misaligned_float": {}}
    for i in range(runs):
        y = (2.0 * np.exp(-np.arange(points) / points * 5) + 0.05 * rng.normal(size=points)).astype("f4")
        out["aligned"][f"aligned/{i}"] = (10.0 * np.arange(points), y)
        steps = float(i % 7) + (1 + i % 5) * np.arange(points, dtype="f8")
        out["misaligned"][f"misaligned/{i}"] = (steps, y)
        out["misaligned_float"][f"misaligned_float/{i}"] = (steps + rng.random(), y)
    return out


def stats(times: list[float]) -> dict[str, float]:
    ms = [t * 1000 for t in times]
    return {"median_ms": round(statistics.median(ms), 1), "min_ms": round(min(ms), 1), "max_ms": round(max(ms), 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10 runs of 10,000 points, for a smoke run")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per figure (at least 5)")
    args = parser.parse_args()
    runs, points = (10, 10_000) if args.quick else (50, 100_000)
    repeats = max(5, args.repeats)
    data = groups(runs, points)
    with common.server(store="memory") as srv:
        for kind, group in data.items():
            for i, (env, (x, y)) in enumerate(group.items()):
                op = line_op(env, "loss", x, y, name="train")
                status, body = send_ops(srv.url, [op], client=f"bench-{kind}-{i}")
                assert status == 200, body
        for kind, group in data.items():
            query = "&".join(f"env={urllib.parse.quote(e)}" for e in group)
            for band in ("minmax", "std"):
                url = f"{srv.url}/api/v1/group?win=loss&trace=train&band={band}&{query}"
                times, size = [], 0
                deadline = time.monotonic() + 120
                for _ in range(repeats):  # bounded in count and in time
                    start = time.perf_counter()
                    with urllib.request.urlopen(url, timeout=60) as resp:
                        body = resp.read()
                    times.append(time.perf_counter() - start)
                    size = len(body)
                    if time.monotonic() > deadline:
                        break
                answer = protocol.decode_arrays(protocol.unpackb(body))
                assert len(answer["envs"]) == runs and len(answer["x"]) <= 2000
                emit(
                    figure="group_curve_http_ms",
                    steps=kind,
                    band=band,
                    runs=runs,
                    points_per_run=points,
                    repeats=len(times),
                    answer_bytes=size,
                    **stats(times),
                    target="<= 300",
                )
                points_of = [(x.copy(), y.copy()) for x, y in group.values()]
                times, cpu = [], []
                for _ in range(repeats):
                    start, used = time.perf_counter(), time.process_time()
                    curve([clean(x, y) for x, y in points_of], band, 2000)
                    times.append(time.perf_counter() - start)
                    cpu.append(time.process_time() - used)
                emit(
                    figure="group_curve_compute_ms",
                    steps=kind,
                    band=band,
                    runs=runs,
                    **stats(times),
                    cpu_median_ms=round(statistics.median(cpu) * 1000, 1),  # less sensitive to a busy machine
                )


if __name__ == "__main__":
    main()
