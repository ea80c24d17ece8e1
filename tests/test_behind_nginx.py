"""livepanel behind a real nginx under a path prefix, configured as docs/deploy.md says ("nginx in front").

nginx strips /livepanel/ and passes the rest to one livepanel server that needs a token: the client, the
websocket, the ?token= page flow and a large batch all go through it.
"""

from __future__ import annotations

import asyncio
import http.client
import urllib.parse

import numpy as np
import pytest
from client_helpers import wait_for, wait_value
from nginxproc import PREFIX, Nginx, behind_nginx, requested_paths, require_nginx
from wire import Socket, arun, get, line_op, send_ops

import livepanel
from livepanel.integrations.jupyter import page_url

TOKEN = "behind-nginx-token"


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    """(nginx, server): a token-guarded livepanel server on loopback and nginx in front of it."""
    require_nginx()
    with behind_nginx(tmp_path_factory.mktemp("nginx"), TOKEN) as pair:
        yield pair


def request(ngx: Nginx, method: str, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", ngx.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_the_client_logs_and_reads_back_through_the_prefix(proxy, tmp_path):
    ngx, srv = proxy
    with livepanel.Panel(ngx.url, env="proxied", token=TOKEN, spool_dir=tmp_path / "spool") as panel:
        for step in range(5):
            panel.log({"loss": 1.0 / (step + 1)}, step=step)
        got = panel.get("loss")
        assert "proxied" in panel.envs()
    assert np.allclose(got["traces"][0]["y"], [1.0 / (s + 1) for s in range(5)])
    # it went through nginx: the server has it, and nginx logged the prefixed requests
    assert get(srv.url, "/api/v1/window", token=TOKEN, env="proxied", win="loss")[0] == 200
    assert f"{PREFIX}/api/v1/ingest" in requested_paths(ngx)


def test_a_batch_larger_than_nginx_default_body_limit_passes(proxy):
    ngx, _ = proxy
    n = 200_000  # ~3.2 MB of points: nginx's default client_max_body_size (1m) would answer 413
    status, answer = send_ops(ngx.url, [line_op("big", "w", np.arange(n), np.ones(n))], client="nginx-big", token=TOKEN)
    assert status == 200, answer
    assert get(ngx.url, "/api/v1/window", token=TOKEN, env="big", win="w")[0] == 200


def test_a_viewer_gets_a_snapshot_and_live_changes_through_the_proxy(proxy):
    ngx, _ = proxy
    origin = f"http://127.0.0.1:{ngx.port}"  # the page's origin as the browser sees it
    assert (
        send_ops(ngx.url, [line_op("ws", "loss", [0, 1], [3.0, 2.0])], client="nginx-ws", token=TOKEN, seq=1)[0] == 200
    )

    async def view():
        sock = await Socket(ngx.url, token=TOKEN, origin=origin).connect()
        try:
            assert (await sock.recv())["type"] == "hello"
            await sock.subscribe([{"env": "ws"}])
            snap = await sock.until(lambda m: m["type"] == "snapshot")
            status, answer = send_ops(
                ngx.url, [line_op("ws", "loss", [2], [1.0])], client="nginx-ws", token=TOKEN, seq=2
            )
            assert status == 200, answer
            change = await sock.until(lambda m: m["type"] == "change" and m["op"]["op"] == "line")
            return snap, change
        finally:
            sock.close()

    snap, change = arun(view())
    assert [w["win"] for w in snap["windows"]] == ["loss"]
    assert change["env"] == "ws" and change["op"]["win"] == "loss" and list(change["op"]["y"]) == [1.0]


def test_a_websocket_from_another_origin_is_refused_through_the_proxy(proxy):
    ngx, _ = proxy

    async def connect():
        sock = Socket(ngx.url, token=TOKEN, origin="https://evil.example")
        try:
            await sock.connect()
        finally:
            sock.close()

    with pytest.raises(Exception, match="403"):
        arun(connect())


def test_the_token_flow_of_the_page_keeps_the_prefix(proxy):
    ngx, _ = proxy
    status, headers, _ = request(ngx, "GET", f"{PREFIX}/?env=a&token={TOKEN}")
    assert status == 302
    # a relative redirect: through a proxy that strips the prefix, "/" would leave livepanel
    assert urllib.parse.urljoin(f"{PREFIX}/?env=a&token=x", headers["location"]) == f"{PREFIX}/?env=a"
    cookie = headers["set-cookie"]
    assert f"livepanel_token={TOKEN}" in cookie and "HttpOnly" in cookie
    assert "Path=/;" not in cookie + ";"  # never sent to the other applications behind the same nginx
    assert request(ngx, "GET", f"{PREFIX}/api/v1/envs?format=json", {"Cookie": f"livepanel_token={TOKEN}"})[0] == 200
    assert request(ngx, "GET", f"{PREFIX}/api/v1/envs?format=json")[0] == 401
    # the prefix without its slash: nginx redirects to it
    status, headers, _ = request(ngx, "GET", PREFIX)
    assert status == 301 and headers["location"].endswith(f"{PREFIX}/")


def test_a_page_click_reaches_the_writer_s_handler_through_the_proxy(proxy, tmp_path):
    """The events downlink (a websocket the client opens) goes through nginx under the prefix too."""
    ngx, _ = proxy
    origin = f"http://127.0.0.1:{ngx.port}"
    got: list[dict] = []
    with livepanel.Panel(ngx.url, env="clicks", token=TOKEN, spool_dir=tmp_path / "spool") as panel:
        panel.line([0, 1], [1.0, 0.5], win="loss")
        assert panel.flush()
        panel.on("loss", got.append)
        wait_value(panel._downlink.connected.is_set, what="the downlink")
        assert page_url(panel) == f"{ngx.url}/?env=clicks"

        async def click():
            sock = await Socket(ngx.url, token=TOKEN, origin=origin).connect()
            try:
                await sock.subscribe([{"env": "clicks"}])
                await sock.until(lambda m: m["type"] == "snapshot")
                await sock.send({"type": "event", "env": "clicks", "win": "loss", "event": "click", "x": 1.0, "y": 0.5})
                await asyncio.to_thread(wait_value, lambda: len(got) == 1, 10.0, "the click")
            finally:
                sock.close()

        arun(click())
    assert got[0]["event"] == "click" and got[0]["win"] == "loss"
    wait_for(lambda: f"{PREFIX}/api/v1/events" in requested_paths(ngx), 5)
    assert f"{PREFIX}/api/v1/events" in requested_paths(ngx)


def test_the_prefix_kept_with_base_url_works_too(tmp_path):
    """docs/deploy.md's variant: nginx passes /livepanel/ on unchanged, livepanel runs with --base-url."""
    require_nginx()
    with behind_nginx(tmp_path, TOKEN, keep_prefix=True) as (ngx, srv):
        with livepanel.Panel(ngx.url, env="kept", token=TOKEN, spool_dir=tmp_path / "spool") as panel:
            panel.log({"acc": 0.5}, step=0)
            assert list(panel.get("acc")["traces"][0]["y"]) == [0.5]
        assert get(srv.url, "/api/v1/envs", token=TOKEN)[0] == 404  # the server itself lives under the prefix
        status, headers, _ = request(ngx, "GET", f"{PREFIX}/?env=kept&token={TOKEN}")
        assert status == 302 and urllib.parse.urljoin(f"{PREFIX}/", headers["location"]) == f"{PREFIX}/?env=kept"
        assert "path=" not in headers["set-cookie"].lower()
