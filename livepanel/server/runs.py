"""GET /api/v1/runs[?filter=EXPR&stale=SECONDS]: one row per env, for comparing runs.

A row is the env's run record (config, summary, status, color: store/record.py), its times, its alert
count, and metrics derived from its line traces (last, min, max and the step of the last point; each
series keeps its min and max up to date, so a call reads only the points appended since the last).
"""

from __future__ import annotations

import time
from typing import Any

from livepanel import runs_filter
from livepanel.server.handlers import BaseHandler
from livepanel.server.store import Store
from livepanel.server.store.model import Env

STALE_AFTER = 300.0  # seconds without a change after which a running run is stale


def status(env: Env, now: float, stale_after: float = STALE_AFTER) -> str:
    """finished or failed as the writer said (until data comes again); else running, or stale when quiet."""
    said = env.run["status"]
    if said in ("finished", "failed"):
        return said
    if env.updated is None or now - env.updated > stale_after:
        return "stale"
    return "running"


def metrics(env: Env) -> tuple[dict[str, dict[str, float]], int]:
    """Every line trace's {last, min, max, step} by its log key ("win/trace", or "win" for trace ""), and the
    highest step of them (-1 without points)."""
    out: dict[str, dict[str, float]] = {}
    steps = -1.0
    for w in env.windows.values():
        if w.kind != "line":
            continue
        for name, series in w.traces.items():
            stats = series.stats()
            if stats is None:
                continue
            lo, hi, x, y = stats
            out[f"{w.win}/{name}" if name else w.win] = {"last": y, "min": lo, "max": hi, "step": x}
            steps = max(steps, x)
    return out, int(steps) if steps == steps and abs(steps) < 2**63 else -1


def row(env: Env, now: float, stale_after: float = STALE_AFTER) -> dict[str, Any]:
    found, steps = metrics(env)
    return {
        "env": env.name,
        "config": env.run["config"],
        "summary": env.run["summary"],
        "color": env.run["color"],
        "metrics": found,
        "status": status(env, now, stale_after),
        "alerts": sum(1 for a in env.alerts if not a.get("dismissed")),
        "steps": steps,
        "created": env.created,
        "updated": env.updated,
    }


class RunsHandler(BaseHandler):
    store: Store

    def get(self) -> None:
        text = self.arg("filter")
        try:
            chosen = runs_filter.parse(text) if text is not None else None
        except runs_filter.FilterError as exc:
            self.fail(400, f"filter: {exc}")
        stale = self.arg("stale", float, STALE_AFTER)
        if not 0 <= stale <= 10**9:
            self.fail(400, f"stale must be a number of seconds from 0 to 1e9, got {stale}")
        now = time.time()
        rows = [row(e, now, stale) for e in self.store.state.envs.values()]
        if chosen is not None:
            rows = [r for r in rows if chosen.matches(r)]
        self.send({"runs": rows, "now": now})
