"""The user decides about alerts: dismiss one, mute a kind on a window or in an env; from the client, from
a page's websocket; stored, shared with every viewer, kept across restarts. And the bad forms of both."""

from __future__ import annotations

import time

import numpy as np
import pytest
from wire import Socket, arun, get, line_op, send_ops

from livepanel import Panel


def loss_then_nan(n: int = 300, bad_at: int = 200) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(n, dtype="f8")
    y = 2.0 * np.exp(-x / 60) + 0.1 + 0.01 * np.random.default_rng(0).normal(size=n)
    y[bad_at:] = np.nan
    return x, y


def log_nan_loss(panel: Panel, win: str = "loss", start: float = 0.0, opts: dict | None = None) -> None:
    x, y = loss_then_nan()
    panel.line(x[:10] + start, y[:10], win=win, name="train", opts=opts)
    for i in range(10, len(x), 10):
        panel.line(x[i : i + 10] + start, y[i : i + 10], win=win, name="train")
    assert panel.flush(30)


async def viewer(url: str, env: str) -> Socket:
    sock = await Socket(url).connect()
    await sock.recv()  # hello
    await sock.subscribe([{"env": env}])
    await sock.until(lambda m: m["type"] == "snapshot")
    return sock


def snapshot(url: str, env: str) -> dict:
    async def run():
        sock = await viewer(url, env)
        sock.close()
        return sock.messages[-1]

    return arun(run())


