"""Alerts from the server's diagnosis in the page: a badge on the window, the onset marked on
its chart, the alerts list; all live, in light and dark, and never executing a name.

(Named test_alerts_ui.py: tests/test_alerts.py exists, and pytest's default import mode
cannot collect two test modules with the same basename.)"""

from __future__ import annotations

import numpy as np
from browser_helpers import next_frames, next_seq
from wire import get, line_op, send_ops

PAYLOADS = ['<img src=x onerror="window.__pwned=1">', "<script>window.__pwned=2</script>"]

# The onset marker's pixel column in the chart canvas: is something red drawn there?
RED_IN_COLUMN = """([win, px]) => {
    const canvas = document.querySelector(`section[data-win="${CSS.escape(win)}"] .u-wrap canvas`);
    const g = canvas.getContext("2d");
    const x = Math.round(px);
    const d = g.getImageData(x - 1, 0, 3, canvas.height).data;
    let red = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] > 170 && d[i + 1] < 110 && d[i + 2] < 110 && d[i + 3] > 200) red++;
    return red;
}"""

# Where x = step falls in CSS pixels of the canvas, from the plot area (uPlot's .u-over) and the x range.
EXPECTED_CSS_PX = """([win, step, x0, x1]) => {
    const over = document.querySelector(`section[data-win="${CSS.escape(win)}"] .u-over`);
    return parseFloat(over.style.left) + ((step - x0) / (x1 - x0)) * parseFloat(over.style.width);
}"""


def send(url: str, ops: list[dict]) -> dict:
    status, answer = send_ops(url, ops, client="browser-alerts", seq=next_seq())
    assert status == 200, answer
    return answer


def raised(url: str, ack: dict) -> list[dict]:
    """The alerts a batch raised: in its ack, or once judged, if the ack went before its diagnosis."""
    status, judged = get(url, "/api/v1/alerts", client="browser-alerts", wait=30)
    assert status == 200, judged
    return ack.get("alerts", []) + judged["alerts"]


