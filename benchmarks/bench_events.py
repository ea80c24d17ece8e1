"""Latency of an event from a page's socket to its Python handler, on loopback (issue 20, item 6).

Run by hand (not in CI): `python benchmarks/bench_events.py [--runs 3] [--events 1000]`. Starts its own
server (tests/serverproc.py, SQLite in a temporary directory). A Panel registers a handler on a window
(`panel.on`, which opens its downlink); a page client (a websocket, as the browser's socket) sends key
events one at a time, each when the last one reached the handler, paced under the server's per-viewer rate
limit. The latency of an event is from just before the page client writes it to the start of the handler
call (same process, same clock): the server's checks, its fan-out to the downlink, the client's decode and
the hand-over to the handler thread. A second figure does the same for a properties edit (stored, then sent
as the pane's state) read back as the new value of `props[...]`. Prints one JSON line per figure: p50, p99
and max in ms (median over the runs, and each run's), with the target (p99 <= 50 ms) and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import threading
import time
from pathlib import Path

import common

import livepanel
from livepanel import protocol

PACE = 0.012  # seconds between events at least: under the server's 100 events a second per viewer


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def page_socket(url: str, env: str):
    from tornado.websocket import websocket_connect

    conn = await websocket_connect(url.replace("http://", "ws://") + "/api/v1/socket")
    await conn.write_message(protocol.packb({"type": "subscribe", "envs": [{"env": env}]}), binary=True)
    while True:  # hello, then the snapshot: the page watches the env
        msg = protocol.unpackb(await asyncio.wait_for(conn.read_message(), 10))
        if msg["type"] == "snapshot":
            return conn


def one_run(srv: common.ServerProcess, tmp: Path, events: int, kind: str) -> list[float]:
    env = f"bench-{kind}-{time.monotonic_ns()}"
    panel = livepanel.Panel(srv.url, env=env, spool_dir=tmp / "spool")
    arrived = threading.Event()
    stamp: dict[str, float] = {}
    latencies: list[float] = []
    if kind == "event":
        panel.text("press keys here", win="keys")

        def handler(event: dict) -> None:
            stamp["at"] = time.perf_counter()
            arrived.set()

        panel.on("keys", handler)
        win = "keys"
    else:
        props = panel.properties("controls", {"lr": 0.0})
        panel.on("controls", lambda event: (stamp.__setitem__("at", time.perf_counter()), arrived.set()))
        win = "controls"
    assert panel.flush(30), "the window was not stored"
    if not panel._downlink.connected.wait(30):
        raise RuntimeError("the downlink did not connect")

    async def drive() -> None:
        conn = await page_socket(srv.url, env)
        deadline = time.monotonic() + 60 + events * PACE * 4
        for i in range(events):
            if time.monotonic() > deadline:
                raise RuntimeError(f"gave up after {i} events")
            arrived.clear()
            if kind == "event":
                msg = {"type": "event", "env": env, "win": win, "event": "key", "key": "a", "key_code": 65}
            else:
                msg = {"type": "edit", "env": env, "win": win, "id": 0, "value": float(i + 1)}
            frame = protocol.packb(msg)
            start = time.perf_counter()
            await conn.write_message(frame, binary=True)
            ok = await asyncio.to_thread(arrived.wait, 5.0)
            if not ok:
                raise RuntimeError(f"event {i} did not reach its handler in 5 s")
            if kind == "edit" and props["lr"] != float(i + 1):
                raise RuntimeError(f"edit {i}: props read {props['lr']}")
            latencies.append((stamp["at"] - start) * 1000)
            await asyncio.sleep(max(0.0, PACE - (time.perf_counter() - start)))
        conn.close()

    asyncio.run(drive())
    panel.close()
    return latencies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--events", type=int, default=1000, help="events per run (at least 1000 for the p99)")
    args = ap.parse_args()
    with common.server() as srv:
        tmp = srv.data_dir.parent
        for kind, what in (("event", "key event: page socket -> handler"), ("edit", "properties edit -> props")):
            runs = [one_run(srv, tmp / f"{kind}{r}", args.events, kind) for r in range(args.runs)]
            p50 = [percentile(r, 0.5) for r in runs]
            p99 = [percentile(r, 0.99) for r in runs]
            common.emit(
                figure=what,
                events=args.events,
                runs=args.runs,
                p50_ms=round(statistics.median(p50), 3),
                p99_ms=round(statistics.median(p99), 3),
                max_ms=round(statistics.median(max(r) for r in runs), 3),
                p99_ms_runs=[round(v, 3) for v in p99],
                target_p99_ms=50,
                load=[round(v, 2) for v in os.getloadavg()],
            )


if __name__ == "__main__":
    main()
