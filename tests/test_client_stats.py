"""Panel.stats counts duplicates: a batch the server acknowledges as already stored (a retry whose first
ack was lost) counts in "duplicates", not in "batches", and is stored once.

The lost ack is real: a relay on loopback in front of a real server forwards the first ingest request,
lets the server store and answer it, and then drops the connection instead of passing the answer on,
as a network failure after the commit would. The client's own retry sends the same batch again.
"""

from __future__ import annotations

import logging
import socket
import threading

import numpy as np
from client_helpers import messages

import livepanel
from livepanel import protocol

DEADLINE = 10.0  # seconds any one socket wait of the relay may take


def read_message(sock: socket.socket, buf: bytes) -> tuple[bytes, bytes]:
    """One HTTP/1.1 message (head and Content-Length body) from `sock`, and the bytes read past it."""
    for _ in range(10_000):
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        data = sock.recv(1 << 16)
        if not data:
            raise ConnectionError("closed")
        buf += data
    head = buf[: end + 4]
    length = 0
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    for _ in range(100_000):
        if len(buf) >= end + 4 + length:
            break
        data = sock.recv(1 << 16)
        if not data:
            raise ConnectionError("closed")
        buf += data
    return buf[: end + 4 + length], buf[end + 4 + length :]


class LossyRelay:
    """Forwards HTTP requests to a server on loopback; the answers to the first `lose` ingest requests are
    lost (the connection to the client is closed after the server answered), or replaced by `answer`."""

    def __init__(self, target_port: int, lose: int = 1, answer: bytes | None = None):
        self.target_port, self.lose, self.answer = target_port, lose, answer
        self.lost = 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(DEADLINE)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.sockets: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self.closed = False
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self) -> None:
        for _ in range(100):
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed, or no client within the deadline
            if self.closed:
                conn.close()
                return
            th = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(th)
            th.start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=DEADLINE)
        client.settimeout(DEADLINE)
        self.sockets += [client, upstream]
        down = b""
        try:
            for _ in range(10_000):
                request, down = read_message(client, down)
                upstream.sendall(request)
                answer, _ = read_message(upstream, b"")
                with self.lock:
                    lost = request.startswith(b"POST ") and b"/ingest " in request and self.lost < self.lose
                    self.lost += lost
                if lost and self.answer is None:
                    return  # the server stored the batch; the client never hears so
                if lost:
                    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(self.answer), self.answer)
                client.sendall(answer)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        self.closed = True
        for sock in [self.listener, *self.sockets]:  # shutdown wakes a thread blocked in accept or recv
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.acceptor.join(DEADLINE)
        for th in self.threads:
            th.join(DEADLINE)


def logged_x(url: str, env: str, win: str) -> np.ndarray:
    """The x values a window holds, read straight from the server (not through the relay)."""
    reader = livepanel.Panel(url, env=env, replay_spool=False)
    try:
        return reader.get(win, flush=False)["traces"][0]["x"]
    finally:
        reader.close()


def test_a_retry_after_a_lost_ack_counts_as_a_duplicate_and_is_stored_once(server, tmp_path):
    relay = LossyRelay(server.port)
    p = livepanel.Panel(relay.url, env="dup", spool_dir=tmp_path / "spool", max_backoff=0.2, timeout=5)
    try:
        for step in range(10):
            p.line(step, float(step), win="w")
        assert p.flush(DEADLINE), p.stats
        assert relay.lost == 1
        stats = p.stats
        assert stats["duplicates"] == 1 and stats["retries"] == 1, stats
        for step in range(10, 20):  # later batches are new again
            p.line(step, float(step), win="w")
        assert p.flush(DEADLINE)
        assert p.stats["duplicates"] == 1 and p.stats["batches"] > stats["batches"], p.stats
        np.testing.assert_array_equal(logged_x(server.url, "dup", "w"), np.arange(20))  # each point once
    finally:
        p.close()
        relay.close()


def test_a_normal_run_counts_no_duplicates(server, tmp_path):
    p = livepanel.Panel(server.url, env="plain", spool_dir=tmp_path / "spool")
    try:
        for step in range(2000):
            p.line(step, float(step), win="w")
            if step % 500 == 499:
                assert p.flush(DEADLINE)
        stats = p.stats
        assert stats["batches"] >= 4 and stats["duplicates"] == 0 and stats["retries"] == 0, stats
        np.testing.assert_array_equal(logged_x(server.url, "plain", "w"), np.arange(2000))
    finally:
        p.close()


def test_an_ack_that_is_not_msgpack_counts_as_delivered_with_a_warning(server, tmp_path, caplog):
    """A 200 whose body is not an ack (a proxy's page) that happens to hold the bytes of duplicate=True:
    the batch counts as delivered and new, the sender says so once and carries on."""
    caplog.set_level(logging.WARNING, logger="livepanel.client")
    junk = b"\xc1" + protocol.packb({"duplicate": True})[1:]  # 0xc1 is never valid msgpack
    relay = LossyRelay(server.port, answer=junk)
    p = livepanel.Panel(relay.url, env="junk", spool_dir=tmp_path / "spool", timeout=5)
    try:
        p.line(0, 0.0, win="w")
        assert p.flush(DEADLINE)
        p.line(1, 1.0, win="w")
        assert p.flush(DEADLINE)
        stats = p.stats
        assert stats["batches"] == 2 and stats["duplicates"] == 0 and stats["retries"] == 0, stats
        assert len(messages(caplog, "could not read the acknowledgement")) == 1
        np.testing.assert_array_equal(logged_x(server.url, "junk", "w"), np.arange(2))
    finally:
        p.close()
        relay.close()
