"""panel.audio and panel.video through the real server: lossless audio, H.264 clips, history by step,
a restart, get/export, byte ranges, and a clear error at the call for each kind of bad input."""

from __future__ import annotations

import csv
import io
import json
import sys
import time
import urllib.request
from collections import OrderedDict

import numpy as np
import pytest
import wire
from serverproc import ServerProcess

from livepanel import Panel, audio, clips, protocol
from livepanel.server.store.model import Limits, State

av = pytest.importorskip("av")
ENV = "media-native"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = ServerProcess(tmp_path_factory.mktemp("media") / "data").start()
    yield s
    s.stop()


@pytest.fixture
def panel(srv, tmp_path):
    p = Panel(srv.url, env=ENV, spool_dir=tmp_path / "spool")
    yield p
    p.close(timeout=5)


def _raw(srv, **query) -> tuple[int, bytes, dict]:
    headers = query.pop("headers", {})
    qs = urllib.parse.urlencode(query)
    req = urllib.request.Request(f"{srv.url}/api/v1/media?{qs}", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read(), dict(err.headers)


def _frames(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_audio_is_lossless_keeps_steps_and_serves_each(srv, panel):
    rng = np.random.default_rng(0)
    mono = (0.5 * np.sin(np.linspace(0, 300, 8000)) + 0.01 * rng.standard_normal(8000)).astype(np.float32)
    loud = mono.astype(np.float64) * 1.5  # beyond -1..1: stored as it is (float64 rounded to float32)
    stereo16 = rng.integers(-32768, 32767, (4000, 2), dtype=np.int16)  # N x 2
    wide32 = rng.integers(-(2**31), 2**31 - 1, (2, 3000), dtype=np.int32)  # 2 x N
    panel.audio(mono, 8000, win="sound", step=1)
    panel.audio(loud, 8000, win="sound", step=2)
    panel.audio(stereo16, 16000, win="sound", step=5)
    panel.audio(wide32, 22050, win="sound32")
    state = panel.get("sound")
    assert state["kind"] == "audio" and [s["step"] for s in state["steps"]] == [1, 2, 5]
    want = [(mono[:, None], 8000, "float32"), (loud.astype(np.float32)[:, None], 8000, "float32"),
            (stereo16, 16000, "int16")]  # fmt: skip
    for s, (x, rate, dtype) in zip(state["steps"], want, strict=True):
        y, r = audio.read(s["data"])
        assert r == rate == s["sample_rate"] and s["dtype"] == dtype and y.dtype == dtype
        assert np.array_equal(y, x) and s["samples"] == len(x) and s["channels"] == x.shape[1]
        assert s["peaks"].shape == (x.shape[1], 2, 1024) and s["size"] == len(s["data"])
    assert state["steps"][1]["peaks"].max() == pytest.approx(float(loud.max()), rel=1e-6)
    y, r = audio.read(panel.get("sound32")["steps"][0]["data"])
    assert r == 22050 and np.array_equal(y, wide32.T)

    # the file of a chosen step (the latest by default), and a byte range of it, as browsers ask to seek
    status, body, headers = _raw(srv, env=ENV, win="sound", step=1)
    assert status == 200 and headers["Content-Type"] == "audio/wav" and audio.read(body)[0].shape == (8000, 1)
    assert _raw(srv, env=ENV, win="sound")[1] == state["steps"][2]["data"]
    status, part, headers = _raw(srv, env=ENV, win="sound", step=1, headers={"Range": "bytes=4-11"})
    assert status == 206 and part == body[4:12] and headers["Content-Range"] == f"bytes 4-11/{len(body)}"
    assert _raw(srv, env=ENV, win="sound", step=1, headers={"Range": f"bytes={len(body)}-"})[0] == 416
    status, body, _ = _raw(srv, env=ENV, win="sound", step=3)
    assert status == 404 and b"has no step 3 (it has 3 step(s))" in body

    # viewers get each step without its file, with its peaks
    ws = wire.window(srv.url, ENV, "sound")
    assert [s["step"] for s in ws["steps"]] == [1, 2, 5] and all("data" not in s for s in ws["steps"])


def test_video_is_h264_mp4_with_every_frame_and_the_call_returns_at_once(srv, panel):
    t = np.arange(12, dtype=np.uint8)
    clip = np.broadcast_to((t * 20)[:, None, None, None], (12, 32, 48, 3)).copy()  # T x H x W x C, frame i at 20 i
    chw = np.random.default_rng(1).random((5, 3, 15, 21))  # T x C x H x W floats, odd sides
    panel.video(clip, fps=12, win="clip", step=0)
    panel.video(chw, fps=7.5, win="clip", step=1)
    state = panel.get("clip")
    first, second = state["steps"]
    assert first["format"] == "mp4" and first["data"][4:8] == b"ftyp"
    assert first["data"].find(b"moov") < first["data"].find(b"mdat")  # +faststart: the index comes first
    frames = _frames(first["data"])
    assert len(frames) == first["frames"] == 12 and frames[0].shape == (32, 48, 3) and first["fps"] == 12
    assert [round(float(f.mean()) / 20) for f in frames] == list(range(12))  # each frame in its place
    with av.open(io.BytesIO(first["data"])) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
    frames = _frames(second["data"])
    assert len(frames) == 5 and frames[0].shape == (16, 22, 3)  # padded to even sides
    assert (second["width"], second["height"], second["coded_width"], second["coded_height"]) == (21, 15, 22, 16)
    assert abs(float(frames[2][:15, :21].mean()) - 255 * chw[2].mean()) < 8
    status, _, headers = _raw(srv, env=ENV, win="clip", step=0)
    assert status == 200 and headers["Content-Type"] == "video/mp4" and headers["Accept-Ranges"] == "bytes"

    # the call only checks and copies: a 64-frame 128 x 128 clip is encoded on the sender thread
    big = np.random.default_rng(2).integers(0, 256, (64, 128, 128, 3), dtype=np.uint8)
    times = []
    for i in range(3):
        start = time.perf_counter()
        panel.video(big, fps=25, win="big", step=i)
        times.append(time.perf_counter() - start)
    assert sorted(times)[1] < 0.05, times
    assert [s["frames"] for s in panel.get("big")["steps"]] == [64, 64, 64]


def test_export_and_restart_keep_them(srv, panel):
    x = np.linspace(-1, 1, 500, dtype=np.float32)
    panel.audio(x, 4000, win="kept", step=7)
    panel.video(np.zeros((3, 8, 8), np.uint8), fps=3, win="kept-clip", step=2)
    assert panel.flush()
    status, body = wire.get(srv.url, "/api/v1/export", env=ENV, win="kept", format="csv")
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert status == 200 and rows[0] == ["step", "time", *clips.FIELDS["audio"][:1], "sample_rate", "channels",
                                         "samples", "dtype", "bytes"]  # fmt: skip
    assert rows[1][0] == "7" and rows[1][2:7] == ["wav", "4000", "1", "500", "float32"]
    status, body = wire.get(srv.url, "/api/v1/export", env=ENV, win="kept-clip", format="csv")
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[1][0] == "2" and rows[1][2:5] == ["mp4", "3.0", "3"]
    status, body = wire.get(srv.url, "/api/v1/export", env=ENV, win="kept", format="json")
    exported = json.loads(body)
    assert exported["kind"] == "audio" and exported["steps"][0]["samples"] == 500
    assert len(exported["steps"][0]["peaks"][0][0]) == 500

    srv.restart()
    state = wire.window(srv.url, ENV, "kept", full=1)
    assert np.array_equal(audio.read(state["steps"][0]["data"])[0][:, 0], x)
    assert state["steps"][0]["peaks"].shape == (1, 2, 500)
    assert len(_frames(wire.window(srv.url, ENV, "kept-clip", full=1)["steps"][0]["data"])) == 3

    # a fork copies every step with its file
    assert wire.send_ops(srv.url, [{"op": "fork", "env": "forked", "source": ENV}], client="forker-media")[0] == 200
    copy = wire.window(srv.url, "forked", "kept", full=1)["steps"][0]
    assert copy["step"] == 7 and copy["data"] == state["steps"][0]["data"] and copy["sample_rate"] == 4000
    assert wire.window(srv.url, "forked", "kept-clip")["steps"][0]["frames"] == 3


BAD_AUDIO = [
    (np.zeros((10, 3)), 8000, ValueError, "1 or 2 channels"),
    (np.zeros((2, 3, 4)), 8000, ValueError, "1-D or 2-D"),
    (np.array([0.1, np.nan]), 8000, ValueError, "NaN"),
    (np.zeros(0), 8000, ValueError, "no samples"),
    (np.zeros(10, np.int64), 8000, TypeError, "int16 or int32"),
    (np.zeros(10), 0, ValueError, "sample_rate"),
    (np.zeros(10), 44100.0, ValueError, "sample_rate"),
    (np.zeros(10), True, ValueError, "sample_rate"),
    (np.zeros(9 << 20, np.float32), 8000, ValueError, "limit"),
    ("loud", 8000, TypeError, "numbers"),
]
BAD_VIDEO = [
    (np.zeros((4, 8, 8, 2), np.uint8), 5, ValueError, "C = 1 or 3"),
    (np.zeros((8, 8), np.uint8), 5, ValueError, "T x H x W"),
    (np.zeros((0, 8, 8, 3), np.uint8), 5, ValueError, "no frames"),
    (np.full((2, 8, 8, 3), np.nan), 5, ValueError, "NaN"),
    (np.full((2, 8, 8, 3), 300, np.int32), 5, ValueError, "0..255"),
    (np.zeros((2, 8, 8, 3), np.uint8), 0, ValueError, "fps"),
    (np.zeros((2, 8, 8, 3), np.uint8), float("inf"), ValueError, "fps"),
    (np.zeros((2, 8, 8, 3), np.uint8), "25", TypeError, "fps"),
    (np.zeros((1, 5000, 8, 3), np.uint8), 5, ValueError, "each side"),
]


def test_bad_input_raises_at_the_call_and_nothing_is_stored(panel):
    for i, (x, rate, error, words) in enumerate(BAD_AUDIO):
        with pytest.raises(error, match=words):
            panel.audio(x, rate, win=f"bad-audio-{i}")
    for i, (x, fps, error, words) in enumerate(BAD_VIDEO):
        with pytest.raises(error, match=words):
            panel.video(x, fps=fps, win=f"bad-video-{i}")
    with pytest.raises(ValueError, match="step"):
        panel.audio(np.zeros(4), 8000, win="bad-step", step=2**63)
    assert panel.flush()
    assert not [w for w in panel.windows() if w.startswith("bad")]
    assert panel.stats["rejected"] == 0


def test_video_without_pyav_names_the_extra(panel, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # import av raises ImportError
    with pytest.raises(ImportError, match=r"livepanel\[video\]"):
        panel.video(np.zeros((2, 4, 4, 3), np.uint8), fps=5, win="no-av")


def test_the_server_refuses_files_that_are_not_what_they_claim(srv):
    x = audio.samples(np.zeros(100, np.float32))
    good = {"op": "audio", "env": ENV, "win": "raw", "format": "wav", "data": audio.wav(x, 8000),
            "peaks": audio.peaks(x)}  # fmt: skip
    clip = {"op": "video", "env": ENV, "win": "raw-clip", "format": "mp4", "data": bytes(4) + b"ftyp" + bytes(8),
            "fps": 5, "frames": 2, "width": 4, "height": 4, "coded_width": 4, "coded_height": 4}  # fmt: skip
    bad = [
        (dict(good, data=b"RIFF" + bytes(40)), "not a WAV"),
        (dict(good, data=good["data"][:-2]), "whole sample frames"),
        (dict(good, peaks=np.zeros((2, 2, 10), np.float32)), "peaks"),
        (dict(good, format="mp3"), "format must be wav"),
        (dict(clip, data=b"\x1aE\xdf\xa3" + bytes(20)), "not an MP4"),
        (dict(clip, fps=-1), "fps"),
        (dict(clip, frames=0), "frames"),
    ]
    for seq, (op, words) in enumerate(bad, 1):
        status, answer = wire.send_ops(srv.url, [op], client="raw-media", seq=seq)
        assert status == 400 and words in answer["error"], answer
    assert wire.get(srv.url, "/api/v1/window", env=ENV, win="raw")[0] == 404
    assert wire.get(srv.url, "/api/v1/window", env=ENV, win="raw-clip")[0] == 404
    assert wire.send_ops(srv.url, [good, clip], client="raw-media", seq=100)[0] == 200


def test_steps_are_bounded_in_number_and_bytes():
    state = State(Limits(max_media_steps=3, max_media_bytes=300))
    x = audio.samples(np.zeros(10, np.int16))
    op = {"op": "audio", "env": "e", "win": "a", "opts": {}, "t": None, "format": "wav", "peaks": audio.peaks(x)}
    op.update(audio.info(audio.wav(x, 8000)), data=audio.wav(x, 8000))
    for step in range(5):
        state.apply(dict(op, step=step))
    assert list(state.window("e", "a").steps) == [2, 3, 4]
    big = dict(op, data=bytes(200), step=9)  # the store does not read files: only their size counts here
    message, _ = state.apply(big)
    assert list(state.window("e", "a").steps) == [4, 9] and message["op"]["dropped"] == [2, 3]
    steps = OrderedDict((s, {"size": 1000}) for s in range(3))
    assert clips.to_drop(steps, 10, 10) == [0, 1]  # the newest step stays, whatever its size


def test_wire_round_trip_of_an_audio_op_keeps_its_peaks():
    x = audio.samples(np.ones((5, 2), np.float32))
    op = {"op": "audio", "env": "e", "win": "w", "format": "wav", "data": audio.wav(x, 100), "peaks": audio.peaks(x)}
    checked = protocol.validate_op(protocol.unpackb(protocol.packb(op)))
    assert checked["channels"] == 2 and checked["samples"] == 5 and checked["peaks"].shape == (2, 2, 5)


def test_a_batch_counts_file_bytes_so_that_it_fits_the_payload_limit():
    """Three 28 MB sounds in one batch() travelled as one 84 MB request, which the server refused (413)."""
    from livepanel.client.sender import Builder, Pending

    b = Builder({})
    b.pending(Pending({"op": "media", "env": "e", "win": "w", "format": "wav", "data": bytes(3 << 20)}))
    assert b.size >= 3 << 20


def test_the_server_flags_bound_the_steps_kept(server_factory):
    srv = server_factory("--max-media-steps", "2", "--max-media-bytes", "1M")
    x = audio.samples(np.zeros(1000, np.int16))
    op = {"op": "audio", "env": ENV, "win": "few", "format": "wav", "data": audio.wav(x, 8000), "peaks": audio.peaks(x)}
    big = audio.samples(np.zeros(300_000, np.int16))  # 600 kB: two of them pass 1 MiB
    ops = [dict(op, step=s) for s in range(3)] + [dict(op, win="big", data=audio.wav(big, 8000), step=s,
                                                       peaks=audio.peaks(big)) for s in range(2)]  # fmt: skip
    assert wire.send_ops(srv.url, ops, client="bounded-media")[0] == 200
    assert [s["step"] for s in wire.window(srv.url, ENV, "few")["steps"]] == [1, 2]
    assert [s["step"] for s in wire.window(srv.url, ENV, "big")["steps"]] == [1]


def test_torch_tensors_as_torchaudio_and_torchvision_lay_them_out(panel):
    torch = pytest.importorskip("torch")
    wave = torch.linspace(-0.5, 0.5, 800).repeat(2, 1)  # torchaudio: channels x samples
    frames = torch.rand(4, 3, 10, 12)  # torchvision: T x C x H x W, float 0..1
    panel.audio(wave, 8000, win="torch-sound")
    panel.video(frames, fps=4, win="torch-clip")
    expected = wave[1].numpy().copy()
    wave.zero_()  # changed after the call: the value at the call is what is logged
    sound = panel.get("torch-sound")["steps"][0]
    assert sound["channels"] == 2 and np.array_equal(audio.read(sound["data"])[0][:, 1], expected)
    clip = panel.get("torch-clip")["steps"][0]
    assert (clip["frames"], clip["width"], clip["height"]) == (4, 12, 10)