def loss_then_nan(n: int = 300, bad_at: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """A falling loss that turns NaN at step `bad_at` (as tests/test_alerts.py)."""
    x = np.arange(n, dtype="f8")
    y = 2.0 * np.exp(-x / 60) + 0.1 + 0.01 * np.random.default_rng(0).normal(size=n)
    y[bad_at:] = np.nan
    return x, y


def marker_of(page, win: str) -> dict:
    page.wait_for_function("(win) => window.__livepanel.markers(win).some((m) => m.visible)", arg=win, timeout=5000)
    [m] = page.evaluate("(win) => window.__livepanel.markers(win)", win)
    return m


def check_marker(page, win: str, step: float) -> None:
    m = marker_of(page, win)
    assert m["step"] == step and m["x"] == step and m["kind"] == "nonfinite"
    dpr = page.evaluate("window.devicePixelRatio")
    expected = page.evaluate(EXPECTED_CSS_PX, [win, step, 0, 299])
    assert abs(m["px"] / dpr - expected) < 2, (m, expected)
    assert page.evaluate(RED_IN_COLUMN, [win, m["px"]]) > 20  # the dashed line is drawn there


def test_nan_loss_alert_shows_live_as_badge_marker_and_list(server, pages, artifacts):
    env, win = "diag/run", "loss"
    x, y = loss_then_nan()
    page = pages.open(server.url + f"/?env={env}")
    send(server.url, [line_op(env, win, x[:200], y[:200], name="train")])
    page.wait_for_function("() => window.__livepanel.points('loss') === 200", timeout=5000)
    badge = page.locator('section[data-win="loss"] .lp-alert-badge')
    assert not badge.is_visible()
    assert not page.locator(".lp-alerts-toggle").is_visible()

    ack = send(server.url, [line_op(env, win, x[200:], y[200:], name="train")])
    [alert] = raised(server.url, ack)
    badge.wait_for(state="visible", timeout=5000)
    assert page.evaluate("window.__livepanel.connections") == 1  # live: no reload
    assert badge.get_attribute("data-kind") == "nonfinite" and badge.get_attribute("data-count") == "1"
    assert "NaN" in badge.inner_text()
    title = badge.get_attribute("title")
    assert alert["message"] in title and alert["suggestion"] in title

    # the list, opened by the new alert
    item = page.locator('.lp-alerts .lp-alert[data-win="loss"]')
    item.wait_for(state="visible", timeout=5000)
    assert item.count() == 1 and item.get_attribute("data-step") == "200"
    text = item.inner_text()
    assert alert["message"] in text and alert["suggestion"] in text and "loss / train" in text and "step 200" in text
    assert page.locator(".lp-alerts-toggle").inner_text() == "⚠ 1 alert"
    assert page.evaluate("window.__livepanel.alerts('loss').map((a) => [a.id, a.step])") == [[alert["id"], 200]]

    check_marker(page, win, 200.0)
    page.screenshot(path=str(artifacts / "alerts-light.png"))

    # clicking the entry highlights the window; clicking the badge highlights the entry
    item.locator("button.lp-alert-item").click()
    page.wait_for_selector('section[data-win="loss"].lp-flash', timeout=2000)
    badge.click()
    page.wait_for_selector('.lp-alert[data-win="loss"].lp-flash', timeout=2000)

    # x by wall time: the marker moves to the time of the onset step
    page.select_option('section[data-win="loss"] select.lp-xmode', "time")
    t200 = page.evaluate(
        "() => window.__livepanel.state.envs.get('diag/run').windows.get('loss').traces[0].t.values[200]"
    )
    page.wait_for_function("(t) => window.__livepanel.markers('loss')[0]?.x === t", arg=t200, timeout=5000)
    assert marker_of(page, win)["step"] == 200.0

    # the same in dark, from a snapshot this time
    dark = pages.open(server.url + f"/?env={env}", color_scheme="dark")
    dark.locator('section[data-win="loss"] .lp-alert-badge').wait_for(state="visible", timeout=5000)
    check_marker(dark, win, 200.0)
    dark.screenshot(path=str(artifacts / "alerts-dark.png"))

    # closing the window drops its alerts, here and on the server
    send(server.url, [{"op": "close", "env": env, "win": win}])
    page.wait_for_function("() => window.__livepanel.alerts().length === 0", timeout=5000)
    page.wait_for_selector(".lp-alerts-toggle", state="hidden", timeout=5000)
    assert page.locator(".lp-alert").count() == 0
    assert get(server.url, "/api/v1/alerts", env=env)[1]["alerts"] == []


def test_alert_names_with_injection_strings_execute_nothing(server, pages, artifacts):
    envs = ["x/" + PAYLOADS[0], "y/" + PAYLOADS[1]]
    win = "loss " + PAYLOADS[0]
    x, y = loss_then_nan(n=240)
    for env in envs:
        ack = send(server.url, [line_op(env, win, x, y, name=PAYLOADS[1])])
        assert [a["kind"] for a in raised(server.url, ack)] == ["nonfinite"]

    page = pages.open(server.url + "/")
    page.evaluate("(envs) => window.__livepanel.select(envs)", envs)
    frame = page.locator("section.lp-win").first
    badge = frame.locator(".lp-alert-badge")
    badge.wait_for(state="visible", timeout=5000)
    # each env's snapshot arrives on its own: the badge first counts one env's alert, then both
    page.wait_for_function(
        "() => document.querySelector('section.lp-win .lp-alert-badge')?.dataset.count === '2'", timeout=5000
    )
    # compared side by side: one window id, one badge counting both envs, the tooltip says which env
    assert page.locator("section.lp-win").count() == 1
    assert badge.get_attribute("data-count") == "2"
    title = badge.get_attribute("title")
    assert all(env in title for env in envs) and win in title and PAYLOADS[1] in title
    items = page.locator(".lp-alert")
    items.first.wait_for(state="visible", timeout=5000)
    assert items.count() == 2
    wheres = page.locator(".lp-alert-where").all_inner_texts()
    assert sorted(wheres) == sorted(f"{env} · {win} / {PAYLOADS[1]}" for env in envs)
    page.wait_for_function("(win) => window.__livepanel.markers(win).length === 2", arg=win, timeout=5000)
    # touch everything a person would
    badge.hover()
    badge.click()
    for b in items.locator("button.lp-alert-item").all():  # (its dismiss and mute buttons: below)
        b.click()
    page.mouse.move(300, 300)
    next_frames(page)  # what the moves set off has run
    assert page.evaluate("window.__pwned") is None
    assert page.locator(".lp-alerts img, .lp-alerts script, .lp-win img, .lp-win script, [onerror]").count() == 0
    page.screenshot(path=str(artifacts / "alerts-injection.png"))


def wait_shown(page, win: str, n: int) -> None:
    """Until the page shows n alerts on window win (badge count and markers follow them)."""
    page.wait_for_function("([win, n]) => window.__livepanel.alerts(win).length === n", arg=[win, n], timeout=5000)


def test_evidence_shows_by_the_marker_and_dismiss_and_mute_reach_another_page(server, pages, artifacts):
    env = "diag/shared"
    x, y = loss_then_nan()
    first = pages.open(server.url + f"/?env={env}")
    second = pages.open(server.url + f"/?env={env}")
    [alert] = raised(server.url, send(server.url, [line_op(env, "loss", x, y, name="train")]))
    assert alert["evidence"]
    for page in (first, second):
        wait_shown(page, "loss", 1)
        marker_of(page, "loss")
        # the evidence, as text, on the window under its chart, and in the list
        note = page.locator('section[data-win="loss"] .lp-alert-note')
        note.wait_for(state="visible", timeout=5000)
        assert note.locator(".lp-alert-evidence").inner_text() == alert["evidence"]
        assert "NaN/Inf" in note.inner_text() and "step 200" in note.inner_text()
        assert alert["evidence"] in page.locator(f'.lp-alert[data-id="{alert["id"]}"]').inner_text()
        assert alert["evidence"] in page.locator('section[data-win="loss"] .lp-alert-badge').get_attribute("title")
    first.screenshot(path=str(artifacts / "alerts-evidence.png"))

    # one page dismisses it with the button in the list: the other sees it go, live
    first.locator(f'.lp-alert[data-id="{alert["id"]}"] button.lp-dismiss').click()
    for page in (second, first):
        wait_shown(page, "loss", 0)
        page.locator('section[data-win="loss"] .lp-alert-badge').wait_for(state="hidden", timeout=5000)
        page.wait_for_function("() => window.__livepanel.markers('loss').length === 0", timeout=5000)
        assert page.locator(".lp-alert-note, .lp-alert").count() == 0
        assert page.evaluate("window.__livepanel.alerts('loss', true).map((a) => a.dismissed)") == [True]
    assert second.evaluate("window.__livepanel.connections") == 1  # live: no reload
    assert get(server.url, "/api/v1/alerts", env=env)[1]["alerts"] == [alert | {"dismissed": True}]

    # "mute here" on a window's alert, in the second page: the kind is hidden on that window in both
    g = np.arange(300.0)
    norms = np.where(g < 150, 1.0, np.nan)
    [grad] = raised(server.url, send(server.url, [line_op(env, "grad_norm", g, norms, name="fc1")]))
    assert grad["kind"] == "nonfinite"
    for page in (first, second):
        wait_shown(page, "grad_norm", 1)
    second.locator('section[data-win="grad_norm"] .lp-alert-note button.lp-mute').click()
    for page in (first, second):
        wait_shown(page, "grad_norm", 0)
        page.locator('section[data-win="grad_norm"] .lp-alert-badge').wait_for(state="hidden", timeout=5000)
        assert page.locator(".lp-alerts-toggle").is_hidden()
    status, state = get(server.url, "/api/v1/window", env=env, win="grad_norm")
    assert status == 200 and state["opts"]["mute"] == ["nonfinite"]
    assert get(server.url, "/api/v1/alerts", env=env)[1]["alerts"][1]["dismissed"] is False  # muted, not dismissed

    # a page opened later sees the same: nothing shown, both alerts held
    later = pages.open(server.url + f"/?env={env}")
    later.wait_for_function("() => window.__livepanel.alerts(undefined, true).length === 2", timeout=5000)
    assert later.evaluate("window.__livepanel.alerts().length") == 0
    assert later.locator(".lp-alert-badge.on, .lp-alert-note").count() == 0
