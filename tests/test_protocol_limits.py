"""Limits of the wire (issue 17): every value that passes validation fits the store and every reader.

A value out of range is refused at the client call (ValueError naming the argument) or by the server
(400 naming the field), never by the store (which would answer 503 to every writer) or a reader (500).
"""

from __future__ import annotations

import json

import msgpack
import numpy as np
import pytest
from wire import get, post, send_ops, window

import livepanel
from livepanel import protocol
from livepanel.protocol import ProtocolError


def arr(a) -> dict:
    a = np.asarray(a)
    return protocol.encode_array(a) | {"data": a.tobytes()}


def wire_array(dtype: str, shape: list, data: bytes = b"") -> dict:
    return {"dtype": dtype, "shape": shape, "data": data}


def hist(**fields) -> dict:
    op = {"op": "histogram", "env": "e", "win": "h", "counts": arr(np.ones(2)), "edges": arr(np.arange(3.0))}
    return op | fields


def image(**fields) -> dict:
    img = {"format": "png", "data": b"\x89PNG", "width": 1, "height": 1, "caption": ""} | fields
    return {"op": "image", "env": "e", "win": "i", "images": [img]}


def line(**fields) -> dict:
    return {"op": "line", "env": "e", "win": "w", "x": arr(np.arange(2.0)), "y": arr(np.ones(2))} | fields


def check(*ops) -> list[dict]:
    """Through the wire as the server gets it: pack, unpack, validate."""
    body = msgpack.packb({"client": "client-lim", "seq": 1, "ops": list(ops)}, use_bin_type=True)
    return protocol.validate_batch(protocol.unpackb(body))[2]


def refused(op: dict) -> str:
    with pytest.raises(ProtocolError) as info:
        check(op)
    assert info.value.op == 0
    return str(info.value)


# ---------------------------------------------------------------- 1. integers fit int64


@pytest.mark.parametrize(
    "op,field",
    [
        (hist(step=2**63), "step"),
        (hist(step=2**64 - 1), "step"),
        (hist(step=2**63 - 1), "step"),  # the next step (last + 1) would not fit
        (image(width=2**63), "width"),
        (image(height=True), "height"),
        ({"op": "image", "env": "e", "win": "i", "images": image()["images"], "step": 2**63}, "step"),
        ({"op": "layout", "env": "e", "layout": {"w": {"order": 2**63}}}, "layout"),
        ({"op": "layout", "env": "e", "layout": {"w": {"order": True}}}, "layout"),
        (line(opts={"width": 2**63}), "'width'"),
        (line(opts={"height": -1}), "'height'"),
        (line(opts={"nrow": True}), "'nrow'"),
        (line(opts={"markersize": float("nan")}), "'markersize'"),
        (line(opts={"markersize": 2**64 - 1}), "'markersize'"),
        (line(opts={"legend": [2**63]}), "'legend'"),
        (line(opts={"legend": [True]}), "'legend'"),
        (line(opts={"xticklabels": ["x" * 1001]}), "'xticklabels'"),
        (line(opts={"colors": [None]}), "'colors'"),
    ],
)
def test_integers_and_option_values_out_of_range_are_refused(op, field):
    assert field in refused(op)


def test_integers_in_range_pass():
    ops = check(
        hist(step=2**63 - 2),
        hist(step=-(2**63)),
        image(width=32768, height=1),
        line(opts={"width": 0, "height": 100000, "nrow": 3, "markersize": 2.5, "legend": ["a", 1, 2.0]}),
        {"op": "layout", "env": "e", "layout": {"w": {"order": 0, "w": 4, "h": 3}}},
    )
    assert ops[0]["step"] == 2**63 - 2 and ops[1]["step"] == -(2**63)
    assert protocol.check_int(2**63 - 1, "seq") == 2**63 - 1
    with pytest.raises(ProtocolError, match=r"seq for env 'e' must be an integer from 0 to"):
        protocol.check_int(-1, "seq for env 'e'", 0)
    with pytest.raises(ProtocolError, match="got True"):
        protocol.check_int(True, "seq")


