"""Cost of `livepanel.integrations.torch.watch` on a training step of the digits model.

Run by hand (not in CI): `python benchmarks/bench_watch.py [--runs 5] [--steps 2000]`. Starts its own
server (tests/serverproc.py, SQLite in a temporary directory). The model is examples/train_digits.py's
MLP (64-128-64-10, Adam, batches of 64, one torch thread). For watch at every=100, 10 and 1, each also
with activations=True (layer outputs), and for the steps between logging steps alone (every=10**9, its
first steps untimed), each run times pairs of blocks (unwatched, then watched) and takes the median
ratio of the pairs, so load from other processes hits both sides alike. Prints one JSON line per
figure (median over the runs and each run's value): the unwatched step time, the overhead in percent
per setting (target: < 5% at every=100; also in process CPU time, sender included, which load from
other processes disturbs far less), and the cost of one logging step (from every=1, without and
with activations) with the overhead it implies at every=100. Last, the wrapper's own cost per call
between logging steps, on a one-parameter module whose forward does nothing (minimum of repeats: robust
to load from other processes, unlike the paired blocks).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import timeit

import common

sys.path.insert(0, str(common.ROOT / "examples"))

import torch  # noqa: E402
from torch import nn  # noqa: E402
from train_digits import load_data, make_model  # noqa: E402

import livepanel  # noqa: E402
from livepanel.integrations.torch import unwatch, watch  # noqa: E402

CPU: list[float] = []  # process CPU seconds per step of the last time_steps call (training + sender threads)


def time_steps(model, opt, x, y, steps: int, batch: int = 64) -> float:
    """Mean seconds per training step (forward, loss, backward, optimizer step); the process CPU time
    per step goes to CPU[0] (on a loaded machine it varies far less than the wall time)."""
    n = len(x)
    idx = [torch.randint(0, n, (batch,)) for _ in range(steps)]
    start, cpu = time.perf_counter(), time.process_time()
    for i in idx:
        loss = nn.functional.cross_entropy(model(x[i]), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    CPU[:] = [(time.process_time() - cpu) / steps]
    return (time.perf_counter() - start) / steps


SETTINGS = [(100, False), (100, True), (10, False), (1, False), (1, True), (BETWEEN := 10**9, False), (BETWEEN, True)]


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def wrapper_ns(panel: livepanel.Panel, reps: int = 5) -> dict[str, float]:
    """ns per call of a do-nothing module: unwatched, and watched between logging steps (with and without
    activations); the minimum over interleaved repeats."""
    model, x = Tiny(), torch.ones(1)
    best: dict[str, float] = {}
    for _ in range(reps):
        for mode in ("unwatched", "watched", "watched_activations"):
            if mode != "unwatched":
                watch(panel, model, every=BETWEEN, activations=mode == "watched_activations")
                model(x), model(x)  # the logging step 0, then its update ratio
            t = min(timeit.repeat(lambda: model(x), number=2000, repeat=3)) / 2000 * 1e9
            unwatch(model)
            best[mode] = min(best.get(mode, t), t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="runs (each a median over its block pairs)")
    ap.add_argument("--pairs", type=int, default=6, help="unwatched/watched block pairs per run and setting")
    ap.add_argument("--steps", type=int, default=500, help="steps per block (a multiple of 100)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    x, y, _, _ = load_data()
    base: list[float] = []
    ratios: dict[tuple, list[float]] = {s: [] for s in SETTINGS}
    cpu_ratios: dict[tuple, list[float]] = {s: [] for s in SETTINGS}
    log_cost: dict[bool, list[float]] = {False: [], True: []}
    with common.server(store="memory") as server:
        with livepanel.Panel(server.url, env="bench/watch", spool_dir=server.data_dir.parent / "spool") as panel:
            model = make_model()
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            time_steps(model, opt, x, y, 300)  # warm-up (allocator, autograd caches)
            for _ in range(args.runs):
                for every, acts in SETTINGS:
                    pairs, cpu_pairs = [], []
                    for _ in range(args.pairs):  # off/on blocks side by side: load drifts hit both
                        off = time_steps(model, opt, x, y, args.steps)
                        off_cpu = CPU[0]
                        watch(panel, model, every=every, activations=acts)
                        if every == BETWEEN:  # the logging step and the next (its update ratio), untimed
                            time_steps(model, opt, x, y, 2)
                            panel.flush(60)
                        on = time_steps(model, opt, x, y, args.steps)
                        on_cpu = CPU[0]
                        unwatch(model)
                        panel.flush(60)
                        pairs.append((off, on))
                        cpu_pairs.append((off_cpu, on_cpu))
                    ratios[every, acts].append(statistics.median(on / off for off, on in pairs))
                    cpu_ratios[every, acts].append(statistics.median(on / off for off, on in cpu_pairs))
                    if every == 1:
                        log_cost[acts].append(statistics.median(on - off for off, on in pairs))
                    base.append(statistics.median(off for off, _ in pairs))
            calls = wrapper_ns(panel)
            panel.flush(60)
    step = statistics.median(base)
    common.emit(**{"figure": "step_us", "median": round(step * 1e6, 1), "runs": [round(v * 1e6, 1) for v in base]})
    for every, acts in SETTINGS:
        runs = [round(100 * (r - 1), 2) for r in ratios[every, acts]]
        cpu = [round(100 * (r - 1), 2) for r in cpu_ratios[every, acts]]
        figure = "between_logging_steps_overhead_pct" if every == BETWEEN else "watch_overhead_pct"
        common.emit(**{"figure": figure, "every": None if every == BETWEEN else every, "activations": acts,
                       "median": round(statistics.median(runs), 2), "runs": runs,
                       "cpu_median": round(statistics.median(cpu), 2), "cpu_runs": cpu,
                       "target": 5.0 if every == 100 else None})  # fmt: skip
    for acts, costs in log_cost.items():
        cost = statistics.median(costs)
        common.emit(**{"figure": "logging_step_cost_us", "activations": acts, "median": round(cost * 1e6, 1),
                       "runs": [round(v * 1e6, 1) for v in costs],
                       "derived_overhead_pct_every_100": round(100 * cost / 100 / step, 2)})  # fmt: skip
    for mode in ("watched", "watched_activations"):
        extra = calls[mode] - calls["unwatched"]
        common.emit(**{"figure": "wrapper_ns_per_step_between_logging_steps", "mode": mode, "ns": round(extra),
                       "pct_of_step": round(100 * extra / (step * 1e9), 3)})  # fmt: skip


if __name__ == "__main__":
    main()
