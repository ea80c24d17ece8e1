"""Every operation kind round-trips through a real server: ingest, read back, export."""

from __future__ import annotations

import json

import numpy as np
import pytest
from wire import get, line_op, send_ops, window

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


def image_op(env: str, win: str, step: int | None = None, caption: str = "") -> dict:
    op = {
        "op": "image",
        "env": env,
        "win": win,
        "images": [{"format": "png", "data": PNG, "width": 1, "height": 1, "caption": caption}],
    }
    if step is not None:
        op["step"] = step
    return op


def test_line_append_replace_remove(server):
    x, y = np.arange(5.0), np.array([5.0, 4.0, np.nan, np.inf, -np.inf])
    assert send_ops(server.url, [line_op("e", "loss", x, y, name="train")])[0] == 200
    assert send_ops(server.url, [line_op("e", "loss", [5, 6], [1, 2], name="train")], seq=2)[0] == 200
    trace = window(server.url, "e", "loss")["traces"][0]
    assert trace["name"] == "train" and trace["n"] == 7
    np.testing.assert_array_equal(trace["x"], np.arange(7.0))
    np.testing.assert_array_equal(trace["y"], np.array([5, 4, np.nan, np.inf, -np.inf, 1, 2]))
    send_ops(server.url, [line_op("e", "loss", [0], [9], name="train", update="replace")], seq=3)
    np.testing.assert_array_equal(window(server.url, "e", "loss")["traces"][0]["y"], [9.0])
    send_ops(server.url, [{"op": "line", "env": "e", "win": "loss", "name": "train", "update": "remove"}], seq=4)
    assert window(server.url, "e", "loss")["traces"] == []


def test_float32_stays_float32_and_wall_time_is_kept(server):
    y = np.array([0.5, 0.25], dtype="<f4")
    t = np.array([1.7e9, 1.7e9 + 1.5])
    op = {"op": "scatter", "env": "e", "win": "s", "name": "a", "x": np.array([1.0, 2.0]), "y": y, "t": t}
    assert send_ops(server.url, [op])[0] == 200
    trace = window(server.url, "e", "s")["traces"][0]
    assert trace["y"].dtype == np.float32
    np.testing.assert_array_equal(trace["y"], y)
    np.testing.assert_allclose(trace["t"], t, atol=1e-3)


def test_bar_histogram_heatmap_text_image(server):
    u = server.url
    ops = [
        {"op": "bar", "env": "e", "win": "bar", "y": np.array([[1.0, 2.0], [3.0, 4.0]]), "labels": ["a", "b"]},
        {
            "op": "histogram",
            "env": "e",
            "win": "h",
            "counts": np.array([1, 5, 2]),
            "edges": np.linspace(0, 1, 4),
            "stats": {"mean": 0.5},
        },
        {"op": "histogram", "env": "e", "win": "h", "counts": np.array([2, 2, 2]), "edges": np.linspace(0, 1, 4)},
        {"op": "heatmap", "env": "e", "win": "hm", "z": np.arange(6.0).reshape(2, 3)},
        {"op": "text", "env": "e", "win": "t", "text": "**a**"},
        {"op": "text", "env": "e", "win": "t", "text": " b", "update": "append"},
        image_op("e", "im", step=10, caption="first"),
        image_op("e", "im"),
        {"op": "opts", "env": "e", "win": "bar", "opts": {"title": "Bars", "stacked": True}},
    ]
    assert send_ops(u, ops)[0] == 200
    bar = window(u, "e", "bar")
    np.testing.assert_array_equal(bar["y"], [[1, 2], [3, 4]])
    assert bar["labels"] == ["a", "b"] and bar["opts"] == {"title": "Bars", "stacked": True}
    hist = window(u, "e", "h")
    assert [s["step"] for s in hist["steps"]] == [0, 1]
    np.testing.assert_array_equal(hist["steps"][0]["counts"], [1, 5, 2])
    assert hist["steps"][0]["stats"] == {"mean": 0.5}
    np.testing.assert_array_equal(window(u, "e", "hm")["z"], np.arange(6.0).reshape(2, 3))
    assert window(u, "e", "t")["text"] == "**a** b"
    image = window(u, "e", "im", full=1)
    assert [s["step"] for s in image["steps"]] == [10, 11]
    assert image["steps"][0]["images"][0]["data"] == PNG
    assert "data" not in window(u, "e", "im")["steps"][0]["images"][0]
    status, body = get(u, "/api/v1/image", env="e", win="im", step=10)
    assert status == 200 and body == PNG
    assert get(u, "/api/v1/image", env="e", win="im", step=99)[0] == 404


def test_image_history_is_capped(server_factory):
    srv = server_factory("--max-image-steps", "3")
    for i in range(5):
        assert send_ops(srv.url, [image_op("e", "im", step=i)], seq=i + 1)[0] == 200
    assert [s["step"] for s in window(srv.url, "e", "im")["steps"]] == [2, 3, 4]


