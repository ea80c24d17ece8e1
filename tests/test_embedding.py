"""Embedding windows: panel.embedding to the server and back (panel.get, /api/v1/embedding, export), PCA
against numpy, t-SNE off the event loop with progress, nearest neighbours, a bounded history by step, bad
input refused at the call and at the server with nothing stored, and a restart that keeps it all."""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import io
import json
import os

import numpy as np
import pytest
from client_helpers import wait_value
from wire import arun, get, send_ops, window

import livepanel
from livepanel import embedding, protocol
from livepanel.server import projector
from livepanel.server.store import Store
from livepanel.server.store.model import Limits


def blobs(n: int = 90, d: int = 6, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.standard_normal((3, d))[y] * 5 + rng.standard_normal((n, d))
    return x.astype(np.float32), [f"c{k}" for k in y]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    from serverproc import ServerProcess

    s = ServerProcess(tmp_path_factory.mktemp("emb") / "data").start()
    yield s
    s.stop()


@pytest.fixture
def panel(srv, tmp_path):
    p = livepanel.Panel(srv.url, env="emb", spool_dir=tmp_path / "spool")
    yield p
    p.close()


def test_round_trip_points_neighbours_thumbnails_and_export(srv, panel):
    x, labels = blobs()
    imgs = (np.random.default_rng(1).random((90, 12, 12, 3)) * 255).astype(np.uint8)
    panel.embedding(
        x.astype(np.float64),  # sent as float32
        labels=np.array([int(s[1]) for s in labels]),  # numbers become text labels
        metadata={"size": np.arange(90), "kind": labels},
        images=imgs,
        win="rt",
        step=5,
    )
    got = panel.get("rt")
    assert got["kind"] == "embedding"
    (s,) = got["steps"]
    assert s["step"] == 5 and s["features"].dtype == np.float32
    np.testing.assert_array_equal(s["features"], x)
    assert s["labels"] == [s_[1] for s_ in labels]
    np.testing.assert_array_equal(s["metadata"]["size"], np.arange(90.0))
    assert s["metadata"]["kind"] == labels
    assert s["projections"]["pca"].shape == (90, 3)
    assert len(s["thumbs"]) == 90 and all(t[:4] == b"\x89PNG" for t in s["thumbs"])
    # the page's read: meta and points, no features
    status, pts = get(srv.url, "/api/v1/embedding", env="emb", win="rt")
    assert status == 200 and pts["n"] == 90 and pts["dim"] == 6 and pts["columns"] == {"size": "number", "kind": "text"}
    assert "features" not in pts and pts["coords"]["pca"].shape == (90, 3)
    status, png = get(srv.url, "/api/v1/embedding", env="emb", win="rt", thumb=3)
    assert status == 200 and png[:4] == b"\x89PNG"
    # neighbours in the original space, cosine and Euclidean, against brute force
    for metric in ("cosine", "l2"):
        status, nn = get(srv.url, "/api/v1/embedding", env="emb", win="rt", neighbors=4, k=7, metric=metric)
        assert status == 200, nn
        if metric == "cosine":
            u = x / np.linalg.norm(x, axis=1, keepdims=True)
            dist = 1 - u @ u[4]
        else:
            dist = np.linalg.norm(x - x[4], axis=1)
        dist[4] = np.inf
        np.testing.assert_array_equal(nn["index"], np.argsort(dist, kind="stable")[:7])
        np.testing.assert_allclose(nn["distance"], np.sort(dist)[:7], rtol=1e-4, atol=1e-5)
    # export: CSV one row per point, JSON everything but bytes
    status, body = get(srv.url, "/api/v1/export", env="emb", win="rt", format="csv")
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0][:4] == ["step", "point", "label", "pca_1"] and "kind" in rows[0] and "f_5" in rows[0]
    assert len(rows) == 91 and rows[1][:3] == ["5", "0", labels[0][1]]
    assert float(rows[1][rows[0].index("f_0")]) == float(x[0, 0])
    status, body = get(srv.url, "/api/v1/export", env="emb", win="rt", format="json")
    doc = json.loads(body)
    assert doc["steps"][0]["features"][0] == [float(v) for v in x[0]] and "thumbs" not in doc["steps"][0]


