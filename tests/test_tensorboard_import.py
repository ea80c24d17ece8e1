"""`livepanel import-tb`: event files written by torch.utils.tensorboard, tensorboardX and in the tf.summary v2
layout, imported into a real server and read back value by value through `Panel.get`."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorboard")
pytest.importorskip("google_crc32c")

from PIL import Image  # noqa: E402
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2  # noqa: E402

from livepanel import Panel  # noqa: E402
from livepanel.tensorboard.importer import import_logdir  # noqa: E402
from livepanel.tensorboard.records import frame  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_700_000_000.0
STEPS = [1, 2, 3, 10, 200, 20_000, 3_000_000]  # varints of 1, 2, 3 and 4 bytes
rng = np.random.default_rng(6)
VALUES = {"loss": rng.normal(size=len(STEPS)), "acc/train": rng.uniform(size=len(STEPS))}
EDGES = np.linspace(-4.0, 4.0, 17)
HIST = [rng.normal(size=500) * (1 + i) / 2 for i in range(3)]
IMAGES = [rng.integers(0, 256, size=(6, 9, 3), dtype=np.uint8) for _ in range(3)]
TEXTS = ["**first** note", "second, with a [link](http://x.invalid)", "third | pipe"]


@pytest.fixture
def panel(server, tmp_path):
    p = Panel(server.url, spool_dir=tmp_path / "spool", replay_spool=False)
    yield p
    p.close()


def write_with(writer_cls, logdir: Path) -> None:
    """The same content through a SummaryWriter class (torch's or tensorboardX's)."""
    w = writer_cls(str(logdir / "run1"))
    for i, step in enumerate(STEPS):
        for tag, values in VALUES.items():
            w.add_scalar(tag, float(values[i]), step, walltime=T0 + i)
        w.add_scalars("pair", {"a": float(i), "b": float(-i)}, step, walltime=T0 + i)
    for i, values in enumerate(HIST):
        w.add_histogram("weights", values, i, bins=EDGES, walltime=T0 + 10 + i)
    for i, img in enumerate(IMAGES):
        w.add_image("input", img, i, dataformats="HWC", walltime=T0 + 20 + i)
    for i, text in enumerate(TEXTS):
        w.add_text("notes", text, i)
    w.close()


def check_run(panel: Panel, env: str) -> None:
    """Every value written by write_with, read back."""
    for tag, values in VALUES.items():
        (trace,) = panel.get(tag, env)["traces"]
        np.testing.assert_array_equal(trace["x"], STEPS)
        np.testing.assert_array_equal(trace["y"], values.astype(np.float32))
        np.testing.assert_array_equal(trace["t"], T0 + np.arange(len(STEPS)))
    pair = {t["name"]: t for t in panel.get("pair", env)["traces"]}  # add_scalars: one window, a trace per key
    assert set(pair) == {"a", "b"}
    np.testing.assert_array_equal(pair["a"]["y"], np.arange(len(STEPS)))
    np.testing.assert_array_equal(pair["b"]["x"], STEPS)
    np.testing.assert_array_equal(pair["b"]["y"], -np.arange(len(STEPS)))
    steps = panel.get("weights", env)["steps"]
    assert [s["step"] for s in steps] == [0, 1, 2]
    assert [s["t"] for s in steps] == [T0 + 10, T0 + 11, T0 + 12]  # the events' wall times
    for s, values in zip(steps, HIST, strict=True):
        counts, edges = np.histogram(values, EDGES)
        nz = np.flatnonzero(counts)
        np.testing.assert_array_equal(s["counts"], counts[nz[0] : nz[-1] + 1])
        np.testing.assert_allclose(s["edges"], edges[nz[0] : nz[-1] + 2])
        assert s["stats"]["n"] == len(values)
        assert s["stats"]["min"] == pytest.approx(values.min()) and s["stats"]["max"] == pytest.approx(values.max())
        assert s["stats"]["mean"] == pytest.approx(values.mean())
        assert s["stats"]["std"] == pytest.approx(values.std())
    steps = panel.get("input", env)["steps"]
    assert [s["step"] for s in steps] == [0, 1, 2]
    assert [s["t"] for s in steps] == [T0 + 20, T0 + 21, T0 + 22]
    for s, img in zip(steps, IMAGES, strict=True):
        (entry,) = s["images"]
        assert (entry["format"], entry["width"], entry["height"]) == ("png", 9, 6)
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(entry["data"])).convert("RGB")), img)
    text = panel.get("notes", env)["text"]
    assert text == "".join(f"**step {i}**\n\n{t}\n\n" for i, t in enumerate(TEXTS))


def test_torch_summary_writer(server, panel, tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    write_with(SummaryWriter, tmp_path / "runs")
    result = import_logdir(tmp_path / "runs", server.url)
    assert result.files == 3 and result.rejected == 0 and result.corrupt == 0
    check_run(panel, "run1")
    assert sorted(panel.windows("run1")) == ["acc/train", "input", "loss", "notes", "pair", "weights"]


def test_tensorboardx_writer_and_env_prefix(server, panel, tmp_path):
    tensorboardX = pytest.importorskip("tensorboardX")
    write_with(tensorboardX.SummaryWriter, tmp_path / "runs")
    result = import_logdir(tmp_path / "runs", server.url, env_prefix="tbx/")
    assert result.rejected == 0
    check_run(panel, "tbx/run1")


def tensor_value(tag: str, arr: np.ndarray, plugin: str | None, content: bool = True) -> summary_pb2.Summary.Value:
    """A new-style (tf.summary v2) value: a tensor, with the plugin named only when given."""
    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in arr.shape])
    if arr.dtype == object:
        tensor = tensor_pb2.TensorProto(dtype=7, tensor_shape=shape, string_val=list(arr.reshape(-1)))
    elif content:
        tensor = tensor_pb2.TensorProto(dtype=2, tensor_shape=shape, tensor_content=arr.astype("<f8").tobytes())
    else:
        tensor = tensor_pb2.TensorProto(dtype=1, tensor_shape=shape, float_val=arr.reshape(-1).tolist())
    value = summary_pb2.Summary.Value(tag=tag, tensor=tensor)
    if plugin:
        value.metadata.plugin_data.plugin_name = plugin
    return value


def png(img: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(img).save(out, format="PNG")
    return out.getvalue()


def test_tf_summary_v2_tensors(server, panel, tmp_path):
    """Tensors named by plugin metadata, which TF writes on the first value of each tag only."""
    run = tmp_path / "logs" / "train"
    run.mkdir(parents=True)
    records = [frame(event_pb2.Event(wall_time=T0, file_version="brain.Event:2").SerializeToString())]
    hist = np.array([[0.0, 1.0, 3.0], [1.0, 2.5, 0.0], [2.5, 4.0, 7.0]])
    for step in range(3):
        first = step == 0
        values = [
            tensor_value("epoch_loss", np.array(0.5 / (step + 1)), "scalars" if first else None, content=step != 1),
            tensor_value("dense/kernel", hist * [1, 1, step + 1], "histograms" if first else None),
            tensor_value(
                "digits",
                np.array([b"9", b"6", png(IMAGES[step][:, :6]), png(IMAGES[step][:, 3:])], dtype=object),
                "images" if first else None,
            ),
            tensor_value("notes", np.array(f"v2 text {step}".encode(), dtype=object), "text" if first else None),
        ]
        event = event_pb2.Event(wall_time=T0 + step, step=step, summary=summary_pb2.Summary(value=values))
        records.append(frame(event.SerializeToString()))
    (run / "events.out.tfevents.1700000000.host.1.v2").write_bytes(b"".join(records))

    result = import_logdir(tmp_path / "logs", server.url)
    assert result.rejected == 0
    (trace,) = panel.get("epoch_loss", "train")["traces"]
    np.testing.assert_array_equal(trace["x"], [0, 1, 2])
    np.testing.assert_allclose(trace["y"], 0.5 / np.arange(1, 4), rtol=1e-7)
    np.testing.assert_array_equal(trace["t"], T0 + np.arange(3))
    for s in panel.get("dense/kernel", "train")["steps"]:
        np.testing.assert_array_equal(s["edges"], [0.0, 1.0, 2.5, 4.0])
        np.testing.assert_array_equal(s["counts"], hist[:, 2] * (s["step"] + 1))
    steps = panel.get("digits", "train")["steps"]
    assert [s["step"] for s in steps] == [0, 1, 2] and [s["t"] for s in steps] == [T0, T0 + 1, T0 + 2]
    for s in steps:
        left, right = s["images"]
        assert (left["width"], left["height"], right["width"]) == (6, 6, 6)
        decoded = np.asarray(Image.open(io.BytesIO(right["data"])))
        np.testing.assert_array_equal(decoded, IMAGES[s["step"]][:, 3:])
    assert panel.get("notes", "train")["text"] == "".join(f"**step {i}**\n\nv2 text {i}\n\n" for i in range(3))


def test_reimport_applies_nothing_twice(server_factory, tmp_path):
    """Re-running, after a restart too, adds nothing; records appended since are added once."""
    from torch.utils.tensorboard import SummaryWriter

    logdir = tmp_path / "runs"
    w = SummaryWriter(str(logdir / "a"))
    for step in range(1, 101):
        w.add_scalar("loss", 1.0 / step, step, walltime=T0 + step)
    w.flush()
    srv = server_factory()
    first = import_logdir(logdir, srv.url)
    assert first.values == 100 and first.batches == 1
    assert import_logdir(logdir, srv.url).batches == 0
    srv.restart()
    for step in range(101, 151):  # the same writer goes on: its file grows
        w.add_scalar("loss", 1.0 / step, step, walltime=T0 + step)
    w.close()
    again = import_logdir(logdir, srv.url)
    assert again.values == 50 and again.batches == 1
    assert import_logdir(logdir, srv.url).batches == 0
    with Panel(srv.url, spool_dir=tmp_path / "spool", replay_spool=False) as panel:
        (trace,) = panel.get("loss", "a")["traces"]
    np.testing.assert_array_equal(trace["x"], np.arange(1, 151))
    assert " 400 " not in srv.log.read_text()  # committed seqs come from GET /clients: no refused probes


def test_import_tb_command(server, tmp_path):
    """The CLI: a summary line, no progress bar when not on a terminal, exit 0; a bad logdir says so."""
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(str(tmp_path / "runs" / "exp"))
    for step in range(1, 11):
        w.add_scalar("loss", step, step)
    w.close()
    env = {**os.environ, "LIVEPANEL_URL": server.url}
    cmd = [sys.executable, "-m", "livepanel", "import-tb", str(tmp_path / "runs")]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "1 file(s), 11 events, 10 values" in done.stdout  # with the file_version record
    assert "\r" not in done.stderr
    bad = subprocess.run([*cmd[:-1], str(tmp_path / "nowhere")], capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 1 and "not a directory" in bad.stderr


def test_light_imports_and_progress_line():
    """`import livepanel` and the CLI module load nothing of TensorBoard; the progress line says what it does."""
    code = "import sys, livepanel, livepanel.cli; print(sorted(m for m in sys.modules if 'tensorboard' in m))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    from livepanel.tensorboard.importer import Progress

    out = io.StringIO()
    bar = Progress(10, stream=out, enabled=True)
    bar.update(3, 120_000, force=True)
    bar.done()
    assert out.getvalue().startswith("\r  files 3/10  events 120,000  ") and out.getvalue().endswith(" events/s \n")
    quiet = io.StringIO()
    Progress(10, stream=quiet).update(3, 5, force=True)  # a StringIO is not a terminal
    assert quiet.getvalue() == ""


def test_committed_seq_by_probes_for_older_servers(server, panel):
    """Without GET /clients the committed seq is found by probes that change nothing."""
    from livepanel.tensorboard.send import Sender

    sender = Sender(server.url, None)
    op = {"op": "line", "env": "probe", "win": "w", "x": np.arange(2.0), "y": np.arange(2.0)}
    for seq in (3, 17, 1000):
        assert sender.send("tb-probe-test-client", seq, [op])
    prober = Sender(server.url, None)
    prober._endpoint = False  # behave as with a server that has no /clients
    assert prober.committed("tb-probe-test-client") == sender.committed("tb-probe-test-client") == 1000
    assert prober.committed("tb-never-seen-client") == 0
    assert sender.duplicates == 0 and panel.get("w", "probe")["traces"][0]["n"] == 6
    sender.close(), prober.close()
