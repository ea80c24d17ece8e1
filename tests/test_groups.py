"""Group curves (issue 19, item 7): GET /api/v1/group on a real server, checked against a plain numpy
reference written from the documented semantics (docs/protocol.md, "Group curves"), and its errors."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import numpy as np
import pytest
from wire import get, line_op, send_ops

# ------------------------------------------------------------ the reference: dense, step by step


def ref_clean(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Finite points, sorted by x, the last value of a repeated x (a dict keeps the last one)."""
    last = {float(a): float(b) for a, b in zip(x, y, strict=True) if np.isfinite(a) and np.isfinite(b)}
    xs = np.array(sorted(last))
    return xs, np.array([last[v] for v in xs])


def reference(runs: list[tuple], band: str, width: int) -> dict[str, np.ndarray]:
    runs = [r for r in (ref_clean(x, y) for x, y in runs) if len(r[0])]
    steps = np.unique(np.concatenate([x for x, _ in runs]))
    values = np.full((len(runs), len(steps)), np.nan)
    for i, (x, y) in enumerate(runs):
        inside = (steps >= x[0]) & (steps <= x[-1])
        values[i, inside] = np.interp(steps[inside], x, y)
    n = np.sum(~np.isnan(values), axis=0)
    mean = np.nanmean(values, axis=0)
    if band == "std":
        spread = np.nanstd(values, axis=0)
        lo, hi = mean - spread, mean + spread
    else:
        lo, hi = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
    if len(steps) <= width:
        return {"x": steps, "mean": mean, "lo": lo, "hi": hi, "n": n}
    which = np.minimum(np.floor((steps - steps[0]) * width / (steps[-1] - steps[0])), width - 1)
    out: dict[str, list] = {k: [] for k in ("x", "mean", "lo", "hi", "n")}
    for b in range(width):
        s = which == b
        if s.any():
            out["x"].append(steps[s].mean())
            out["mean"].append((mean[s] * n[s]).sum() / n[s].sum())
            out["lo"].append(lo[s].min())
            out["hi"].append(hi[s].max())
            out["n"].append(n[s].max())
    return {k: np.array(v) for k, v in out.items()}


def same_curve(got: dict, expected: dict, tol: float = 1e-9) -> None:
    for key in ("x", "mean", "lo", "hi", "n"):
        assert got[key].shape == expected[key].shape, (key, got[key].shape, expected[key].shape)
        np.testing.assert_allclose(got[key], expected[key], rtol=tol, atol=tol, err_msg=key)
    assert got["n"].dtype.kind == "i" and all(got[k].dtype == np.float64 for k in ("x", "mean", "lo", "hi"))


def group(url: str, envs: list[str], **query) -> tuple[int, dict]:
    query = {"win": "loss", **query}
    qs = "&".join(
        [f"{k}={urllib.parse.quote(str(v))}" for k, v in query.items()] + [f"env={urllib.parse.quote(e)}" for e in envs]
    )
    return get(url, "/api/v1/group?" + qs)


def put(url: str, env: str, x, y, win: str = "loss", name: str = "train", client: str | None = None) -> None:
    status, body = send_ops(url, [line_op(env, win, x, y, name=name)], client=client or f"group-{env}"[:60])
    assert status == 200, body


# ------------------------------------------------------------ fixtures: runs logging at different strides


@pytest.fixture
def misaligned(server) -> dict[str, tuple]:
    """Four runs of one setting: different strides and offsets, NaN and inf, a repeated step, one out of
    order; a fifth env without the trace, a sixth with it under another name only."""
    rng = np.random.default_rng(7)
    runs = {}
    for i, (stride, offset, n) in enumerate([(1, 0, 400), (3, 2, 150), (2, 11, 200), (5, 1, 90)]):
        x = offset + stride * np.arange(n, dtype="f8")
        y = 2.0 * np.exp(-x / 150) + 0.05 * rng.normal(size=n)
        if i == 0:
            y[[5, 50]] = [np.nan, np.inf]
            x, y = np.append(x, [10.0]), np.append(y, [7.5])  # step 10 again: the last value counts
        if i == 1:
            x, y = x[::-1].copy(), y[::-1].copy()
        runs[f"g/seed{i}"] = (x, y)
        put(server.url, f"g/seed{i}", x, y)
    put(server.url, "g/other", [0, 1], [1.0, 2.0], win="acc")  # no loss window at all
    put(server.url, "g/val", [0, 1], [1.0, 2.0], name="val")  # a loss window without train
    return runs


ORDER = ["g/seed2", "g/other", "g/seed0", "g/val", "g/seed3", "g/seed1", "g/nowhere"]


@pytest.mark.parametrize("band", ["minmax", "std"])
def test_group_curve_equals_the_reference_on_misaligned_steps(server, misaligned, band):
    status, body = group(server.url, ORDER, trace="train", band=band)
    assert status == 200, body
    assert body["envs"] == ["g/seed2", "g/seed0", "g/seed3", "g/seed1"]  # those with the trace, as asked
    assert (body["win"], body["trace"], body["band"]) == ("loss", "train", band)
    expected = reference([misaligned[e] for e in body["envs"]], band, 2000)
    same_curve(body, expected)
    assert body["n"].max() == 4 and body["n"].min() == 1
    at10 = np.flatnonzero(body["x"] == 10.0)[0]
    assert body["hi"][at10] >= 7.5 if band == "minmax" else True  # the repeated step's last value