# ---------------------------------------------------------------- 2. values that decode but break readers


@pytest.mark.parametrize(
    "stats,expected",
    [
        ({b"min": 1.0}, "histogram stats key must be a string"),
        ({"": 1.0}, "histogram stats key must not be empty"),
        ({"k" * 201: 1.0}, "the limit is 200"),
        ({"n": 2**63}, "histogram stats 'n'"),
        ({"n": True}, "histogram stats 'n' must be a number"),
        ({"n": "3"}, "histogram stats 'n' must be a number"),
        ({f"s{i}": 1 for i in range(65)}, "up to 64"),
        ([1.0], "must be a map"),
    ],
)
def test_histogram_stats_keys_and_values(stats, expected):
    assert expected in refused(hist(stats=stats))


def test_histogram_stats_may_hold_non_finite_floats():
    op = check(hist(stats={"min": float("nan"), "max": float("inf"), "n": 3}))[0]
    assert np.isnan(op["stats"]["min"]) and op["stats"]["n"] == 3


def heatmap(z: dict) -> dict:
    return {"op": "heatmap", "env": "e", "win": "z", "z": z}


@pytest.mark.parametrize(
    "shape",
    [[10**7, 0], [0, 2**62], [2**31, 0], [0, 2**30, 2**30], [2**15, 2**14, 0, 2], [2**16 + 1, 0], [2**28 + 1]],
)
def test_arrays_may_not_claim_huge_shapes(shape):
    assert "heatmap z: shape" in refused(heatmap(wire_array("f8", shape)))


def test_a_bool_is_no_dimension_and_small_shapes_pass():
    assert "shape must be a list" in refused(line(y=wire_array("f8", [True], b"\0" * 8)))
    ops = check(line(x=wire_array("f8", [0]), y=wire_array("f8", [0])), heatmap(wire_array("f4", [2**16, 0])))
    assert ops[1]["z"].shape == (2**16, 0)


@pytest.mark.parametrize(
    "op,expected",
    [
        (image(extra=1), "unknown field(s) extra"),
        ({"op": "image", "env": "e", "win": "i", "images": [{b"format": "png"}]}, "unknown field(s) b'format'"),
        ({"op": "layout", "env": "e", "layout": {b"w": {"order": 1}}}, "window name must be a string"),
        ({"op": "layout", "env": "e", "layout": {"w": {b"order": 1}}}, "must be a map of integers"),
        (line(opts={b"title": "x"}), "unknown option b'title'"),
    ],
)
def test_binary_and_unknown_keys_in_user_maps(op, expected):
    assert expected in refused(op)


# ---------------------------------------------------------------- 3. a 400, not a 500


@pytest.mark.parametrize(
    "op,expected",
    [
        ({"op": [], "env": "e", "win": "w"}, "unknown operation []"),
        ({"op": {}, "env": "e", "win": "w"}, "unknown operation {}"),
        (line(update=[]), "line update must be one of"),
        (line(update={}), "line update must be one of"),
        ({"op": "text", "env": "e", "win": "t", "text": "x", "update": ["a"]}, "text update must be one of"),
        (image(format={}), "format must be one of"),
        (line(y={"dtype": [], "shape": [2], "data": b""}), "unknown dtype []"),
    ],
)
def test_unhashable_values_are_refused_cleanly(op, expected):
    assert expected in refused(op)


@pytest.mark.parametrize("depth", [31, 1000, 5000])
def test_deep_nesting_is_refused(depth):
    nested = b"\x91" * depth + b"\x01"  # [[[...[1]...]]]: msgpack's own packer stops at 512
    body = b"\x83\xa6client\xaaclient-lim\xa3seq\x01\xa3ops\x91\x82\xa2op" + nested + b"\xa3env\xa1e"
    assert msgpack.unpackb(b"\x91" * 30 + b"\x01") == protocol.unpackb(b"\x91" * 30 + b"\x01")
    with pytest.raises(ProtocolError, match="more than 32 deep|not valid msgpack"):
        protocol.unpackb(body)