@pytest.mark.parametrize("shape", [(200, 12), (8, 40)])  # D <= N: covariance; D > N: Gram matrix
def test_pca_matches_numpy(shape):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(shape) * np.linspace(5, 0.5, shape[1])).astype(np.float32)
    coords, ratio = embedding.pca(x)
    xc = x.astype(np.float64) - x.mean(axis=0)
    u, sv, vt = np.linalg.svd(xc, full_matrices=False)
    want = u[:, :3] * sv[:3]
    for j in range(3):  # a component is defined up to its sign
        sign = np.sign(want[:, j] @ coords[:, j])
        np.testing.assert_allclose(coords[:, j], sign * want[:, j], rtol=1e-3, atol=1e-3 * sv[0])
    np.testing.assert_allclose(ratio, sv[:3] ** 2 / (sv**2).sum(), rtol=1e-4)
    assert np.array_equal(embedding.pca(x)[0], coords)  # the same data projects the same way every time


def test_randomized_pca_of_many_values_matches_the_exact_one(monkeypatch):
    rng = np.random.default_rng(5)
    scale = np.r_[10.0, 7.0, 5.0, np.ones(61)]  # three clear components over noise, turned by a rotation
    x = ((rng.standard_normal((20_000, 64)) * scale) @ np.linalg.qr(rng.standard_normal((64, 64)))[0] + 3).astype(
        np.float32
    )  # 1.28M values: past EXACT_PCA
    fast, ratio = embedding.pca(x)
    monkeypatch.setattr(embedding, "EXACT_PCA", 10**9)
    exact, exact_ratio = embedding.pca(x)
    np.testing.assert_allclose(fast, exact, atol=1e-3 * np.abs(exact).max())
    np.testing.assert_allclose(ratio, exact_ratio, rtol=1e-4)


def test_pca_of_fewer_dimensions_than_components_pads_with_zeros():
    coords, ratio = embedding.pca(np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]], np.float32))
    assert coords.shape == (3, 3) and not coords[:, 2].any() and ratio[2] == 0


def test_tsne_reports_progress_and_separates_clusters():
    pytest.importorskip("sklearn")
    x, labels = blobs(60, 5)
    seen: list[float] = []
    out = projector.tsne(x, 2, seen.append)
    assert out.shape == (60, 2) and out.dtype == np.float32 and np.isfinite(out).all()
    assert len(seen) >= 10 and seen == sorted(seen) and 0.1 < seen[0] and seen[-1] <= 1.0
    centres = np.array([out[[i for i, s in enumerate(labels) if s == c]].mean(axis=0) for c in ("c0", "c1", "c2")])
    spread = max(np.linalg.norm(out[i] - centres[int(s[1])]) for i, s in enumerate(labels))
    assert min(np.linalg.norm(centres[a] - centres[b]) for a, b in ((0, 1), (0, 2), (1, 2))) > spread


def test_tsne_is_computed_off_the_loop_cached_and_pushed_to_viewers(srv, panel):
    pytest.importorskip("sklearn")
    x, _ = blobs(50, 4)
    panel.embedding(x, win="ts")
    assert panel.flush()
    status, answer = get(srv.url, "/api/v1/embedding", env="emb", win="ts", project="tsne", dims=2)
    assert status == 200 and answer == {"key": "tsne-2d", "state": "running"}
    # while t-SNE runs the server answers other requests
    assert get(srv.url, "/api/v1/embedding", env="emb", win="ts")[0] == 200

    def done():
        return window(srv.url, "emb", "ts")["steps"][0]["projections"].get("tsne-2d") == "done"

    wait_value(done, 30, "t-SNE to finish")
    status, pts = get(srv.url, "/api/v1/embedding", env="emb", win="ts", key="tsne-2d")
    assert pts["coords"]["tsne-2d"].shape == (50, 2) and list(pts["coords"]) == ["tsne-2d"]
    assert get(srv.url, "/api/v1/embedding", env="emb", win="ts", project="tsne", dims=2)[1]["state"] == "done"
    status, err = get(srv.url, "/api/v1/embedding", env="emb", win="ts", project="lda")
    assert status == 400 and "project must be one of pca, tsne, umap" in err["error"]