@pytest.mark.parametrize("band", ["minmax", "std"])
def test_width_reduces_to_equal_width_buckets(server, misaligned, band):
    status, body = group(server.url, ORDER, trace="train", band=band, width=37)
    assert status == 200, body
    assert len(body["x"]) <= 37
    same_curve(body, reference([misaligned[e] for e in body["envs"]], band, 37))


def test_aligned_runs_and_the_unnamed_trace(server):
    rng = np.random.default_rng(3)
    x = 10.0 * np.arange(3000)
    runs = {f"a/seed{i}": (x, rng.normal(size=len(x)).cumsum()) for i in range(5)}
    for env, (xs, ys) in runs.items():
        put(server.url, env, xs, ys, name="")
    for band in ("minmax", "std"):
        for width in (2000, 20000):
            status, body = group(server.url, list(runs), band=band, width=width)  # trace: "" by default
            assert status == 200 and body["trace"] == "" and body["envs"] == list(runs), body
            same_curve(body, reference(list(runs.values()), band, width))
    status, body = group(server.url, list(runs), trace="", width=10)
    assert status == 200 and len(body["x"]) == 10 and (body["n"] == 5).all()


def test_group_answers_msgpack_and_json(server):
    put(server.url, "j/a", [0, 1, 2], [1.0, 2.0, 3.0])
    put(server.url, "j/b", [1, 2, 3], [3.0, 4.0, np.nan])
    with urllib.request.urlopen(server.url + "/api/v1/group?win=loss&trace=train&env=j/a&env=j/b") as resp:
        assert resp.headers["Content-Type"] == "application/msgpack"
    url = server.url + "/api/v1/group?win=loss&trace=train&env=j/a&env=j/b&format=json"
    with urllib.request.urlopen(url) as resp:
        body = json.loads(resp.read())
    assert body == {
        "win": "loss",
        "trace": "train",
        "envs": ["j/a", "j/b"],
        "band": "minmax",
        "x": [0.0, 1.0, 2.0],
        "mean": [1.0, 2.5, 3.5],
        "lo": [1.0, 2.0, 3.0],
        "hi": [1.0, 3.0, 4.0],
        "n": [1, 2, 2],
    }


def test_group_errors_name_the_problem(server):
    put(server.url, "e/a", [0, 1], [1.0, 2.0])
    put(server.url, "e/s", [0, 1], [1.0, 2.0])
    send_ops(server.url, [{**line_op("e/s", "pts", [0], [1.0]), "op": "scatter"}], client="group-e-scatter")
    cases = [
        ({"env": ["e/a"], "win": None}, 400, "name the window with ?win=W"),
        ({"env": []}, 400, "name the runs of the group with ?env=E1&env=E2..."),
        ({"env": ["e/a"], "band": "iqr"}, 400, "band must be minmax or std, got 'iqr'"),
        ({"env": ["e/a"], "width": 9}, 400, "width must be from 10 to 20000, got 9"),
        ({"env": ["e/a"], "width": 20001}, 400, "width must be from 10 to 20000, got 20001"),
        ({"env": ["e/a"], "width": "wide"}, 400, "query argument width='wide' is not a valid int"),
        ({"env": [f"e/{i}" for i in range(1001)]}, 400, "a group has at most 1000 envs, got 1001"),
        ({"env": [f"e/{i}" for i in range(1000)], "band": "std"}, 404, "none of the 1000 env(s) has a line trace"),
        ({"env": ["e/a", "e/b", "e/a"]}, 400, "env 'e/a' is named twice"),
        ({"env": ["e/a"], "trace": "val"}, 404, "none of the 1 env(s) has a line trace 'val' in window 'loss'"),
        ({"env": ["e/a", "e/zz"], "win": "acc"}, 404, "none of the 2 env(s) has a line trace '' in window 'acc'"),
        ({"env": ["e/s"], "win": "pts"}, 404, "none of the 1 env(s) has a line trace '' in window 'pts'"),
    ]
    for query, code, message in cases:
        envs = query.pop("env")
        args = {"win": "loss", "trace": "", **query}
        qs = "&".join(
            [f"{k}={urllib.parse.quote(str(v))}" for k, v in args.items() if v is not None]
            + [f"env={urllib.parse.quote(e)}" for e in envs]
        )
        status, body = get(server.url, "/api/v1/group?" + qs)
        assert status == code and body.get("error", "").startswith(message), (qs[:200], status, body)


def test_group_needs_the_token_like_every_read(server_factory):
    srv = server_factory("--token", "group-token")
    put_status, _ = send_ops(srv.url, [line_op("t/a", "loss", [0], [1.0])], client="group-token-c", token="group-token")
    assert put_status == 200
    status, _ = get(srv.url, "/api/v1/group?win=loss&env=t/a")
    assert status == 401
    status, body = get(srv.url, "/api/v1/group?win=loss&env=t/a", token="group-token")
    assert status == 200 and body["envs"] == ["t/a"]
