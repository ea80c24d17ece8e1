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


def reopened(record: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """A finished (or failed) run that gets data again is running: the new record, else None."""
    if kind in KINDS and record["status"] in ("finished", "failed"):
        return dict(record, status="running")
    return None


def loaded(stored: dict[str, Any] | None) -> dict[str, Any]:
    """A record read back from storage (None: an env without one)."""
    return empty() | (stored or {})


# Operations that change when a run was last updated: what writers send, not what viewers and the server do.
QUIET_OPS = ("alert", "dismiss", "mute", "layout")
