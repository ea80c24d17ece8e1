"""HTTP transport on the standard library: one keep-alive connection per user.

The sender thread owns one `Transport`; reads from user threads make their own,
so no connection is ever shared between threads.
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.parse
from typing import Any

from livepanel import protocol

DEFAULT_URL = "http://127.0.0.1:8097"


def resolve_url(url: str | None) -> str:
    """The server URL: the argument, else $LIVEPANEL_URL, else the local default."""
    url = url or os.environ.get("LIVEPANEL_URL") or DEFAULT_URL
    if not isinstance(url, str):
        raise TypeError(f"url must be a string such as {DEFAULT_URL!r}, got {type(url).__name__}")
    if "://" not in url:
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url must look like {DEFAULT_URL!r}, got {url!r}")
    return url.rstrip("/")


def resolve_token(token: str | None) -> str | None:
    """The token: the argument, else $LIVEPANEL_TOKEN, else none."""
    token = token if token is not None else os.environ.get("LIVEPANEL_TOKEN")
    if token is not None and not isinstance(token, str):
        raise TypeError(f"token must be a string, got {type(token).__name__}")
    return token or None


class HTTPError(Exception):
    """An answer other than 200; `status` and the server's `message` say why."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class Transport:
    """A keep-alive HTTP connection that reconnects after any failure."""

    def __init__(self, url: str, token: str | None, timeout: float = 10.0):
        parts = urllib.parse.urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.https else 80)
        self.base = parts.path.rstrip("/") + protocol.API
        self.timeout = timeout
        self.headers = {"Content-Type": "application/msgpack", "Accept": "application/msgpack"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            self._conn = cls(self.host, self.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def request(
        self, method: str, path: str, body: bytes | None = None, query: dict | None = None
    ) -> tuple[int, bytes]:
        """One request; raises OSError (incl. timeouts) and http.client errors on transport failure."""
        target = self.base + path
        if query:
            target += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        conn = self._connection()
        try:
            conn.request(method, target, body=body, headers=self.headers)
            resp = conn.getresponse()
            data = resp.read()
        except BaseException:
            self.close()
            raise
        if resp.will_close:
            self.close()
        return resp.status, data

    def call(self, method: str, path: str, body: bytes | None = None, **query: Any) -> Any:
        """A request whose answer must be 200: returns the decoded msgpack body, else raises HTTPError."""
        status, data = self.request(method, path, body, query)
        if status != 200:
            raise HTTPError(status, error_message(data))
        return protocol.decode_arrays(protocol.unpackb(data))


def error_message(data: bytes) -> str:
    """The server's `{"error": msg}` text, or the raw body when it is not that."""
    return error_details(data)[0]


def error_details(data: bytes) -> tuple[str, int | None]:
    """The server's error text, and the index of the refused operation when it names one (`"op"`)."""
    for decode in (json.loads, protocol.unpackb):
        try:
            obj = decode(data)
        except ValueError:
            continue
        if isinstance(obj, dict) and "error" in obj:
            op = obj.get("op")
            return str(obj["error"]), op if type(op) is int and op >= 0 else None
    return data[:500].decode("utf-8", "replace") or "(empty answer)", None