@pytest.mark.skipif(importlib.util.find_spec("umap") is None, reason="umap-learn is not installed (optional)")
@pytest.mark.skipif(not os.environ.get("LIVEPANEL_TEST_UMAP"), reason="slow: set LIVEPANEL_TEST_UMAP=1")
def test_umap_small():
    # umap-learn imports in about 8 s and compiles with numba on its first call (about 12 s more here), more
    # than the suite's budget for this file: run with LIVEPANEL_TEST_UMAP=1
    x, _ = blobs(30, 4)
    out = projector.umap(x, 2, lambda f: None)
    assert out.shape == (30, 2) and np.isfinite(out).all()


def _op(step: int | None, n: int = 40, d: int = 4) -> dict:
    x = np.random.default_rng(step or 0).standard_normal((n, d)).astype(np.float32)
    op = {"op": "embedding", "env": "h", "win": "w", "features": x, "labels": None, "metadata": {}, "step": step}
    return protocol.validate_op(protocol.unpackb(protocol.packb({k: v for k, v in op.items() if v is not None})))


def test_history_is_kept_by_step_and_bounded_in_steps_and_bytes():
    store = Store(None, Limits(max_embedding_steps=3))
    for step in (0, 1, 2, 3, 4):
        arun(store.ingest("client-hist", step + 1, [_op(step)]))
    w = store.state.window("h", "w")
    assert list(w.steps) == [2, 3, 4]
    one = embedding.size(w.steps[4])
    store = Store(None, Limits(max_embedding_bytes=2 * one + 1))
    messages: list[dict] = []
    store.listeners.append(messages.extend)
    for step in (0, 1, 2):
        arun(store.ingest("client-hist", step + 1, [_op(step)]))
    assert list(store.state.window("h", "w").steps) == [1, 2] and messages[-1]["op"]["dropped"] == [0]
    assert "features" not in messages[-1]["op"] and messages[-1]["op"]["n"] == 40  # viewers get no points
    store = Store(None, Limits(max_embedding_bytes=1))  # the latest step is always kept
    arun(store.ingest("client-hist", 1, [_op(None), _op(None)]))
    assert list(store.state.window("h", "w").steps) == [1]


