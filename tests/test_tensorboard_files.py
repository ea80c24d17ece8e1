"""Event files as they are found on disk: truncated by a running writer, corrupt, larger than a read."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorboard")
pytest.importorskip("google_crc32c")

from tensorboard.compat.proto import event_pb2  # noqa: E402

from livepanel import Panel  # noqa: E402
from livepanel.tensorboard.importer import import_logdir  # noqa: E402
from livepanel.tensorboard.records import RecordReader, frame  # noqa: E402


def scalar(step: int, value: float, tag: str = "loss") -> bytes:
    ev = event_pb2.Event(wall_time=1.7e9 + step, step=step)
    v = ev.summary.value.add()
    v.tag, v.simple_value = tag, value
    return ev.SerializeToString()


PAYLOADS = [scalar(i, i / 2) for i in range(1, 9)] + [b"x" * 5000, scalar(100, 1.0, "a much longer tag name")]


def records_file(path: Path, payloads: list[bytes] = PAYLOADS) -> tuple[bytes, list[int]]:
    """Write framed records; return the bytes and the offset of each record."""
    offsets, data = [], b""
    for p in payloads:
        offsets.append(len(data))
        data += frame(p)
    path.write_bytes(data)
    return data, offsets


def read_all(reader: RecordReader, final: bool = True) -> list[tuple[int, bytes | None]]:
    out = []
    for _ in range(1000):
        index, payloads = reader.read(final)
        out += list(enumerate(payloads, index))
        if not reader.more:
            return out
    raise AssertionError("reader did not finish")


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("cut", [1, 8, 11, 12, 20, -5, -4, -1])
def test_truncated_last_record_is_waited_for(tmp_path, caplog, cut):
    """A writer mid-write: the complete records are read, the partial one silently waits for the rest."""
    path = tmp_path / "events.out.tfevents.1"
    data, offsets = records_file(path)
    last = offsets[-1]
    stop = last + cut if cut > 0 else len(data) + cut
    path.write_bytes(data[:stop])
    reader = RecordReader(path)
    got = read_all(reader, final=False)
    assert [p for _, p in got] == PAYLOADS[:-1]
    assert reader.pending == stop - last and reader.read(final=False) == (len(PAYLOADS) - 1, [])
    with open(path, "ab") as f:
        f.write(data[stop:])
    assert read_all(reader, final=False) == [(len(PAYLOADS) - 1, PAYLOADS[-1])]
    assert warnings_of(caplog) == [] and reader.corrupt == 0


def test_bad_data_crc_is_skipped_with_one_warning(tmp_path, caplog):
    path = tmp_path / "events.out.tfevents.2"
    data, offsets = records_file(path)
    broken = bytearray(data)
    broken[offsets[3] + 14] ^= 0xFF  # inside record 3's data
    path.write_bytes(bytes(broken))
    got = read_all(RecordReader(path))
    assert [i for i, _ in got] == list(range(len(PAYLOADS)))
    assert [p for _, p in got] == PAYLOADS[:3] + [None] + PAYLOADS[4:]
    (message,) = warnings_of(caplog)
    assert str(path) in message and f"offset {offsets[3]}" in message


def test_bad_length_header_resyncs(tmp_path, caplog):
    """A damaged length: the reader finds the next valid header and reads the rest of the file."""
    path = tmp_path / "events.out.tfevents.3"
    data, offsets = records_file(path)
    broken = bytearray(data)
    broken[offsets[5] + 2] ^= 0x40
    path.write_bytes(bytes(broken))
    got = read_all(RecordReader(path))
    assert [p for _, p in got] == PAYLOADS[:5] + [None] + PAYLOADS[6:]  # the damaged record counts once
    (message,) = warnings_of(caplog)
    assert str(path) in message and f"offset {offsets[5]}" in message


def test_corrupt_end_of_file_while_writing(tmp_path, caplog):
    """A bad record at the very end is looked at once more (it may be mid-write), then reported once."""
    path = tmp_path / "events.out.tfevents.4"
    data, offsets = records_file(path)
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    reader = RecordReader(path)
    assert [p for _, p in read_all(reader, final=False)] == PAYLOADS[:-1] and warnings_of(caplog) == []
    assert reader.recheck
    assert read_all(reader, final=False) == [(len(PAYLOADS) - 1, None)]
    assert len(warnings_of(caplog)) == 1 and not reader.recheck


def test_pieces_give_the_same_indices(tmp_path, caplog):
    """Read while written in small pieces, with damage in it: the same records and indices as at once."""
    path = tmp_path / "events.out.tfevents.5"
    data, offsets = records_file(path, PAYLOADS * 3)
    broken = bytearray(data)
    broken[offsets[4] + 3] ^= 0x10  # a length header
    broken[offsets[12] + 20] ^= 0x01  # a record's data
    broken = bytes(broken)
    path.write_bytes(broken)
    whole = read_all(RecordReader(path))
    path.write_bytes(b"")
    reader, pieces = RecordReader(path), []
    for start in range(0, len(broken), 97):
        with open(path, "ab") as f:
            f.write(broken[start : start + 97])
        pieces += read_all(reader, final=False)
    pieces += read_all(reader, final=True)
    assert pieces == whole
    assert sum(p is None for _, p in whole) == 2 and len(whole) == 3 * len(PAYLOADS)


def test_record_larger_than_a_read(tmp_path):
    path = tmp_path / "events.out.tfevents.6"
    payloads = [b"a" * 100, b"b" * 300_000, b"c" * 10]
    records_file(path, payloads)
    assert [p for _, p in read_all(RecordReader(path))] == payloads
    reader = RecordReader(path)
    got = []
    for _ in range(10):
        index, batch = reader.read(final=True, limit=1024)
        got += batch
    assert got == payloads


def test_import_skips_the_corrupt_event_only(server, tmp_path, caplog):
    """Through the server: one damaged scalar event is left out; the others all arrive."""
    from torch.utils.tensorboard import SummaryWriter

    logdir = tmp_path / "runs"
    w = SummaryWriter(str(logdir / "exp"))
    for step in range(1, 21):
        w.add_scalar("loss", step * 0.25, step)
    w.close()
    (path,) = (logdir / "exp").iterdir()
    data = bytearray(path.read_bytes())
    offset = 0
    for _ in range(10):  # skip the file_version record and steps 1..9, then damage step 10's value
        offset += 16 + int.from_bytes(data[offset : offset + 8], "little")
    data[offset + 12 + int.from_bytes(data[offset : offset + 8], "little") - 1] ^= 0x55
    path.write_bytes(bytes(data))
    result = import_logdir(logdir, server.url)
    assert result.corrupt == 1 and result.values == 19
    (message,) = warnings_of(caplog)
    assert str(path) in message and f"offset {offset}" in message
    with Panel(server.url, spool_dir=tmp_path / "spool", replay_spool=False) as panel:
        (trace,) = panel.get("loss", "exp")["traces"]
    expected = [s for s in range(1, 21) if s != 10]
    np.testing.assert_array_equal(trace["x"], expected)
    np.testing.assert_array_equal(trace["y"], np.array(expected) * 0.25)


def test_unreadable_event_is_skipped(server, tmp_path, caplog):
    """A record with a good CRC that is not an event (garbage protobuf) is skipped with a warning."""
    run = tmp_path / "runs" / "r"
    run.mkdir(parents=True)
    data = frame(scalar(1, 1.0)) + frame(b"\xff\xff\xff garbage") + frame(scalar(2, 2.0))
    (run / "events.out.tfevents.7").write_bytes(data)
    result = import_logdir(tmp_path / "runs", server.url)
    assert result.values == 2 and result.records == 3
    (message,) = warnings_of(caplog)
    assert "record 1 is not a readable event" in message