def wait_until(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def test_dismiss_from_the_client_reaches_a_viewer_and_survives_a_restart(server, tmp_path):
    with Panel(server.url, env="run", spool_dir=str(tmp_path / "spool")) as panel:
        log_nan_loss(panel)
        [alert] = panel.alerts()
        assert alert["kind"] == "nonfinite" and alert["dismissed"] is False and alert["evidence"]

        async def watch_dismiss():
            sock = await viewer(server.url, "run")
            assert [a["id"] for a in sock.messages[-1]["alerts"]] == [alert["id"]]
            panel.dismiss(alert["id"])
            msg = await sock.until(lambda m: m["type"] == "change" and m["op"]["op"] == "dismiss")
            sock.close()
            return msg

        msg = arun(watch_dismiss())
        assert msg["op"] == {"op": "dismiss", "env": "run", "id": alert["id"]}
        [stored] = panel.alerts()
        assert stored == alert | {"dismissed": True}
        assert panel.alerts(env="*") == [stored] and panel.alerts(env="elsewhere") == []
    server.restart()
    assert get(server.url, "/api/v1/alerts", env="run")[1]["alerts"] == [stored]
    assert snapshot(server.url, "run")["alerts"] == [stored]  # a page that opens later: dismissed
    # the same ongoing problem does not come back after the dismiss (nor after the restart)
    with Panel(server.url, env="run", spool_dir=str(tmp_path / "spool2")) as panel:
        panel.line(np.arange(300, 400.0), np.full(100, np.nan), win="loss", name="train")
        assert panel.flush(30)
        assert panel.alerts() == [stored]
        panel.dismiss(stored)  # the alert dict works too; dismissing twice changes nothing
        assert panel.flush(10)
        assert panel.alerts() == [stored]
        with pytest.raises(TypeError, match="alert id"):
            panel.dismiss("1")


def test_mute_a_kind_on_a_window_by_its_opts(server, tmp_path):
    with Panel(server.url, env="muted", spool_dir=str(tmp_path / "spool")) as panel:
        log_nan_loss(panel, win="loss", opts={"mute": ["nonfinite"]})
        log_nan_loss(panel, win="other_loss")  # the same in a window without the mute: raised
        assert [(a["win"], a["kind"]) for a in panel.alerts()] == [("other_loss", "nonfinite")]
        assert panel.get("loss")["opts"]["mute"] == ["nonfinite"]
        with pytest.raises(ValueError, match="mute"):
            panel.line(1.0, win="loss", opts={"mute": ["nan"]})


def test_mute_a_kind_in_an_env_from_the_client_then_unmute_from_a_page(server, tmp_path):
    with Panel(server.url, env="quiet", spool_dir=str(tmp_path / "spool")) as panel:
        panel.line(0.0, 1.0, win="setup")
        panel.mute("nonfinite")

        async def watch_mute():
            sock = await viewer(server.url, "quiet")
            if sock.messages[-1].get("mute") != ["nonfinite"]:
                await sock.until(lambda m: m["type"] == "change" and m["op"]["op"] == "mute")
            sock.close()

        assert panel.flush(10)
        arun(watch_mute())
        log_nan_loss(panel, win="loss")
        assert panel.alerts() == []  # not raised
        with pytest.raises(ValueError, match="alert kind"):
            panel.mute("nan")
    server.restart()
    assert snapshot(server.url, "quiet")["mute"] == ["nonfinite"]

    async def unmute_from_a_page():
        page, other = await viewer(server.url, "quiet"), await viewer(server.url, "quiet")
        await page.send({"type": "mute", "env": "quiet", "kind": "nonfinite", "muted": False})
        msg = await other.until(lambda m: m["type"] == "change" and m["op"]["op"] == "mute")
        page.close(), other.close()
        return msg

    msg = arun(unmute_from_a_page())
    assert msg["op"] == {"op": "mute", "env": "quiet", "kind": "nonfinite", "muted": False}
    assert snapshot(server.url, "quiet")["mute"] == []
    with Panel(server.url, env="quiet", spool_dir=str(tmp_path / "spool2")) as panel:
        log_nan_loss(panel, win="grad_norm")  # (a second loss window of the env would not be called NaN again)
        assert [(a["win"], a["kind"]) for a in panel.alerts()] == [("grad_norm", "nonfinite")]


def test_a_page_dismisses_and_mutes_a_window_over_its_socket(server, tmp_path):
    with Panel(server.url, env="page", spool_dir=str(tmp_path / "spool")) as panel:
        log_nan_loss(panel)
        [alert] = panel.alerts()

    async def run():
        page, other = await viewer(server.url, "page"), await viewer(server.url, "page")
        await page.send({"type": "dismiss", "env": "page", "id": alert["id"]})
        dismissed = await other.until(lambda m: m["type"] == "change" and m["op"]["op"] == "dismiss")
        await page.send({"type": "mute", "env": "page", "win": "loss", "kind": "overfitting", "muted": True})
        muted = await other.until(lambda m: m["type"] == "change" and m["op"]["op"] == "mute")
        page.close(), other.close()
        return dismissed, muted

    dismissed, muted = arun(run())
    assert dismissed["op"]["id"] == alert["id"]
    assert muted["op"] == {"op": "mute", "env": "page", "win": "loss", "kind": "overfitting", "muted": True}
    status, state = get(server.url, "/api/v1/window", env="page", win="loss")
    assert status == 200 and state["opts"]["mute"] == ["overfitting"]
    assert get(server.url, "/api/v1/alerts", env="page")[1]["alerts"][0]["dismissed"] is True
    snap = snapshot(server.url, "page")
    assert snap["alerts"][0]["dismissed"] is True
    assert [w["opts"].get("mute") for w in snap["windows"]] == [["overfitting"]]


BAD_OPS = [
    ({"op": "dismiss", "env": "e", "id": "1"}, "dismiss id"),
    ({"op": "dismiss", "env": "e", "id": 2**63}, "dismiss id"),
    ({"op": "dismiss", "env": "e", "id": True}, "dismiss id"),
    ({"op": "dismiss", "env": "e"}, "'id'"),
    ({"op": "dismiss", "env": "e", "id": 1, "win": "w"}, "unknown field"),
    ({"op": "dismiss", "env": "e", "id": 999}, "no alert 999"),
    ({"op": "mute", "env": "e", "kind": "nan"}, "mute kind"),
    ({"op": "mute", "env": "e", "kind": ["nonfinite"]}, "mute kind"),
    ({"op": "mute", "env": "e", "kind": "nonfinite", "muted": "yes"}, "muted"),
    ({"op": "mute", "env": "e", "win": "nowhere", "kind": "nonfinite"}, "does not exist"),
    ({"op": "mute", "env": "e", "win": "", "kind": "nonfinite"}, "window name"),
    ({"op": "opts", "env": "e", "win": "w", "opts": {"mute": ["nan"]}}, "option 'mute'"),
    ({"op": "opts", "env": "e", "win": "w", "opts": {"mute": "nonfinite"}}, "mute"),
    ({"op": "opts", "env": "e", "win": "w", "opts": {"mute": ["overfitting"] * 2}}, "twice"),
]


@pytest.mark.parametrize(("op", "words"), BAD_OPS)
def test_bad_dismiss_and_mute_ops_are_refused_naming_the_field(server, op, words):
    assert send_ops(server.url, [line_op("e", "w", [0], [1.0])], client="bad-ops-setup")[0] == 200
    status, answer = send_ops(server.url, [line_op("e", "w", [1], [2.0]), op], client="bad-ops-client")
    assert status == 400 and answer["op"] == 1 and words in answer["error"], answer
    assert get(server.url, "/api/v1/window", env="e", win="w")[1]["traces"][0]["n"] == 1  # refused whole


BAD_MESSAGES = [
    ({"type": "dismiss", "env": "e", "id": "x"}, "dismiss id"),
    ({"type": "dismiss", "env": "e", "id": 999}, "no alert 999"),
    ({"type": "dismiss", "id": 1}, "'env'"),
    ({"type": "mute", "env": "e", "kind": "nope"}, "mute kind"),
    ({"type": "mute", "env": "e", "kind": "nonfinite", "muted": 1}, "muted"),
    ({"type": "mute", "env": "e", "kind": "nonfinite", "op": "close"}, "unknown field"),
    ({"type": "mute", "env": "e", "win": "nowhere", "kind": "nonfinite"}, "does not exist"),
]


def test_bad_dismiss_and_mute_messages_get_an_error_frame_naming_the_field(server):
    assert send_ops(server.url, [line_op("e", "w", [0], [1.0])])[0] == 200

    async def run():
        sock = await viewer(server.url, "e")
        errors = []
        for msg, _ in BAD_MESSAGES:
            await sock.send(msg)
            errors.append((await sock.until(lambda m: m["type"] == "error"))["message"])
        # the socket stays open and still works
        await sock.send({"type": "mute", "env": "e", "kind": "nonfinite"})
        await sock.until(lambda m: m["type"] == "change" and m["op"]["op"] == "mute")
        sock.close()
        return errors

    errors = arun(run())
    for (_, words), error in zip(BAD_MESSAGES, errors, strict=True):
        assert words in error, (words, error)
