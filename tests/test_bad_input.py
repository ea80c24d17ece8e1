"""Each malformed input gets a 4xx naming the problem; the server keeps serving and loses nothing."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest
from wire import Socket, arun, line_op, post, send_ops, window

from livepanel import protocol


def arr(a: np.ndarray) -> dict:
    return protocol.encode_array(a) | {"data": np.asarray(a).tobytes()}


GOOD = {"op": "line", "env": "e", "win": "w", "x": arr(np.arange(3.0)), "y": arr(np.ones(3))}

CASES = {
    "not msgpack": (b"\xc1\xc1garbage", "not valid msgpack"),
    "not a map": (msgpack.packb([1, 2]), "batch must be a map"),
    "no ops": (msgpack.packb({"client": "client-bad", "seq": 1, "ops": []}), "non-empty list"),
    "bad client id": (msgpack.packb({"client": "x", "seq": 1, "ops": [GOOD]}), "client must be"),
    "bad seq": (msgpack.packb({"client": "client-bad", "seq": -1, "ops": [GOOD]}), "seq must be"),
    "unknown op": ({"op": "pie", "env": "e", "win": "w"}, "unknown operation 'pie'"),
    "unknown field": (GOOD | {"colour": 1}, "unknown field(s) colour"),
    "wrong dtype": (GOOD | {"y": {"dtype": "c16", "shape": [3], "data": b"\0" * 48}}, "unknown dtype 'c16'"),
    "bytes do not match shape": (GOOD | {"y": {"dtype": "f8", "shape": [4], "data": b"\0" * 24}}, "needs 32 bytes"),
    "wrong shape": (GOOD | {"y": arr(np.ones((3, 2)))}, "must have 1 dimension"),
    "x and y lengths": (GOOD | {"x": arr(np.arange(2.0))}, "different lengths (2 and 3)"),
    "list instead of array": (GOOD | {"y": [1.0, 2.0, 3.0]}, "expected an array"),
    "empty env name": (GOOD | {"env": ""}, "env name must not be empty"),
    "control chars in window": (GOOD | {"win": "a\nb"}, "contains control characters"),
    "long window name": (GOOD | {"win": "w" * 201}, "the limit is 200"),
    "unknown option": (GOOD | {"opts": {"titel": "x"}}, "unknown option 'titel'"),
    "bad update": (GOOD | {"update": "merge"}, "update must be one of"),
    "histogram edges": (
        {"op": "histogram", "env": "e", "win": "h", "counts": arr(np.ones(3)), "edges": arr(np.ones(3))},
        "needs 4 edges",
    ),
    "image format": (
        {"op": "image", "env": "e", "win": "i", "images": [{"format": "gif", "data": b"x", "width": 1, "height": 1}]},
        "format must be one of",
    ),
    "NUL in text": ({"op": "text", "env": "e", "win": "t", "text": "ok\x00"}, "NUL character (\\x00) at index 2"),
    "kind clash": ({"op": "bar", "env": "keep", "win": "loss", "y": arr(np.ones(2))}, "is a line window"),
}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    from serverproc import ServerProcess

    srv = ServerProcess(tmp_path_factory.mktemp("bad") / "data", "--max-payload", "64K").start()
    assert send_ops(srv.url, [line_op("keep", "loss", [1, 2], [3, 4])], client="client-good")[0] == 200
    yield srv
    srv.stop()


@pytest.mark.parametrize("case", list(CASES))
def test_bad_batch_is_rejected_with_a_message(shared, case):
    body, expected = CASES[case]
    if isinstance(body, dict):
        body = msgpack.packb({"client": "client-bad", "seq": 1, "ops": [GOOD, body]}, use_bin_type=True)
    status, answer = post(shared.url, body)
    assert status == 400, answer
    assert expected in answer["error"]
    if isinstance(CASES[case][0], dict):  # the refused operation is named, for clients to drop it alone
        assert answer["op"] == 1 and answer["error"].startswith("operation 1: ")
    # Nothing of the rejected batch was applied, and acknowledged data is intact.
    assert window(shared.url, "keep", "loss")["traces"][0]["n"] == 2
    from wire import get

    assert get(shared.url, "/api/v1/window", env="e", win="w")[0] == 404


def test_oversized_payload_gets_413(shared):
    big = line_op("e", "w", np.arange(10_000.0), np.ones(10_000))
    status, answer = send_ops(shared.url, [big], client="client-big")
    assert status == 413 and "larger than the limit" in answer["error"]
    assert send_ops(shared.url, [line_op("e2", "w", [1], [1])], client="client-big", seq=2)[0] == 200


def test_empty_body(shared):
    status, answer = post(shared.url, b"")
    assert status == 400 and "empty body" in answer["error"]


def test_bad_read_queries(shared):
    from wire import get

    assert get(shared.url, "/api/v1/window", env="keep")[0] == 400
    status, answer = get(shared.url, "/api/v1/window", env="keep", win="loss", width="wide")
    assert status == 400 and "width" in answer["error"]
    status, answer = get(shared.url, "/api/v1/window", env="nope", win="loss")
    assert status == 404 and "no window 'loss' in env 'nope'" in answer["error"]
    status, answer = get(shared.url, "/api/v1/export", env="keep", win="loss", format="xls")
    assert status == 400 and "csv or json" in answer["error"]


def test_bad_websocket_messages_get_an_error_and_the_socket_keeps_working(shared):
    async def run():
        sock = await Socket(shared.url).connect()
        assert (await sock.recv())["type"] == "hello"
        await sock.conn.write_message(b"\xc1", binary=True)
        assert "not valid msgpack" in (await sock.recv())["message"]
        await sock.send({"type": "dance"})
        assert "unknown message type" in (await sock.recv())["message"]
        await sock.send({"type": "subscribe", "envs": [{"env": ""}]})
        assert "must not be empty" in (await sock.recv())["message"]
        await sock.send({"type": "layout", "env": "keep", "layout": {"loss": {"w": "wide"}}})
        assert "layout of 'loss'" in (await sock.recv())["message"]
        await sock.subscribe([{"env": "keep"}])
        snap = await sock.recv()
        assert snap["type"] == "snapshot" and snap["windows"][0]["win"] == "loss"
        sock.close()

    arun(run())


def test_bad_subscribe_fields_get_an_error_naming_them(shared):
    async def run():
        sock = await Socket(shared.url).connect()
        assert (await sock.recv())["type"] == "hello"
        cases = [
            ({"type": "subscribe", "envs": [], "width": True}, "subscribe width"),
            ({"type": "subscribe", "envs": [{"env": "keep", "seq": 2**64 - 1}]}, "seq for env 'keep'"),
            ({"type": "subscribe", "envs": [{"env": "keep", "seq": -1}]}, "seq for env 'keep'"),
            ({"type": "subscribe", "envs": [{"env": "keep", "store": b"x" * 100}]}, "store of env 'keep'"),
            ({"type": "x" * 10_000}, "unknown message type 'xxx"),
        ]
        for msg, expected in cases:
            await sock.send(msg)
            error = await sock.recv()
            assert error["type"] == "error" and expected in error["message"], (msg, error)
            assert len(error["message"]) < 400
        await sock.subscribe([{"env": "keep"}])
        assert (await sock.recv())["type"] == "snapshot"
        sock.close()

    arun(run())
