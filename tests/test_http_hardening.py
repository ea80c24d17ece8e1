"""The HTTP and websocket edge against hostile senders and hostile web pages (issue 17).

DNS rebinding (the Host check takes literal loopback addresses only), cross-site writes (CSRF),
memory held for bodies that never come, malformed Content-Length, hostile websocket messages,
long values echoed back, security headers, and tokens kept out of URLs and logs. Raw sockets where
a client library would tidy the request up.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from serverproc import ServerProcess
from wire import Socket, arun, get, line_op, send_ops, window

from livepanel import cli, protocol
from livepanel.config import Config

TOKEN = "s3cret-hardening-token"
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def batch(client: str = "client-hard-0", seq: int = 1, env: str = "h", win: str = "w", n: int = 2) -> bytes:
    ops = [line_op(env, win, np.arange(n, dtype="f8"), np.ones(n))]
    return protocol.packb({"client": client, "seq": seq, "ops": ops})


def head(method: str, path: str, port: int, headers: list[tuple[str, str]] = (), host: str | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host or f'127.0.0.1:{port}'}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP answer from a raw socket: (status, headers with lower-case names, body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError(f"closed after {buf[:200]!r}")
        buf += data
    top, _, rest = buf.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", 0))
    while len(rest) < length:
        data = sock.recv(65536)
        if not data:
            break
        rest += data
    return int(lines[0].split()[1]), headers, rest[:length]


def exchange(port: int, data: bytes, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_answer(sock)


def error_of(body: bytes) -> str:
    import json

    return json.loads(body)["error"]


def ingest(port: int, body: bytes, headers: list[tuple[str, str]] = (), host: str | None = None):
    """POST a batch with Content-Type msgpack (unless headers give one) and a Content-Length."""
    extra = list(headers)
    if not any(k.lower() == "content-type" for k, _ in extra):
        extra.append(("Content-Type", "application/msgpack"))
    extra.append(("Content-Length", str(len(body))))
    return exchange(port, head("POST", "/api/v1/ingest", port, extra, host) + body)


def _ws_upgrade(port: int, origin: str, host: str | None = None, query: str = "") -> bytes:
    return head(
        "GET",
        "/api/v1/socket" + query,
        port,
        [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", WS_KEY),
            ("Sec-WebSocket-Version", "13"),
            ("Origin", origin),
        ],
        host,
    )


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    srv = ServerProcess(tmp_path_factory.mktemp("hard") / "data", store="memory").start()
    yield srv
    srv.stop()


# ------------------------------------------------------------------------------------ DNS rebinding


@pytest.mark.parametrize("host", ["127.evil.example", "127.0.0.1.nip.io", "localhost.evil.example", "0.0.0.0"])
def test_names_that_look_loopback_are_refused(shared, host):
    port = shared.port
    for path in ("/api/v1/envs", "/"):
        status, _, body = exchange(port, head("GET", path, port, host=f"{host}:{port}"))
        assert status == 403 and "is not served" in error_of(body), (path, status)
    status, _, body = ingest(port, batch(client="client-rebind"), host=f"{host}:{port}")
    assert status == 403 and "is not served" in error_of(body)
    assert get(shared.url, "/api/v1/window", env="h", win="rebind")[0] == 404

    # The page such a name serves would open its socket with Host and Origin both on that name.
    status, _, body = exchange(port, _ws_upgrade(port, f"http://{host}:{port}", host=f"{host}:{port}"))
    assert status == 403 and "is not served" in error_of(body)


@pytest.mark.parametrize("host", ["localhost", "LocalHost", "127.0.0.1", "127.0.0.2", "[::1]"])
def test_literal_loopback_hosts_are_served(shared, host):
    status, _, _ = exchange(shared.port, head("GET", "/api/v1/envs", shared.port, host=f"{host}:{shared.port}"))
    assert status == 200


def test_allow_host_names_more_hosts(server_factory):
    srv = server_factory("--allow-host", "mybox.lan,Other.Lan", "--allow-host", "third.lan", store="memory")
    for host in ("mybox.lan", "other.lan", "third.lan", "localhost"):
        assert exchange(srv.port, head("GET", "/api/v1/envs", srv.port, host=f"{host}:{srv.port}"))[0] == 200
    assert exchange(srv.port, head("GET", "/api/v1/envs", srv.port, host=f"evil.lan:{srv.port}"))[0] == 403
    _, headers, _ = exchange(srv.port, head("GET", "/", srv.port))
    assert "http://mybox.lan:*" in headers["content-security-policy"]  # its pages may embed the panel


def test_allow_host_takes_names_only(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "livepanel", "serve", "--data-dir", str(tmp_path), "--allow-host", "http://x.lan/"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "is not a host name or IP address" in out.stderr


def test_a_name_that_looks_loopback_is_not_loopback_for_the_token():
    assert not Config(host="127.evil.example").loopback
    assert cli.resolve_token(Config(host="127.evil.example")).token  # bound by such a name: a token is made
    assert Config(host="127.0.0.5").loopback and Config(host="::1").loopback and Config(host="localhost").loopback
    assert cli.resolve_token(Config(host="127.0.0.1")).token is None


# ---------------------------------------------------------------------------------------- CSRF


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_ingest_takes_msgpack_only(shared, ctype):
    headers = [("Content-Type", ctype)] if ctype else [("Content-Type", "")]
    status, _, body = ingest(shared.port, batch(client="client-ctype", win="ctype"), headers)
    assert status == 415 and "Content-Type: application/msgpack" in error_of(body)
    assert get(shared.url, "/api/v1/window", env="h", win="ctype")[0] == 404
    ok = [("Content-Type", "Application/MsgPack; charset=binary")]
    assert ingest(shared.port, batch(client="client-ctype2", win="ctype2"), ok)[0] == 200


@pytest.mark.parametrize(
    "headers",
    [
        [("Origin", "http://evil.example")],
        [("Origin", "http://127.0.0.1:1")],  # another port of the same host
        [("Origin", "null")],  # a sandboxed frame or a file:// page
        [("Sec-Fetch-Site", "cross-site")],
        [("Sec-Fetch-Site", "same-site")],
        [("Origin", "http://evil.example"), ("Sec-Fetch-Site", "cross-site")],
    ],
)
def test_writes_from_pages_of_other_origins_are_refused(shared, headers):
    status, _, body = ingest(shared.port, batch(client="client-csrf", win="csrf"), headers)
    assert status == 403 and "another" in error_of(body)
    assert get(shared.url, "/api/v1/window", env="h", win="csrf")[0] == 404


def test_writes_from_the_same_origin_are_served(shared):
    same = [("Origin", f"http://127.0.0.1:{shared.port}"), ("Sec-Fetch-Site", "same-origin")]
    assert ingest(shared.port, batch(client="client-same", win="same"), same)[0] == 200
    assert window(shared.url, "h", "same")["traces"][0]["n"] == 2


def test_the_cookie_does_not_authorize_writes(server_factory):
    srv = server_factory("--token", TOKEN, store="memory")
    cookie = [("Cookie", f"livepanel_token={TOKEN}")]
    status, headers, _ = exchange(srv.port, head("GET", f"/?token={TOKEN}", srv.port))
    assert status == 302 and f"livepanel_token={TOKEN}" in headers["set-cookie"]
    assert "path=" not in headers["set-cookie"].lower()  # the browser's default: the page's directory (a prefix)
    assert exchange(srv.port, head("GET", "/api/v1/envs", srv.port, cookie))[0] == 200  # reads: yes
    status, _, body = ingest(srv.port, batch(client="client-cookie"), cookie)
    assert status == 401 and "Authorization: Bearer" in error_of(body)
    assert ingest(srv.port, batch(client="client-cookie"), [("Authorization", f"Bearer {TOKEN}")])[0] == 200


def test_websocket_from_another_port_is_refused(shared):
    async def run():
        for origin in (f"http://127.0.0.1:{shared.port + 1}", f"http://localhost:{shared.port}", "null"):
            with pytest.raises(Exception, match="403"):
                await Socket(shared.url, origin=origin).connect()
        sock = await Socket(shared.url, origin=f"http://127.0.0.1:{shared.port}").connect()
        assert (await sock.recv())["type"] == "hello"
        sock.close()

    arun(run())


# ---------------------------------------------------------------------------------- memory, timeouts


def _answered(socks: list[socket.socket], expected: int, deadline: float) -> dict[int, tuple[int, str]]:
    """Poll the sockets until `expected` have an answer, or the deadline; return the answers by index."""
    answers: dict[int, tuple[int, str]] = {}
    for s in socks:
        s.setblocking(False)
    while time.monotonic() < deadline and len(answers) < expected:
        for i, s in enumerate(socks):
            if i in answers:
                continue
            try:
                peeked = s.recv(65536, socket.MSG_PEEK)
            except BlockingIOError:
                continue
            if b"\r\n\r\n" in peeked or not peeked:
                s.setblocking(True)
                s.settimeout(5)
                status, _, body = read_answer(s)
                answers[i] = (status, error_of(body))
        time.sleep(0.01)
    return answers


def test_declared_lengths_alone_hold_no_memory(server_factory):
    srv = server_factory(store="memory")
    assert ingest(srv.port, batch(client="client-warm"))[0] == 200
    before = rss_mib(srv.proc.pid)
    fake = head("POST", "/api/v1/ingest", srv.port, [("Content-Type", "application/msgpack")])
    fake = fake.replace(b"\r\n\r\n", b"\r\nContent-Length: 67108864\r\n\r\nx")
    socks = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(16)]
    try:
        for s in socks:
            s.sendall(fake)
        # 4 x 64 MiB fill --max-pending (256M): those wait for their bodies, the other 12 are refused at once.
        answers = _answered(socks, 12, time.monotonic() + 15)
        assert len(answers) == 12, answers
        assert all(status == 503 and "--max-pending" in text for status, text in answers.values())
        grown = rss_mib(srv.proc.pid) - before
        assert grown < 32, f"the server grew by {grown:.0f} MiB for 16 requests that sent one byte each"
        status, _, body = ingest(srv.port, batch(client="client-busy"))
        assert status == 503 and "send again" in error_of(body)
    finally:
        for s in socks:
            s.close()
    deadline = time.monotonic() + 10  # the closed connections give their reservations back
    while ingest(srv.port, batch(client="client-after"))[0] != 200:
        assert time.monotonic() < deadline, "pending bytes were not released when the connections closed"
        time.sleep(0.02)


def test_chunked_bodies_count_toward_the_pending_limit(server_factory):
    srv = server_factory("--max-pending", "64K", store="memory")
    chunked = head(
        "POST",
        "/api/v1/ingest",
        srv.port,
        [("Content-Type", "application/msgpack"), ("Transfer-Encoding", "chunked")],
    )

    def chunk(data: bytes) -> bytes:
        return b"%x\r\n" % len(data) + data + b"\r\n"

    # a holds 40 KB of its 96 KiB body and b's 64 KB do not fit beside it. Which of the two the server
    # takes first is a race (the second is refused), so an attempt where b came first is made again.
    for attempt in range(20):
        body = batch(client=f"client-chunk-a{attempt}", env=f"c{attempt}", n=6000)
        other = batch(client=f"client-chunk-b{attempt}", env=f"c{attempt}", win="b", n=4000)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as a:
            a.sendall(chunked + chunk(body[:40_000]))
            assert exchange(srv.port, head("GET", "/api/v1/health", srv.port))[0] == 200  # a's chunk in, likely
            status, _, answer = exchange(srv.port, chunked + chunk(other) + b"0\r\n\r\n")
            a.sendall(chunk(body[40_000:]) + b"0\r\n\r\n")
            a_status = read_answer(a)[0]
        if status == 503:
            assert "--max-pending" in error_of(answer) and a_status == 200
            assert window(srv.url, f"c{attempt}", "w")["traces"][0]["n"] == 6000
            return
    pytest.fail("b was never refused beside a's first chunk")


def test_a_slow_body_is_cut_off_and_its_bytes_released(server_factory):
    srv = server_factory("--body-timeout", "1", "--max-pending", "4K", store="memory")
    declare = head("POST", "/api/v1/ingest", srv.port, [("Content-Type", "application/msgpack")])
    declare = declare.replace(b"\r\n\r\n", b"\r\nContent-Length: 3000\r\n\r\n0123456789")
    probe = declare.replace(b"0123456789", b"x" * 3000)  # a whole body: answered at once, 400 if let in
    for _ in range(20):  # the probe, if the server takes it first, refuses the slow one: again
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as slow:
            slow.sendall(declare)
            assert exchange(srv.port, head("GET", "/api/v1/health", srv.port))[0] == 200  # slow's headers in, likely
            if exchange(srv.port, probe)[0] != 503:  # 3000 more do not fit beside the slow one
                continue
            start = time.monotonic()
            assert slow.recv(65536) == b""  # closed by the server (the socket's own timeout is 10 s)
            assert 0.5 < time.monotonic() - start < 9
            break
    else:
        pytest.fail("the probe was never refused beside the slow body")
    deadline = time.monotonic() + 10
    while ingest(srv.port, batch(client="client-slow"))[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.02)


# ------------------------------------------------------------------------------- malformed requests


@pytest.mark.parametrize(
    "lengths",
    [["abc"], ["5, 6"], ["5", "6"], ["-1"], ["1_0"], ["+5"], ["0x10"], ["99999999999999999999999"]],
)
def test_bad_content_length_gets_400_naming_it(shared, lengths):
    headers = [("Content-Type", "application/msgpack"), *(("Content-Length", v) for v in lengths)]
    status, answer_headers, body = exchange(
        shared.port, head("POST", "/api/v1/ingest", shared.port, headers) + b"hello"
    )
    assert status == 400 and "Content-Length" in error_of(body)
    assert answer_headers.get("connection") == "close"  # the body is left unread: not reused
    assert "Traceback" not in shared.log.read_text()


def test_content_length_with_transfer_encoding_is_refused(shared):
    headers = [("Content-Type", "application/msgpack"), ("Content-Length", "5"), ("Transfer-Encoding", "chunked")]
    status, _, body = exchange(shared.port, head("POST", "/api/v1/ingest", shared.port, headers) + b"0\r\n\r\n")
    assert status == 400 and "Transfer-Encoding and Content-Length" in error_of(body)


def test_equal_repeated_content_lengths_are_one(shared):
    body = batch(client="client-twice", win="twice")
    headers = [("Content-Type", "application/msgpack"), ("Content-Length", f"{len(body)}, {len(body)}")]
    assert exchange(shared.port, head("POST", "/api/v1/ingest", shared.port, headers) + body)[0] == 200


def test_refused_large_body_gets_one_answer(shared):
    """A refusal before the body is read is the only answer on the connection (no second, bare 400)."""
    body = b"\0" * (3 << 20)  # past Tornado's own 1 MiB default
    with socket.create_connection(("127.0.0.1", shared.port), timeout=10) as sock:
        sock.sendall(head("POST", "/api/v1/ingest", shared.port, [("Content-Length", str(len(body)))]))
        status, headers, _ = read_answer(sock)
        assert status == 415 and headers["connection"] == "close"
        rest = b""
        while data := sock.recv(65536):
            rest += data
        assert rest == b""


def test_hostile_websocket_messages_get_an_error_frame(shared):
    nested: object = 1
    for _ in range(1000):
        nested = [nested]

    async def run():
        sock = await Socket(shared.url).connect()
        assert (await sock.recv())["type"] == "hello"
        await sock.send({"type": nested})  # its repr alone would exceed Python's recursion limit
        assert (await sock.recv())["type"] == "error"
        await sock.conn.write_message(b"\x91" * 5000 + b"\xc0", binary=True)
        assert (await sock.recv())["type"] == "error"
        await sock.send({"type": "x" * 5_000_000})
        message = (await sock.recv())["message"]
        assert "unknown message type" in message and len(message) < 700
        await sock.send({"type": "layout", "env": "h", "layout": {"w": nested}})
        assert (await sock.recv())["type"] == "error"
        await sock.subscribe([{"env": "h"}])  # the socket still works
        assert (await sock.until(lambda m: m["type"] == "snapshot"))["env"] == "h"
        sock.close()

    send_ops(shared.url, [line_op("h", "w", [0], [1])], client="client-ws-hostile")
    arun(run())
    log = shared.log.read_text()
    assert "Uncaught exception" not in log and "x" * 1000 not in log


def test_error_bodies_and_log_lines_quote_at_most_a_little(shared):
    long = "x" * 20_000
    status, body = get(shared.url, "/api/v1/window", env=long, win="w")
    assert status == 404 and len(body["error"]) < 700
    status, _, answer = exchange(shared.port, head("GET", "/" + long, shared.port))
    assert status == 404 and len(error_of(answer)) < 700
    status, body = get(shared.url, "/api/v1/window", env="h", win="w", width=long)
    assert status == 400 and len(body["error"]) < 700
    big = protocol.packb({"client": "client-long", "seq": 1, "ops": [{"op": "y" * (10 << 20), "env": "e"}]})
    status, _, answer = ingest(shared.port, big)
    assert status == 400 and len(error_of(answer)) < 700
    log = shared.log.read_text()
    assert "x" * 1000 not in log and "y" * 1000 not in log


# ------------------------------------------------------------------------------------------- headers


def test_every_answer_has_the_security_headers(shared):
    port = shared.port
    answers = {
        "page": exchange(port, head("GET", "/", port)),
        "script": exchange(port, head("GET", "/static/app.js", port)),
        "missing static": exchange(port, head("GET", "/static/nope.js", port)),
        "api": exchange(port, head("GET", "/api/v1/envs", port)),
        "health": exchange(port, head("GET", "/api/v1/health", port)),
        "api error": exchange(port, head("GET", "/api/v1/window?env=a&win=b", port)),
        "unknown path": exchange(port, head("GET", "/nope", port)),
        "refused host": exchange(port, head("GET", "/", port, host="evil.example")),
        "ingest refusal": ingest(port, b"x", [("Content-Type", "text/plain")]),
        "websocket refusal": exchange(port, _ws_upgrade(port, "http://evil.example")),
    }
    assert answers["websocket refusal"][0] == 403
    for what, (_, headers, _) in answers.items():
        assert headers.get("x-content-type-options") == "nosniff", what
        assert "frame-ancestors" in headers.get("content-security-policy", ""), what
    page = answers["page"][1]["content-security-policy"]
    for part in ("script-src 'self'", "img-src 'self' data: blob:", "object-src 'none'", "frame-ancestors 'self'"):
        assert part in page
    for ancestor in ("http://localhost:*", "http://127.0.0.1:*"):  # a notebook on this machine embeds the page
        assert ancestor in page
    assert f"ws://127.0.0.1:{port}" in page and "x-frame-options" not in answers["page"][1]
    for what in ("api", "api error", "unknown path", "ingest refusal", "websocket refusal"):
        headers = answers[what][1]
        assert headers["x-frame-options"] == "DENY", what
        assert headers["content-security-policy"].startswith("default-src 'none'"), what


def test_the_page_policy_names_no_source_a_browser_would_drop(server_factory):
    """CSP has no IPv6 literal nor "_" in a host: such a source is dropped with a console error, so none is
    named ('self' covers the page's own origin)."""
    srv = server_factory("--allow-host", "my_box", "--allow-host", "lab.example", store="memory")
    for host in (f"127.0.0.1:{srv.port}", f"[::1]:{srv.port}", f"my_box:{srv.port}"):
        status, headers, _ = exchange(srv.port, head("GET", "/", srv.port, host=host))
        policy = headers["content-security-policy"]
        assert status == 200 and "[" not in policy and "my_box" not in policy, policy
        assert "frame-ancestors 'self' http://localhost:* https://localhost:*" in policy
        assert "http://lab.example:*" in policy


def test_base_url_redirect_has_the_headers(server_factory):
    srv = server_factory("--base-url", "/lp", store="memory")
    status, headers, _ = exchange(srv.port, head("GET", "/lp", srv.port))
    assert status == 301 and headers["x-content-type-options"] == "nosniff"


# ---------------------------------------------------------------------------------------- tokens


def test_query_tokens_only_on_the_page_and_never_in_the_log(server_factory):
    srv = server_factory("--token", TOKEN, store="memory")
    port = srv.port
    status, _, body = exchange(port, head("GET", f"/api/v1/envs?token={TOKEN}", port))
    assert status == 401 and "page URL only" in error_of(body)
    wrong = [("Authorization", "Bearer wrong-token")]
    assert exchange(port, head("GET", f"/api/v1/envs?format=json&token={TOKEN}", port, wrong))[0] == 401
    status, _, _ = ingest(port, batch(client="client-qtoken"), [("Content-Type", "application/msgpack")])
    assert status == 401
    assert exchange(port, _ws_upgrade(port, f"http://127.0.0.1:{port}", query=f"?token={TOKEN}"))[0] == 401
    assert exchange(port, head("GET", f"/nope?token={TOKEN}", port))[0] == 404
    status, headers, _ = exchange(port, head("GET", f"/?env=a&token={TOKEN}", port))
    assert status == 302 and headers["location"] == "./?env=a"
    assert exchange(port, head("GET", "/", port, [("Cookie", f"livepanel_token={TOKEN}")]))[0] in (200, 503)
    served = srv.log.read_text().split("\n", 1)[1]  # the first line is the URL printed at start
    assert "401" in served and "REDACTED" in served
    assert TOKEN not in served
