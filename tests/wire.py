"""Raw wire helpers for tests that talk to the server without the client."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import numpy as np

from livepanel import protocol


def post(url: str, body: bytes, token: str | None = None, path: str = "/api/v1/ingest") -> tuple[int, Any]:
    """POST raw bytes; return (status, decoded answer). Errors are JSON, acks msgpack."""
    headers = {"Content-Type": "application/msgpack"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url + path, body, headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, protocol.unpackb(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def send_ops(url: str, ops: list[dict], client: str = "test-client-0", seq: int = 1, token: str | None = None):
    """Send one batch of operations (numpy arrays allowed anywhere) and return (status, answer)."""
    return post(url, protocol.packb({"client": client, "seq": seq, "ops": ops}), token)


def get(url: str, path: str, token: str | None = None, **query: Any) -> tuple[int, Any]:
    """GET a read endpoint; msgpack answers come back with arrays as numpy."""
    qs = urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
    req = urllib.request.Request(url + path + ("?" + qs if qs else ""))
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            data = resp.read()
            if resp.headers.get("Content-Type", "").startswith("application/msgpack"):
                return resp.status, protocol.decode_arrays(protocol.unpackb(data))
            return resp.status, data
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def window(url: str, env: str, win: str, **query: Any) -> dict:
    status, state = get(url, "/api/v1/window", env=env, win=win, **query)
    assert status == 200, state
    return state


def line_op(env: str, win: str, x, y, name: str = "", update: str = "append") -> dict:
    return {"op": "line", "env": env, "win": win, "name": name, "update": update,
            "x": np.asarray(x, dtype="<f8"), "y": np.asarray(y, dtype="<f8")}


def token_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "LIVEPANEL_TOKEN"}
