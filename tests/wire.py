"""Raw wire helpers for tests that talk to the server without the client."""

from __future__ import annotations

import json
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
        with err:
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
        with err:
            return err.code, json.loads(err.read() or b"{}")


def window(url: str, env: str, win: str, **query: Any) -> dict:
    status, state = get(url, "/api/v1/window", env=env, win=win, **query)
    assert status == 200, state
    return state


def line_op(env: str, win: str, x, y, name: str = "", update: str = "append") -> dict:
    return {
        "op": "line",
        "env": env,
        "win": win,
        "name": name,
        "update": update,
        "x": np.asarray(x, dtype="<f8"),
        "y": np.asarray(y, dtype="<f8"),
    }


class Socket:
    """A websocket viewer for tests (asyncio): collects decoded messages."""

    def __init__(self, url: str, token: str | None = None, origin: str | None = None):
        self.url = url.replace("http://", "ws://") + "/api/v1/socket"
        self.token, self.origin = token, origin
        self.conn = None
        self.messages: list[dict] = []

    async def connect(self):
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        headers = {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.origin:
            headers["Origin"] = self.origin
        self.conn = await websocket_connect(HTTPRequest(self.url, headers=headers), max_message_size=1 << 30)
        return self

    async def send(self, msg: dict) -> None:
        await self.conn.write_message(protocol.packb(msg), binary=True)

    async def subscribe(self, envs: list[dict], width: int | None = None) -> None:
        await self.send({"type": "subscribe", "envs": envs, "width": width})

    async def recv(self, timeout: float = 10.0) -> dict:
        import asyncio

        frame = await asyncio.wait_for(self.conn.read_message(), timeout)
        if frame is None:
            raise ConnectionError("socket closed")
        msg = protocol.decode_arrays(protocol.unpackb(frame))
        self.messages.append(msg)
        return msg

    async def until(self, predicate, timeout: float = 10.0) -> dict:
        """Read messages until one satisfies predicate; return it."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            msg = await self.recv(max(0.01, deadline - time.monotonic()))
            if predicate(msg):
                return msg
            if time.monotonic() > deadline:
                raise TimeoutError("no matching message")

    def close(self) -> None:
        """Close now, socket included (a closing handshake would outlive the test's event loop)."""
        if self.conn is not None:
            protocol_ = self.conn.protocol
            self.conn.close()
            if protocol_ is not None:
                protocol_.stream.close()
            self.conn = None


def arun(coro):
    """asyncio.run in a thread of its own: the browser tests' Playwright keeps a loop in the main thread."""
    import asyncio
    import threading

    result: dict = {}

    def target():
        try:
            result["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the test's thread
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")