def test_close_and_delete_env(server):
    u = server.url
    send_ops(u, [line_op("a", "w1", [1], [1]), line_op("a", "w2", [1], [1]), line_op("b", "w", [1], [1])])
    send_ops(u, [{"op": "close", "env": "a", "win": "w1"}], seq=2)
    assert get(u, "/api/v1/window", env="a", win="w1")[0] == 404
    send_ops(u, [{"op": "delete_env", "env": "a"}], seq=3)
    status, envs = get(u, "/api/v1/envs")
    assert [e["name"] for e in envs["envs"]] == ["b"]


def test_duplicate_batch_is_applied_once(server):
    op = line_op("e", "loss", [1], [1])
    assert send_ops(server.url, [op], client="client-dup", seq=5)[1]["duplicate"] is False
    assert send_ops(server.url, [op], client="client-dup", seq=5)[1]["duplicate"] is True
    assert send_ops(server.url, [op], client="client-dup", seq=3)[1]["duplicate"] is True
    assert window(server.url, "e", "loss")["traces"][0]["n"] == 1


def test_read_range_is_decimated_and_keeps_spikes(server):
    n = 200_000
    x = np.arange(n, dtype="f8")
    y = np.sin(x / 1000)
    y[123_457] = 50.0
    y[150_000] = np.nan
    assert send_ops(server.url, [line_op("e", "big", x, y)])[0] == 200
    trace = window(server.url, "e", "big", width=500)["traces"][0]
    assert trace["decimated"] and len(trace["x"]) <= 3 * 500 + 2 and trace["n"] == n
    assert np.nanmax(trace["y"]) == 50.0 and np.isnan(trace["y"]).any()
    zoom = window(server.url, "e", "big", x0=1000, x1=1999, width=2000)["traces"][0]
    assert not zoom["decimated"]
    np.testing.assert_array_equal(zoom["x"], np.arange(1000.0, 2000.0))


def test_export_csv_and_json(server):
    u = server.url
    send_ops(u, [line_op("e", "loss", [1, 2], [0.1, np.nan], name="tr,ain")])
    status, body = get(u, "/api/v1/export", env="e", win="loss", format="csv")
    lines = body.decode().splitlines()
    assert lines[0] == "trace,x,y,time" and lines[1].startswith('"tr,ain",1.0,0.1,') and ",nan," in lines[2]
    status, body = get(u, "/api/v1/export", env="e", win="loss", format="json")
    data = json.loads(body)
    assert data["traces"][0]["y"] == [0.1, None]


def test_envs_listing_json(server):
    send_ops(
        server.url,
        [
            line_op("mnist/adam", "loss", [1], [1]),
            {"op": "opts", "env": "mnist/adam", "win": "loss", "opts": {"title": "Loss"}},
        ],
    )
    status, body = get(server.url, "/api/v1/envs", format="json")
    listing = json.loads(body)
    assert listing["envs"] == [
        {"name": "mnist/adam", "seq": 2, "windows": [{"win": "loss", "kind": "line", "title": "Loss"}]}
    ]


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_both_stores_serve(server_factory, store):
    srv = server_factory(store=store)
    assert send_ops(srv.url, [line_op("e", "w", [1, 2], [3, 4])])[0] == 200
    assert window(srv.url, "e", "w")["traces"][0]["n"] == 2


def test_step_wall_time_and_client_seq(server):
    u = server.url
    ops = [
        {
            "op": "histogram",
            "env": "e",
            "win": "h",
            "counts": np.array([1.0]),
            "edges": np.array([0.0, 1.0]),
            "step": 3,
            "t": 1_600_000_000.5,
        },
        image_op("e", "im", step=4) | {"t": 1_600_000_001.0},
    ]
    assert send_ops(u, ops, client="stepper-01", seq=9)[0] == 200
    assert window(u, "e", "h")["steps"][0]["t"] == 1_600_000_000.5
    assert window(u, "e", "im")["steps"][0]["t"] == 1_600_000_001.0
    assert get(u, "/api/v1/clients", client="stepper-01")[1] == {"client": "stepper-01", "seq": 9}
    assert get(u, "/api/v1/clients", client="never-seen")[1]["seq"] == 0
    assert get(u, "/api/v1/clients")[0] == 400
    bad = ops[0] | {"t": "yesterday"}
    status, answer = send_ops(u, [bad], client="stepper-01", seq=10)
    assert status == 400 and "t must be a finite number" in answer["error"]


def test_chunked_body_without_length(server):
    import http.client

    from livepanel import protocol

    body = protocol.packb({"client": "chunked-client", "seq": 1, "ops": [line_op("e", "c", [1, 2], [3, 4])]})
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        parts = iter([body[:10], body[10:]])
        conn.request(
            "POST", "/api/v1/ingest", body=parts, headers={"Content-Type": "application/msgpack"}, encode_chunked=True
        )
        resp = conn.getresponse()
        assert resp.status == 200 and protocol.unpackb(resp.read())["ok"] is True
    finally:
        conn.close()
    assert window(server.url, "e", "c")["traces"][0]["n"] == 2
