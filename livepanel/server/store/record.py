"""An env's run record: config, summary, status and color (DESIGN §7, "An env carries run metadata").

One record per env, replaced whole by each change (a new dict: the old one may be in messages sent),
versioned with the env's seq like a window. Metrics are not here: they are derived from the series.
"""

from __future__ import annotations

from typing import Any

from livepanel.protocol import KINDS


def empty() -> dict[str, Any]:
    return {"config": {}, "summary": {}, "status": None, "color": None}


def merged(record: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    """The record after a validated `run` op: config and summary merged into (or with merge false,
    replacing) what the env has; status and color set when the op names them."""
    out = dict(record)
    for field in ("config", "summary"):
        if field in op:
            out[field] = {**record[field], **op[field]} if op["merge"] else dict(op[field])
    for field in ("status", "color"):
        if field in op:
            out[field] = op[field]
    return out


def reopens(record: dict[str, Any], kind: str) -> bool:
    """Whether an operation of this kind makes a finished (or failed) run running again: data does."""
    return kind in KINDS and record["status"] in ("finished", "failed")


def loaded(stored: dict[str, Any] | None) -> dict[str, Any]:
    """A record read back from storage (None: an env without one)."""
    return empty() | (stored or {})


# Operations that change when a run was last updated: what writers send, not what viewers and the server do.
QUIET_OPS = ("alert", "dismiss", "mute", "layout", "property", "projection")  # projection: t-SNE by the server


def quiet(op: dict[str, Any]) -> bool:
    """Whether an operation leaves the time a run was last updated alone: QUIET_OPS, and a `run` op that
    sets its colour alone (how it is shown, from a page or a writer: not a sign that the run is alive)."""
    return op["op"] in QUIET_OPS or (op["op"] == "run" and op.keys() <= {"op", "env", "merge", "color"})