def test_nesting_of_a_real_batch_passes():
    deep = {"a": [{"b": [1]}]}
    for _ in range(6):
        deep = {"k": [deep]}  # 14 levels + the map above: within the limit
    assert protocol.unpackb(protocol.packb(deep)) == deep
    assert protocol.unpackb(protocol.packb([[[1]]]), max_depth=3) == [[[1]]]
    with pytest.raises(ProtocolError, match="more than 2 deep"):
        protocol.unpackb(protocol.packb([[[1]]]), max_depth=2)


def test_quote_cuts_long_values():
    assert protocol.quote("abc") == "'abc'"
    long = protocol.quote("x" * 10_000_000)
    assert len(long) == 200 and long.endswith("...") and long.startswith("'xxx")
    assert len(protocol.quote(b"\0" * 10_000)) == 200
    assert len(protocol.quote(list(range(100_000)))) <= 200
    assert protocol.quote(2**64 - 1) == str(2**64 - 1)
    assert len(protocol.quote(10**5000)) <= 200  # no str() of a huge int (Python limits it)
    assert protocol.quote("abcdef", limit=5) == "'a..."


@pytest.mark.parametrize(
    "op",
    [
        line(env="x" * 10_000_000),  # too long: the length is quoted, not the name
        line(win="\n" * 150),  # control characters: the repr doubles the length
        {"op": "x" * 10_000_000, "env": "e"},
        line(**{"field" * 1_000_000: 1}),
        line(update="u" * 10_000_000),
        line(t=["t" * 10_000_000]),
        hist(step="s" * 10_000_000),
        line(y={"dtype": "d" * 10_000_000, "shape": [2], "data": b""}),
        line(y={"dtype": "f8", "shape": ["s" * 10_000_000], "data": b""}),
        image(format="f" * 10_000_000),
        line(opts={"o" * 10_000_000: 1}),
    ],
)
def test_errors_quote_at_most_200_characters_of_a_value(op):
    assert len(refused(op).replace(", ".join(protocol.OPS), "")) < 400  # the list of operations grows with kinds


def test_batch_errors_quote_little_too():
    body = msgpack.packb({"client": "client-lim", "seq": "s" * 10_000_000, "ops": [line()]})
    with pytest.raises(ProtocolError) as info:
        protocol.validate_batch(protocol.unpackb(body))
    assert len(str(info.value)) < 400
    body = msgpack.packb({"client": "client-lim", "seq": 1, "ops": [line()], "x" * 10_000_000: 1})
    with pytest.raises(ProtocolError) as info:
        protocol.validate_batch(protocol.unpackb(body))
    assert len(str(info.value)) < 400


# ---------------------------------------------------------------- end to end