BAD_CALLS = {
    "nan": (
        dict(features=np.array([[0.0, np.nan], [1, 2]])),
        "non-finite value(s) (NaN or infinity), the first at point 0",
    ),
    "inf": (dict(features=np.array([[0.0, 1], [np.inf, 2]])), "the first at point 1, dimension 0"),
    "beyond float32": (dict(features=np.array([[1e300, 1.0]])), "beyond float32's range"),
    "1-D": (dict(features=np.zeros(5)), "expected a 2-D array, got shape (5,)"),
    "3-D": (dict(features=np.zeros((2, 3, 4))), "expected a 2-D array"),
    "no points": (dict(features=np.zeros((0, 3))), "has 0 points; give 1 to 100000"),
    "too many points": (dict(features=np.zeros((100_001, 1), np.float32)), "has 100001 points"),
    "too many values": (dict(features=np.zeros((60_000, 256), np.float32)), "the limit is 12800000"),
    "text": (dict(features=[["a", "b"]]), "expected real numbers"),
    "labels": (dict(features=np.zeros((3, 2)), labels=["a", "b"]), "must have 3 entries (one per row), got 2"),
    "metadata length": (dict(features=np.zeros((3, 2)), metadata={"m": [1, 2]}), "'m' has 2 values for 3 points"),
    "metadata 2-D": (dict(features=np.zeros((3, 2)), metadata={"m": np.zeros((3, 2))}), "must be a 1-D sequence"),
    "metadata type": (dict(features=np.zeros((3, 2)), metadata=[1, 2, 3]), "must be a dict of column names"),
    "images": (dict(features=np.zeros((3, 2)), images=np.zeros((2, 4, 4))), "3 points but 2 images"),
    "image shape": (dict(features=np.zeros((2, 2)), images=np.zeros((2, 4))), "must be N x H x W"),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_input_is_refused_in_the_call_and_nothing_is_sent(panel, case):
    kwargs, message = BAD_CALLS[case]
    features = kwargs.pop("features")
    with pytest.raises((ValueError, TypeError), match=None) as info:
        panel.embedding(features, win="bad", **kwargs)
    assert message in str(info.value)
    assert len(panel._q) == 0 and panel.flush()
    with pytest.raises(KeyError):
        panel.get("bad")


def _wire(x, **fields) -> dict:
    return {"op": "embedding", "env": "raw", "win": "w", "features": x, **fields}


BAD_OPS = {
    "float64": (_wire(np.zeros((3, 2))), "must be float32 (f4), got f8"),
    "nan": (_wire(np.array([[0, np.nan]], np.float32)), "non-finite value(s)"),
    "labels": (_wire(np.zeros((3, 2), np.float32), labels=["a"]), "labels has 1 entries for 3 points"),
    "label type": (_wire(np.zeros((1, 2), np.float32), labels=[3]), "labels[0] must be a string"),
    "metadata": (_wire(np.zeros((3, 2), np.float32), metadata={"m": np.zeros(2)}), "one value per point (3)"),
    "thumbs": (_wire(np.zeros((1, 2), np.float32), thumbs=[b"not an image"]), "thumbs[0] must be the bytes of a PNG"),
    "no features": ({"op": "embedding", "env": "raw", "win": "w"}, "embedding needs the field 'features'"),
    "a projection": ({"op": "projection", "env": "raw", "win": "w"}, "unknown operation 'projection'"),
}


@pytest.mark.parametrize("case", list(BAD_OPS))
def test_bad_ops_get_a_clear_400_and_nothing_is_stored(srv, case):
    op, message = BAD_OPS[case]
    good = _wire(np.ones((2, 2), np.float32), step=1)
    status, answer = send_ops(srv.url, [good, op], client="raw-client-" + case.replace(" ", "-"))
    assert status == 400 and message in answer["error"] and answer["op"] == 1
    assert get(srv.url, "/api/v1/window", env="raw", win="w")[0] == 404  # the good op went neither


def test_get_and_neighbours_refuse_bad_queries(srv, panel):
    panel.embedding(np.eye(4, dtype=np.float32), win="q")
    assert panel.flush()
    for query, message in (
        ({"neighbors": 9}, "neighbors must be a point from 0 to 3"),
        ({"neighbors": 0, "k": 0}, "k must be from 1 to 1000"),
        ({"neighbors": 0, "metric": "manhattan"}, "metric must be one of cosine, l2"),
        ({"step": 7}, "has no step 7"),
        ({"thumb": 0}, "has no images"),
        ({"key": "umap-2d"}, "has no projection 'umap-2d'"),
        ({"project": "tsne", "dims": 4}, "dims must be 2 or 3"),
    ):
        status, err = get(srv.url, "/api/v1/embedding", env="emb", win="q", **query)
        assert status in (400, 404) and message in err["error"], (query, err)


def test_a_restart_keeps_the_steps_their_pca_and_tsne(server_factory, tmp_path):
    srv = server_factory()
    x, labels = blobs(30, 5)
    with livepanel.Panel(srv.url, env="keep", spool_dir=tmp_path / "spool") as p:
        for step in (0, 1):
            p.embedding(x + step, labels=labels, metadata={"m": np.arange(30)}, win="e", step=step)
        assert p.flush()
        if importlib.util.find_spec("sklearn") is not None:
            assert get(srv.url, "/api/v1/embedding", env="keep", win="e", step=1, project="tsne")[0] == 200
            wait_value(lambda: window(srv.url, "keep", "e")["steps"][1]["projections"].get("tsne-2d") == "done", 30)
        before = p.get("e")
    srv.restart()
    with livepanel.Panel(srv.url, env="keep", spool_dir=tmp_path / "spool") as p:
        after = p.get("e")
    assert [s["step"] for s in after["steps"]] == [0, 1]
    for a, b in zip(before["steps"], after["steps"], strict=True):
        np.testing.assert_array_equal(a["features"], b["features"])
        np.testing.assert_array_equal(a["projections"]["pca"], b["projections"]["pca"])
        assert a["labels"] == b["labels"]
        np.testing.assert_array_equal(a["metadata"]["m"], b["metadata"]["m"])
    assert after["steps"][1]["projections"].keys() == before["steps"][1]["projections"].keys()
    for key, coords in before["steps"][1]["projections"].items():
        np.testing.assert_array_equal(after["steps"][1]["projections"][key], coords)


def test_torch_features_and_labels(panel):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="non-finite"):
        panel.embedding(torch.tensor([[1.0, float("nan")]]), win="torch")
    panel.embedding(torch.arange(12.0).reshape(4, 3), labels=torch.arange(4), win="torch")
    (s,) = panel.get("torch")["steps"]
    assert s["labels"] == ["0", "1", "2", "3"]
    np.testing.assert_array_equal(s["features"], np.arange(12.0, dtype=np.float32).reshape(4, 3))


