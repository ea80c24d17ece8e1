"""Property-based fuzzing of the two public write paths: POST /api/v1/ingest and the browser websocket.

Messages are built from the schema with every field free to take any msgpack value (huge and negative
integers, NaN, binary keys, deep nesting, arrays whose shape and bytes disagree), mixed with valid ones.
Whatever arrives: no 5xx, the server keeps serving, the data written before is unchanged, and nothing
that was stored breaks a reader (every window reads back, exports, and snapshots; after a restart too).
Bounded and reproducible: a fixed number of examples, derandomized.
"""

from __future__ import annotations

import asyncio
import json

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serverproc import ServerProcess
from wire import Socket, arun, get, line_op, post, send_ops

from livepanel import protocol

FUZZ = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

INTS = st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what msgpack can carry
BIG = [0, 1, -1, 2**31, 2**53, 2**62, 2**63 - 1, 2**63, 2**64 - 1, -(2**63)]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    INTS,
    st.sampled_from(BIG),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", " x", "a\nb", "\x00", "x" * 201, "<img src=x onerror=alert(1)>"]),
    st.binary(max_size=40),
)
any_value = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=10), st.binary(max_size=4), INTS), inner, max_size=4),
    ),
    max_leaves=12,
)
DTYPES = list(protocol.DTYPES)


@st.composite
def arrays(draw):
    """A wire array: mostly consistent (dtype, shape, bytes), sometimes not."""
    dtype = draw(st.sampled_from([*DTYPES, "c16", "f2", "<f8", "", 7]))
    shape = draw(
        st.one_of(
            st.lists(st.integers(min_value=0, max_value=6), max_size=3),
            st.lists(st.sampled_from([0, 1, 10**7, 2**31, 2**62, 2**63 - 1, -1]), min_size=1, max_size=5),
            any_value,
        )
    )
    size = np.dtype("<" + dtype).itemsize if dtype in DTYPES else 1
    if isinstance(shape, list) and all(isinstance(s, int) and 0 <= s <= 6 for s in shape) and draw(st.booleans()):
        n = int(np.prod(shape)) if shape else 1
        data = draw(st.binary(min_size=n * size, max_size=n * size))
    else:
        data = draw(st.one_of(st.binary(max_size=64), any_value))
    return {"dtype": dtype, "shape": shape, "data": data}


FIELDS = sorted({f for fields in protocol._FIELDS.values() for f in fields} | {"images", "layout", "stats"})
field_values = st.one_of(any_value, arrays(), st.lists(arrays(), max_size=2))
ENVS = ["fz", "fz/a", "other env"]


@st.composite
def ops(draw):
    kind = draw(st.one_of(st.sampled_from(protocol.OPS), any_value))
    op = {
        "op": kind,
        "env": draw(st.one_of(st.sampled_from(ENVS), any_value)),
        "win": draw(st.sampled_from(["w", "h"])),
    }
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=5, unique=True)):
        if field == "step":
            op[field] = draw(st.one_of(st.sampled_from(BIG), any_value))
        elif field == "stats":
            op[field] = draw(
                st.dictionaries(st.one_of(st.text(max_size=5), st.binary(max_size=3)), scalars, max_size=3)
            )
        else:
            op[field] = draw(field_values)
    if op.get("env") == "keep":
        op["env"] = "fz"  # the data written before the run stays untouched by valid ops
    return op


@st.composite
def bodies(draw):
    """An ingest body: a batch of fuzzed ops, a malformed batch, or bytes that may not be msgpack at all."""
    how = draw(st.sampled_from(["batch", "batch", "batch", "value", "bytes", "deep"]))
    if how == "bytes":
        return draw(st.binary(max_size=200))
    if how == "deep":
        return b"\x91" * draw(st.integers(min_value=100, max_value=3000)) + b"\xc0"
    if how == "value":
        return msgpack.packb(draw(any_value), use_bin_type=True)
    batch = {
        "client": draw(st.one_of(st.just("fuzz-client-0001"), any_value)),
        "seq": draw(st.one_of(st.integers(min_value=1, max_value=10**6), st.sampled_from(BIG), any_value)),
        "ops": draw(st.one_of(st.lists(ops(), min_size=1, max_size=3), any_value)),
    }
    if draw(st.integers(0, 9)) == 0:
        batch[draw(st.text(max_size=5))] = draw(any_value)
    return msgpack.packb(batch, use_bin_type=True)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    srv = ServerProcess(tmp_path_factory.mktemp("fuzz") / "data", "--max-payload", "256K").start()
    assert send_ops(srv.url, [line_op("keep", "loss", [1, 2, 3], [3.0, 2.0, 1.0])], client="keeper-0001")[0] == 200
    yield srv, _kept(srv)
    srv.stop()