def test_server_refuses_what_the_store_cannot_keep_and_keeps_serving(server):
    u = server.url
    bad = [
        (hist(step=2**63), "step must be an integer"),
        (hist(stats={b"min": 0.0}), "histogram stats key must be a string"),
        (heatmap(wire_array("f8", [10**7, 0])), "heatmap z: shape"),
        (heatmap(wire_array("f8", [0, 2**62])), "heatmap z: shape"),
        ({"op": [], "env": "e", "win": "w"}, "unknown operation []"),
        (line(opts={"width": 2**64 - 1}), "option 'width'"),
    ]
    for seq, (op, expected) in enumerate(bad, start=1):
        body = msgpack.packb({"client": "client-e2e", "seq": seq, "ops": [line(), op]}, use_bin_type=True)
        status, answer = post(u, body)
        assert status == 400, answer
        assert answer["op"] == 1 and expected in answer["error"], answer
    nested: object = 1
    for _ in range(1000):
        nested = [nested]
    status, answer = post(u, msgpack.packb({"client": "client-e2e", "seq": 90, "ops": nested}))
    assert status == 400 and "deep" in answer["error"]
    status, answer = post(u, msgpack.packb({"client": "client-e2e", "seq": 91, "ops": [line(env="e" * 1_000_000)]}))
    assert status == 400 and len(answer["error"]) < 400
    # Nothing of the refused batches was applied; a good batch after them is stored and readable.
    assert get(u, "/api/v1/window", env="e", win="w")[0] == 404
    good = hist(step=2**63 - 2, stats={"min": 0.0, "n": 2})
    assert send_ops(u, [good, hist(win="h2")], client="client-e2e", seq=100)[0] == 200
    assert window(u, "e", "h")["steps"][-1]["step"] == 2**63 - 2
    status, body = get(u, "/api/v1/window", env="e", win="h", format="json")
    assert status == 200 and json.loads(body)["steps"][0]["stats"] == {"min": 0.0, "n": 2}
    assert get(u, "/api/v1/envs", format="json")[0] == 200


# ---------------------------------------------------------------- the client raises at the call


@pytest.fixture
def offline(tmp_path):
    """A Panel whose server is not there (argument checks need no server)."""
    p = livepanel.Panel("http://127.0.0.1:9", env="api", spool_dir=tmp_path / "spool", replay_spool=False)
    yield p
    p.close(timeout=0)


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda p: p.histogram([1.0, 2.0], win="h", step=2**63), ValueError, "step must be from"),
        (lambda p: p.histogram([1.0, 2.0], win="h", step=np.uint64(2**64 - 1)), ValueError, "step must be from"),
        (lambda p: p.image(np.zeros((4, 4)), win="i", step=-(2**63) - 1), ValueError, "step must be from"),
        (lambda p: p.images(np.zeros((2, 4, 4)), win="i", step=2**70), ValueError, "step must be from"),
        (lambda p: p.log({"a": 1.0}, step=2**63), ValueError, "step must be from"),
        (lambda p: p.log({"a": 1.0}, step=np.uint64(2**64 - 1)), ValueError, "step must be from"),
        (lambda p: p.log({"a": 1.0}, step=10**400), ValueError, "step must be from"),
        (lambda p: p.line(1.0, win="w", opts={"width": 2**63}), ValueError, "option 'width'"),
        (lambda p: p.line(1.0, win="w", opts={"markersize": float("inf")}), ValueError, "option 'markersize'"),
        (lambda p: p.line(1.0, win="w", opts={"legend": ["x" * 1001]}), ValueError, "option 'legend'"),
        (lambda p: p.line(1.0, win="w", opts={"legend": [2**63]}), ValueError, "option 'legend'"),
        (lambda p: p.line(1.0, win="w", opts={"legend": [True]}), TypeError, "option 'legend'"),
    ],
)
def test_client_raises_at_the_call(offline, call, exc, match):
    with pytest.raises(exc, match=match):
        call(offline)
    assert len(offline._q) == 0  # nothing was queued by a failed call


def test_client_accepts_the_largest_step(offline):
    offline.histogram([1.0, 2.0], win="h", step=2**63 - 2)
    offline.log({"a": 1.0}, step=2**63 - 2)
    offline.log({"a": 1.0}, step=1e300)  # a float step is an x value, as in line
    offline.log({"a": 1.0}, step=-(2**63))


def test_every_operation_has_its_check():
    """A new operation in the schema without a check would fail with a KeyError (a 500), not a 400."""
    tables = [set(protocol._ENV_OPS), set(protocol._WINDOW_OPS), set(protocol._KIND_CHECKS)]
    assert sorted(op for table in tables for op in table) == sorted(protocol.OPS)  # each once
