"""Events from a real page to a Python handler (issue 20, items 4 and 5): a click on a line plot arrives with
its data coordinates and the nearest point and trace; a key pressed in the focused window arrives; editing a
properties pane (number, checkbox, select, button) changes what a running loop reads."""

from __future__ import annotations

import threading
import time

from client_helpers import wait_value

import livepanel


def test_a_click_on_a_line_plot_and_a_key_press_reach_the_handler(server, pages, tmp_path):
    panel = livepanel.Panel(server.url, env="ev", spool_dir=tmp_path / "spool")
    xs = list(range(10))
    panel.line(xs, [float(x * x) for x in xs], win="loss", name="train")
    panel.line(xs, [50.0] * 10, win="loss", name="val")
    got: list[dict] = []
    panel.on("loss", got.append)
    assert panel.flush()
    wait_value(panel._downlink.connected.is_set, what="the downlink")
    try:
        page = pages.open(server.url + "/?env=ev")
        page.wait_for_function("() => window.__livepanel.points('loss') === 10", timeout=10000)
        page.wait_for_function("() => !!window.__livepanel.uplot('loss')", timeout=5000)
        # where the point (4, 16) of "train" is drawn, in page coordinates; click 3 px beside it
        x, y = page.evaluate(
            """() => {
                const u = window.__livepanel.uplot('loss');
                const r = u.over.getBoundingClientRect();
                return [r.left + u.valToPos(4, 'x'), r.top + u.valToPos(16, 'y')];
            }"""
        )
        page.mouse.click(x + 3, y - 2)
        wait_value(lambda: len(got) == 1, what="the click")
        click = got[0]
        assert click["event"] == "click" and click["env"] == "ev" and click["win"] == "loss"
        assert click["point"] == {"trace": "train", "index": 4, "x": 4.0, "y": 16.0}
        assert abs(click["x"] - 4) < 0.2 and abs(click["y"] - 16) < 3  # the data coordinates of the pointer
        # the window took focus with the click: a key pressed now is its
        assert page.evaluate("() => document.activeElement?.dataset?.win") == "loss"
        page.keyboard.press("k")
        page.keyboard.press("Shift+ArrowUp")
        wait_value(lambda: len(got) == 4, what="three key presses (Shift is one, as in Visdom)")
        assert (got[1]["event"], got[1]["key"], got[1]["code"], got[1]["shift"]) == ("key", "k", "KeyK", False)
        assert [(e["key"], e["shift"]) for e in got[2:]] == [("Shift", True), ("ArrowUp", True)]
        assert page.evaluate("() => window.__livepanel.events.click") == 1
    finally:
        panel.close()


def test_editing_a_properties_pane_changes_what_a_running_loop_reads(server, pages, tmp_path):
    panel = livepanel.Panel(server.url, env="props", spool_dir=tmp_path / "spool")
    props = panel.properties(
        "controls",
        {
            "lr": 1e-3,
            "pause": False,
            "opt": {"type": "select", "value": "adam", "values": ["adam", "sgd", "lion"]},
            "stop": {"type": "button", "label": "Stop"},
            "note": "",
        },
    )
    assert panel.flush()
    seen: list[tuple] = []
    done = threading.Event()

    def train():  # reads the pane each step, as a training loop would
        for _ in range(1_000_000):
            step = (props["lr"], props["pause"], props["opt"], props["stop"])  # read once: edits land any time
            seen.append(step)
            if step[3] >= 1 or done.is_set():
                return
            time.sleep(0.002)

    loop = threading.Thread(target=train)
    loop.start()
    try:
        page = pages.open(server.url + "/?env=props")
        pane = page.locator('section.lp-win[data-win="controls"]')
        pane.locator("tr[data-prop='0'] input").wait_for(timeout=10000)
        assert pane.locator("tr[data-prop='0'] input").input_value() == "0.001"
        number = pane.locator("tr[data-prop='0'] input")
        number.fill("0.01")
        number.press("Enter")
        wait_value(lambda: props["lr"] == 0.01, what="lr from the page")
        pane.locator("tr[data-prop='1'] input").check()
        wait_value(lambda: props["pause"] is True, what="pause from the page")
        pane.locator("tr[data-prop='2'] select").select_option(label="sgd")
        wait_value(lambda: props["opt"] == "sgd", what="opt from the page")
        text = pane.locator("tr[data-prop='4'] input")
        text.fill("lower lr at 3k")
        text.press("Enter")
        wait_value(lambda: props["note"] == "lower lr at 3k", what="the note")
        pane.locator("tr[data-prop='3'] button").click()
        loop.join(15)
        assert not loop.is_alive()
        assert seen[0] == (1e-3, False, "adam", 0) and seen[-1] == (0.01, True, "sgd", 1)
        # another viewer sees the edits (they are stored, not just sent)
        other = pages.open(server.url + "/?env=props")
        other.locator('section.lp-win[data-win="controls"] tr[data-prop="3"] .lp-props-count').wait_for(timeout=10000)
        assert other.locator('section.lp-win[data-win="controls"] tr[data-prop="0"] input').input_value() == "0.01"
        assert other.locator('section.lp-win[data-win="controls"] tr[data-prop="2"] select').input_value() == "1"
    finally:
        done.set()
        panel.close()


