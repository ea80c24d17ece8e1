"""The page behind a real nginx under /livepanel/ (docs/deploy.md, "nginx in front"): the ?token= flow, the
app's script and styles, the websocket and the API all stay under the prefix, and a line window updates live."""

from __future__ import annotations

import pytest
from browser_helpers import next_seq
from client_helpers import wait_for
from nginxproc import PREFIX, behind_nginx, requested_paths, require_nginx
from wire import line_op, send_ops

TOKEN = "browser-behind-nginx"


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    require_nginx()
    with behind_nginx(tmp_path_factory.mktemp("nginx"), TOKEN) as pair:
        yield pair


def send(url: str, ops: list[dict]) -> None:
    status, answer = send_ops(url, ops, client="browser-nginx", seq=next_seq(), token=TOKEN)
    assert status == 200, answer


def test_the_page_draws_and_updates_live_behind_nginx(proxy, pages):
    ngx, _ = proxy
    send(ngx.url, [line_op("prox", "loss", [0, 1], [1.0, 2.0])])
    page = pages.open(f"{ngx.url}/?env=prox&token={TOKEN}")
    assert page.url == f"{ngx.url}/?env=prox"  # the token became a cookie; the redirect kept the prefix
    page.wait_for_function("() => window.__livepanel.points('loss') === 2", timeout=5000)
    page.wait_for_selector('section[data-win="loss"]')
    send(ngx.url, [line_op("prox", "loss", [2], [3.0])])
    page.wait_for_function("() => window.__livepanel.points('loss') === 3", timeout=5000)
    cookies = page.context.cookies()
    assert [(c["name"], c["path"]) for c in cookies] == [("livepanel_token", PREFIX)]
    page.close()  # nginx logs the websocket when it closes
    wait_for(lambda: PREFIX + "/api/v1/socket" in requested_paths(ngx), 5)
    paths = requested_paths(ngx)
    for wanted in ("/static/app.js", "/static/app.css", "/api/v1/socket"):
        assert PREFIX + wanted in paths, paths
    outside = [p for p in paths if not p.startswith(PREFIX + "/")]
    assert not outside, f"requests that left the prefix: {outside}"
