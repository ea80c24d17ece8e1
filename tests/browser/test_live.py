"""The page updates live: new windows, appends, several viewers, reconnects, layout, URLs."""

from __future__ import annotations

import urllib.request

import numpy as np
from browser_helpers import next_seq
from wire import line_op, send_ops


def send(url: str, ops: list[dict], token: str | None = None) -> None:
    status, answer = send_ops(url, ops, client="browser-tests", seq=next_seq(), token=token)
    assert status == 200, answer


def trace_len(page, env: str, win: str, name: str = "") -> int:
    return page.evaluate(
        """([env, win, name]) => {
            const w = window.__livepanel.state.envs.get(env)?.windows.get(win);
            const t = w?.traces.find((t) => t.name === name);
            return t ? t.y.len : -1;
        }""",
        [env, win, name],
    )


def test_window_appears_and_appends_show_live(server, pages):
    page = pages.open(server.url + "/?env=run/a")
    assert page.locator("section.lp-win").count() == 0
    send(server.url, [line_op("run/a", "loss", [0, 1, 2], [3.0, 2.0, 1.0], name="train")])
    page.wait_for_selector('section.lp-win[data-win="loss"] canvas', timeout=5000)
    draws = page.evaluate("window.__livepanel.draws.loss")
    for step in range(3, 13):
        send(server.url, [line_op("run/a", "loss", [step], [1.0 / step], name="train")])
    page.wait_for_function("() => window.__livepanel.points('loss') === 13", timeout=5000)
    assert trace_len(page, "run/a", "loss", "train") == 13
    assert page.evaluate("window.__livepanel.draws.loss") > draws
    assert page.evaluate("window.__livepanel.connections") == 1  # no reload, one connection
    assert page.locator(".lp-conn").get_attribute("data-status") == "open"


def test_two_browsers_see_the_same_update(server, pages):
    one = pages.open(server.url + "/?env=shared")
    two = pages.open(server.url + "/?env=shared")
    send(server.url, [line_op("shared", "acc", [0, 1], [0.1, 0.2], name="val")])
    for page in (one, two):
        page.wait_for_function("() => window.__livepanel.points('acc') === 2", timeout=5000)
    send(server.url, [{"op": "text", "env": "shared", "win": "notes", "text": "hello **both**"}])
    for page in (one, two):
        page.wait_for_selector('section[data-win="notes"] strong', timeout=5000)
        assert page.locator('section[data-win="notes"] strong').inner_text() == "both"


def test_page_recovers_after_server_restart_without_missing_updates(server, pages):
    page = pages.open(server.url + "/?env=restart")
    send(server.url, [line_op("restart", "loss", np.arange(5), np.ones(5), name="t")])
    page.wait_for_function("() => window.__livepanel.points('loss') === 5", timeout=5000)
    server.stop()
    page.wait_for_function("() => window.__livepanel.status !== 'open'", timeout=5000)
    assert page.locator(".lp-conn").get_attribute("data-status") in ("closed", "connecting")
    server.start()
    # data sent while the page is still reconnecting must show up too
    send(server.url, [line_op("restart", "loss", np.arange(5, 8), np.zeros(3), name="t")])
    page.wait_for_function("() => window.__livepanel.status === 'open'", timeout=15000)
    page.wait_for_function("() => window.__livepanel.points('loss') === 8", timeout=10000)
    send(server.url, [line_op("restart", "loss", [8], [0.5], name="t")])
    page.wait_for_function("() => window.__livepanel.points('loss') === 9", timeout=5000)
    assert trace_len(page, "restart", "loss", "t") == 9


def test_resume_after_a_dropped_connection_applies_each_change_once(server, pages):
    page = pages.open(server.url + "/?env=resume")
    send(server.url, [line_op("resume", "loss", [0, 1], [1.0, 2.0])])
    page.wait_for_function("() => window.__livepanel.points('loss') === 2", timeout=5000)
    page.evaluate("window.__livepanel.socket.reconnect()")
    for i in range(2, 6):
        send(server.url, [line_op("resume", "loss", [i], [float(i)])])
    page.wait_for_function("() => window.__livepanel.connections === 2", timeout=10000)
    page.wait_for_function("() => window.__livepanel.points('loss') === 6", timeout=5000)
    ys = page.evaluate("Array.from(window.__livepanel.state.envs.get('resume').windows.get('loss').traces[0].y.values)")
    assert ys == [1.0, 2.0, 2.0, 3.0, 4.0, 5.0]


def test_layout_is_saved_on_the_server_and_shared(server, pages):
    ops = [{"op": "text", "env": "lay", "win": w, "text": w} for w in ("first", "second", "third")]
    send(server.url, ops)
    one = pages.open(server.url + "/?env=lay")
    two = pages.open(server.url + "/?env=lay")
    order = "Array.from(document.querySelectorAll('section.lp-win')).map((e) => e.dataset.win)"
    one.wait_for_function(f"() => {order}.length === 3")
    assert one.evaluate(order) == ["first", "second", "third"]
    # drag "third" by its header onto "first"
    one.drag_and_drop('section[data-win="third"] header', 'section[data-win="first"]')
    one.wait_for_function(f"() => {order}.join() === 'third,first,second'", timeout=5000)
    two.wait_for_function(f"() => {order}.join() === 'third,first,second'", timeout=5000)
    # resize from the corner handle
    box = one.locator('section[data-win="first"]').bounding_box()
    handle = one.locator('section[data-win="first"] .lp-resize').bounding_box()
    one.mouse.move(handle["x"] + 5, handle["y"] + 5)
    one.mouse.down()
    one.mouse.move(handle["x"] + 105, handle["y"] + 45, steps=4)
    one.mouse.up()
    width = box["width"] + 100
    sel = 'section[data-win="first"]'
    two.wait_for_function(
        f"() => Math.abs(document.querySelector('{sel}').getBoundingClientRect().width - {width}) < 3", timeout=5000
    )
    # a new viewer gets the saved layout in its snapshot
    three = pages.open(server.url + "/?env=lay")
    three.wait_for_function(f"() => {order}.join() === 'third,first,second'", timeout=5000)