def test_a_fork_copies_the_steps():
    store = Store(None)
    arun(store.ingest("client-fork", 1, [_op(3), _op(4)]))
    fork = protocol.validate_op({"op": "fork", "env": "copy", "source": "h"})
    arun(store.ingest("client-fork", 2, [fork]))
    a, b = store.state.window("h", "w"), store.state.window("copy", "w")
    assert list(b.steps) == [3, 4]
    np.testing.assert_array_equal(a.steps[4]["features"], b.steps[4]["features"])
    np.testing.assert_array_equal(a.steps[4]["projections"]["pca"], b.steps[4]["projections"]["pca"])


def test_a_later_step_asked_for_supersedes_one_still_waiting():
    pytest.importorskip("sklearn")
    store = Store(None)
    arun(store.ingest("client-sup", 1, [_op(s, n=30) for s in (0, 1, 2)]))
    proj = projector.Projector(store)
    w = store.state.window("h", "w")

    def state(step: int):
        e = w.steps[step]
        return "done" if "tsne-2d" in e["projections"] else (e.get("status") or {}).get("tsne-2d", {}).get("state")

    async def ask_all() -> list:
        for step in (0, 1, 2):
            assert proj.request("h", "w", step, "tsne", 2) == "running"
        for _ in range(600):  # polled on the loop, which the worker reports through
            if state(2) == "done" and state(0) in ("done", "cancelled"):
                break
            await asyncio.sleep(0.05)
        return [state(s) for s in (0, 1, 2)]

    states = arun(ask_all())
    assert states[2] == "done" and states[1] == "cancelled" and "cancelled" in states[:2]


def test_a_large_step_gets_its_pca_computed_off_the_loop(srv, panel):
    x = np.random.default_rng(7).standard_normal((20_000, 64)).astype(np.float32)  # past EXACT_PCA
    assert x.size > embedding.EXACT_PCA
    panel.embedding(x, win="large")
    (s,) = panel.get("large")["steps"]
    want = embedding.pca(x)[0]  # (BLAS may sum in another order on the server's thread)
    np.testing.assert_allclose(s["projections"]["pca"], want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
