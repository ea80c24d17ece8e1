"""The client's HTTP transport: keep-alive against the real server, and the answers a proxy may give.

The proxy-shaped answers (chunked bodies, Connection: close, 100 Continue, broken or missing
answers) come from a scripted peer on a loopback socket: our server never sends them, a reverse
proxy in front of it may.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from livepanel.client.transport import Transport


class ScriptedPeer:
    """Accepts connections on 127.0.0.1 and answers each request with the next scripted bytes."""

    def __init__(self, answers: list[bytes | None]):
        self.answers = list(answers)
        self.requests: list[bytes] = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.answers:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(10)
                while self.answers:
                    request = self._read_request(conn)
                    if request is None:
                        break
                    self.requests.append(request)
                    answer = self.answers.pop(0)
                    if answer is None:  # hang up without answering
                        break
                    conn.sendall(answer)
                    if b"Connection: close" in answer:
                        break

    @staticmethod
    def _read_request(conn: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            body += conn.recv(65536)
        return head + b"\r\n\r\n" + body

    def close(self) -> None:
        self.sock.close()
        self.thread.join(5)


def answer(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.fixture
def peer(request):
    p = ScriptedPeer(request.param)
    yield p
    p.close()


@pytest.fixture
def transports():
    made: list[Transport] = []
    yield made
    for t in made:
        t.close()


def transport_to(peer: ScriptedPeer, made: list[Transport], timeout: float = 5.0) -> Transport:
    made.append(Transport(f"http://127.0.0.1:{peer.port}", "tok", timeout))
    return made[-1]


def test_keeps_one_connection_for_many_requests_to_the_server(server):
    t = Transport(server.url, None)
    try:
        for _ in range(50):
            status, body = t.request("GET", "/health")
            assert status == 200 and body
        sock = t._sock
        assert sock is not None
        t.request("GET", "/health")
        assert t._sock is sock  # still the same connection
    finally:
        t.close()


def test_large_bodies_both_ways_with_the_server(server):
    import numpy as np

    from livepanel import protocol

    n = 300_000  # about 7 MB up, and the same points back down
    x = np.arange(n, dtype=np.float64)
    ops = [{"op": "line", "env": "tr", "win": "big", "x": x, "y": x * 2}]
    t = Transport(server.url, None)
    try:
        status, body = t.request("POST", "/ingest", protocol.packb({"client": "transport-test", "seq": 1, "ops": ops}))
        assert status == 200, body
        got = t.call("GET", "/window", env="tr", win="big", full=1)
        assert np.array_equal(got["traces"][0]["y"], x * 2)
    finally:
        t.close()


CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n6;ext=1\r\npedia!\r\n0\r\nX-T: 1\r\n\r\n"


@pytest.mark.parametrize("peer", [[CHUNKED, answer(b"next")]], indirect=True)
def test_chunked_answer_with_extension_and_trailer_then_the_next_answer(peer, transports):
    t = transport_to(peer, transports)
    assert t.request("GET", "/a") == (200, b"wikipedia!")
    assert t.request("GET", "/b") == (200, b"next")
    assert peer.connections == 1


@pytest.mark.parametrize(
    "peer",
    [[b"HTTP/1.1 100 Continue\r\n\r\n" + answer(b"ok"), answer(b"x", "Connection: close"), answer(b"y")]],
    indirect=True,
)
def test_interim_answer_and_connection_close(peer, transports):
    t = transport_to(peer, transports)
    assert t.request("POST", "/ingest", b"abc") == (200, b"ok")
    assert t.request("GET", "/b") == (200, b"x")
    assert t._sock is None  # closed as the server said
    assert t.request("GET", "/c") == (200, b"y")
    assert peer.connections == 2
    assert peer.requests[0].startswith(b"POST /api/v1/ingest HTTP/1.1\r\n")
    assert b"\r\nContent-Length: 3\r\n" in peer.requests[0] and peer.requests[0].endswith(b"\r\n\r\nabc")
    assert b"\r\nAuthorization: Bearer tok\r\n" in peer.requests[0]


@pytest.mark.parametrize("peer", [[b"HTTP/1.0 200 OK\r\n\r\nuntil the end"]], indirect=True)
def test_answer_without_length_runs_to_the_close(peer, transports):
    t = transport_to(peer, transports)
    assert t.request("GET", "/a") == (200, b"until the end")
    assert t._sock is None


SHORT = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nshort"
BROKEN = [None, b"SSH-2.0-OpenSSH\r\n\r\n", answer(b"", "Content-Length: ten"), SHORT]


@pytest.mark.parametrize("peer", [[first, answer(b"after")] for first in BROKEN], indirect=True)
def test_broken_answers_raise_oserror_and_the_next_request_reconnects(peer, transports):
    t = transport_to(peer, transports)
    with pytest.raises(OSError) as err:
        t.request("GET", "/a")
    assert str(err.value)
    assert t._sock is None
    assert t.request("GET", "/b") == (200, b"after")


def test_no_answer_raises_timeout_error():
    quiet = socket.create_server(("127.0.0.1", 0))  # accepts (in the backlog), never answers
    try:
        t = Transport(f"http://127.0.0.1:{quiet.getsockname()[1]}", None, timeout=0.3)
        start = time.monotonic()
        with pytest.raises(TimeoutError, match="no answer|timed out"):
            t.request("GET", "/a")
        assert 0.2 < time.monotonic() - start < 5
    finally:
        quiet.close()


@pytest.mark.parametrize("token", ["a\r\nX-Evil: 1", "with space", "caf\u00e9"])
def test_a_token_that_would_break_the_request_is_refused(token):
    with pytest.raises(ValueError, match="token must be printable ASCII"):
        Transport("http://127.0.0.1:1", token)


def test_a_url_path_that_would_break_the_request_is_refused():
    with pytest.raises(ValueError, match="url path"):
        Transport("http://127.0.0.1:1/a b", None)