def _kept(srv: ServerProcess) -> dict:
    """The window written before the run, as JSON (its traces and options)."""
    status, body = get(srv.url, "/api/v1/window", env="keep", win="loss", format="json")
    assert status == 200, body
    state = json.loads(body)
    return {"traces": state["traces"], "opts": state["opts"]}


def _readable_everywhere(srv: ServerProcess) -> list[str]:
    """Every env and window reads back over HTTP (msgpack and JSON) and exports; snapshots decode."""
    status, listing = get(srv.url, "/api/v1/envs")
    assert status == 200, listing
    assert get(srv.url, "/api/v1/envs", format="json")[0] == 200
    assert get(srv.url, "/api/v1/alerts", format="json")[0] == 200
    names = [e["name"] for e in listing["envs"]]
    for e in listing["envs"]:
        for w in e["windows"]:
            q = {"env": e["name"], "win": w["win"]}
            for extra in ({}, {"format": "json"}, {"width": 300}, {"full": 1}):
                status, body = get(srv.url, "/api/v1/window", **q, **extra)
                assert status == 200, (q, extra, body)
            for fmt in ("csv", "json"):
                assert get(srv.url, "/api/v1/export", **q, format=fmt)[0] in (200, 400), (q, fmt)

    async def snapshots():
        sock = await Socket(srv.url).connect()
        await sock.recv()
        await sock.subscribe([{"env": n} for n in names])
        seen = set()
        while seen != set(names):  # bounded by recv's timeout
            msg = await sock.recv()
            assert msg["type"] != "error", msg
            if msg["type"] == "snapshot":
                seen.add(msg["env"])
        sock.close()

    arun(snapshots())
    return names


@FUZZ
@given(body=bodies())
def test_fuzzed_ingest_never_fails_the_server(fuzzed, body):
    srv, before = fuzzed
    status, answer = post(srv.url, body)
    assert status in (200, 400, 413), (status, answer)
    if status != 200:
        assert answer["error"] and len(answer["error"]) < 2000, answer
    assert srv.healthy()


async def _ws_round(url: str, frame: bytes | str) -> None:
    """Send one fuzzed frame, then a probe the server must answer: it read the frame and still serves."""
    sock = await Socket(url).connect()
    try:
        assert (await sock.recv())["type"] == "hello"
        await sock.conn.write_message(frame, binary=isinstance(frame, bytes))
        await sock.send({"type": "probe-after-fuzz"})
        while True:  # bounded by recv's timeout
            try:
                msg = await sock.recv(10.0)
            except ConnectionError:  # closed on us: only with a reason
                assert sock.conn.close_code is not None and sock.conn.close_reason, "closed without a reason"
                return
            if msg["type"] == "error":
                assert len(msg["message"]) < 2000
                if "probe-after-fuzz" in msg["message"]:
                    return
    finally:
        sock.close()


ws_messages = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["subscribe", "layout"])},
        optional={"envs": any_value, "width": any_value, "env": any_value, "layout": any_value, "x": any_value},
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("subscribe"),
            "envs": st.lists(st.dictionaries(st.sampled_from(["env", "seq", "store"]), any_value)),
        }
    ),
    any_value,
)


@FUZZ
@given(
    frame=st.one_of(
        ws_messages.map(lambda m: msgpack.packb(m, use_bin_type=True)),
        st.binary(max_size=100),
        st.text(max_size=50),
        st.integers(min_value=100, max_value=3000).map(lambda n: b"\x81\xa4type" + b"\x91" * n + b"\xc0"),
    )
)
def test_fuzzed_websocket_messages_never_fail_the_server(fuzzed, frame):
    srv, _ = fuzzed
    arun(asyncio.wait_for(_ws_round(srv.url, frame), 30))
    assert srv.healthy()


def test_after_fuzzing_the_data_is_intact_and_every_reader_works(fuzzed):
    """Runs after the fuzz tests (file order): what they left behind, before and after a restart."""
    srv, before = fuzzed
    _readable_everywhere(srv)
    assert _kept(srv) == before
    srv.restart()
    _readable_everywhere(srv)
    assert _kept(srv) == before