def test_a_click_on_an_image_reaches_a_visdom_handler_with_image_coord(server, pages, tmp_path):
    import numpy as np

    from livepanel.visdom import Visdom

    viz = Visdom(server="http://127.0.0.1", port=server.port, env="img", spool_dir=tmp_path / "spool")
    win = viz.image(np.random.rand(3, 64, 128), opts={"title": "Click me!"})  # CHW: 128 wide, 64 high
    got: list[dict] = []
    viz.register_event_handler(got.append, win)
    assert viz.flush()
    wait_value(viz.panel._downlink.connected.is_set, what="the downlink")
    try:
        page = pages.open(server.url + "/?env=img")
        img = page.locator(f'section.lp-win[data-win="{win}"] img')
        img.wait_for(timeout=10000)
        page.wait_for_function(
            f"""() => {{ const i = document.querySelector('section.lp-win[data-win="{win}"] img');
                return i && i.complete && i.naturalWidth > 0; }}""",
            timeout=10000,
        )
        box = img.bounding_box()
        # the pixel (96, 16) of the image, whatever the zoom it is shown at
        page.mouse.click(box["x"] + (96.5 / 128) * box["width"], box["y"] + (16.5 / 64) * box["height"])
        wait_value(lambda: len(got) == 1, what="the click")
        click = got[0]
        assert click["event_type"] == "Click" and click["target"] == win and click["eid"] == "img"
        assert click["image_coord"] == {"x": 96, "y": 16} and click["pane_data"]["type"] == "image"
    finally:
        viz.panel.close()


def test_text_being_typed_in_a_pane_survives_a_change_of_the_pane(server, pages, tmp_path):
    panel = livepanel.Panel(server.url, env="typing", spool_dir=tmp_path / "spool")
    items = {"lr": 1e-3, "note": ""}
    props = panel.properties("controls", items)
    assert panel.flush()
    try:
        page = pages.open(server.url + "/?env=typing")
        pane = page.locator('section.lp-win[data-win="controls"]')
        note = pane.locator("tr[data-prop='1'] input")
        note.wait_for(timeout=10000)
        note.fill("half typed")  # focused, not yet committed
        lr = 'section.lp-win[data-win="controls"] tr[data-prop="0"] input'
        for value in (0.5, 0.25):  # the writer changes the pane meanwhile, more than once
            props = panel.properties("controls", items | {"lr": value})
            assert panel.flush()
            page.wait_for_function(f"() => document.querySelector('{lr}')?.value === '{value}'", timeout=10000)
        assert note.input_value() == "half typed"
        note.press("Enter")
        wait_value(lambda: props["note"] == "half typed", what="the note")
    finally:
        panel.close()