def test_url_names_the_envs_and_the_picker_changes_it(server, pages):
    send(
        server.url, [line_op(env, "loss", [0, 1], [1.0, 0.5], name="train") for env in ("opt/adam", "opt/sgd", "other")]
    )
    page = pages.open(server.url + "/?env=opt/adam&env=opt/sgd")
    page.wait_for_function("() => window.__livepanel.chart('loss')?.labels.length === 2", timeout=5000)
    assert page.evaluate("() => window.__livepanel.chart('loss').labels") == ["opt/adam/train", "opt/sgd/train"]
    # search, then click a name: that env alone, in the URL
    page.fill(".lp-search", "oth")
    assert page.locator(".lp-env").count() == 1
    page.click('.lp-env[data-env="other"] .lp-env-name')
    page.wait_for_function("() => location.search === '?env=other'")
    page.wait_for_function("() => window.__livepanel.chart('loss')?.labels.length === 1")
    page.fill(".lp-search", "")
    # tick a second one: both shown (compare)
    page.check('.lp-env[data-env="opt/sgd"] input[type="checkbox"]')
    page.wait_for_function("() => new URLSearchParams(location.search).getAll('env').join() === 'other,opt/sgd'")
    page.wait_for_function("() => window.__livepanel.chart('loss')?.labels.length === 2")
    # the group box selects the whole group
    page.check('.lp-group-head input[type="checkbox"]')
    page.wait_for_function("() => new URLSearchParams(location.search).getAll('env').length === 3")


def test_win_in_the_url_shows_only_that_window_filling_the_page(server, pages, artifacts):
    ops = [line_op("one/run", w, [0, 1, 2], [3.0, 2.0, 1.0], name="train") for w in ("loss", "acc", "lr")]
    send(server.url, ops)
    order = "Array.from(document.querySelectorAll('section.lp-win')).map((e) => e.dataset.win)"
    page = pages.open(server.url + "/?env=one/run&win=loss", width=900, height=600)
    page.wait_for_selector('section[data-win="loss"] canvas', timeout=5000)
    assert page.evaluate(order) == ["loss"]
    assert page.locator(".lp-picker").is_hidden()  # folded, as in a notebook cell
    box = page.locator('section[data-win="loss"]').bounding_box()
    assert box["width"] > 800 and box["height"] > 400  # the one window fills the page
    page.screenshot(path=str(artifacts / "one-window.png"))
    # a window that comes later appears live only when named; resizing here does not touch the env's layout
    send(server.url, [line_op("one/run", "loss", [3], [0.5], name="train"), line_op("one/run", "new", [0], [1.0])])
    page.wait_for_function("() => window.__livepanel.points('loss') === 4", timeout=5000)
    assert page.evaluate(order) == ["loss"]
    handle = page.locator('section[data-win="loss"] .lp-resize').bounding_box()
    page.mouse.move(handle["x"] + 5, handle["y"] + 5)
    page.mouse.down()
    page.mouse.move(handle["x"] - 300, handle["y"] - 100, steps=4)
    page.mouse.up()
    two = pages.open(server.url + "/?env=one/run&win=acc&win=new")
    two.wait_for_function(f"() => {order}.sort().join() === 'acc,new'", timeout=5000)
    full = pages.open(server.url + "/?env=one/run")
    full.wait_for_function(f"() => {order}.length === 4", timeout=5000)
    assert full.evaluate("JSON.stringify(window.__livepanel.state.envs.get('one/run').layout)") == "{}"
    # a window not there yet: the hint says which
    three = pages.open(server.url + "/?env=one/run&win=later")
    three.wait_for_function("() => document.querySelector('.lp-grid-hint').textContent.includes('No window later')")


def test_no_env_in_the_url_shows_the_first_and_follows_new_ones(server, pages):
    page = pages.open(server.url + "/")
    send(server.url, [line_op("zeta", "loss", [0], [1.0])])
    page.wait_for_function("() => location.search === '?env=zeta'", timeout=5000)
    page.wait_for_selector('section[data-win="loss"]')


def test_works_under_base_url_and_with_a_token(server_factory, pages):
    srv = server_factory("--base-url", "/lp", "--token", "s3cret-token", store="memory", start=False)

    def healthy() -> bool:  # the health endpoint lives under the prefix too
        req = urllib.request.Request(srv.url + "/lp/api/v1/health", headers={"Authorization": "Bearer s3cret-token"})
        try:
            with urllib.request.urlopen(req, timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    srv.healthy = healthy
    srv.start()
    base = srv.url + "/lp"
    send(base, [line_op("b", "loss", [0, 1], [1.0, 2.0])], token="s3cret-token")
    page = pages.open(srv.url + "/lp/?env=b&token=s3cret-token")
    assert "token" not in page.url
    page.wait_for_function("() => window.__livepanel.points('loss') === 2", timeout=5000)
    send(base, [line_op("b", "loss", [2], [3.0])], token="s3cret-token")
    page.wait_for_function("() => window.__livepanel.points('loss') === 3", timeout=5000)
    # the image and export endpoints are reached relative to the page too
    assert page.evaluate("fetch(new URL('api/v1/envs?format=json', document.baseURI)).then((r) => r.status)") == 200
