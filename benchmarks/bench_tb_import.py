"""Import speed of TensorBoard event files (issue 6): scalar events per second, end to end.

Writes a log directory of 1,000,000 scalar events across 10 runs (old-style `simple_value` events,
byte for byte what torch.utils.tensorboard's add_scalar writes), then times `import_logdir` into a
fresh server (SQLite store) several times and prints the median. Also times the reading alone
(framing, CRC32C, protobuf) without a server, and TensorBoard's own pure-Python reader on one file
for comparison. Run by hand: `python benchmarks/bench_tb_import.py [--events 1000000] [--repeat 3]`.
One JSON line per figure.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from common import ServerProcess, emit
from tensorboard.compat.proto.event_pb2 import Event

from livepanel.tensorboard.convert import Converter, Names
from livepanel.tensorboard.importer import find_event_files, import_logdir
from livepanel.tensorboard.records import RecordReader, frame

TAGS = ("loss/train", "loss/val", "accuracy", "learning_rate")


def write_logdir(logdir: Path, events: int, runs: int) -> None:
    per_run = events // runs
    for r in range(runs):
        run = logdir / f"run{r:02d}"
        run.mkdir(parents=True)
        parts = [frame(Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())]
        for i in range(per_run):
            ev = Event(wall_time=1.7e9 + i * 0.01, step=i // len(TAGS))
            v = ev.summary.value.add()
            v.tag = TAGS[i % len(TAGS)]
            v.simple_value = 1.0 / (1 + i)
            parts.append(frame(ev.SerializeToString()))
        (run / f"events.out.tfevents.1700000000.bench.{r}").write_bytes(b"".join(parts))


def bench_read(logdir: Path, repeat: int) -> None:
    times, n = [], 0
    for _ in range(repeat):
        start, n = time.perf_counter(), 0
        for path in find_event_files(logdir):
            reader, conv = RecordReader(path), Converter("bench", Names())
            while True:
                _, records = reader.read(final=True)
                for payload in records:
                    conv.feed(payload)
                if not reader.more:
                    break
            conv.take()
            n += conv.values
        times.append(time.perf_counter() - start)
    t = statistics.median(times)
    emit(figure="tb_read_only", scalar_events=n, seconds=round(t, 3), events_per_s=round(n / t))


def bench_import(logdir: Path, tmp: Path, repeat: int) -> None:
    times, n = [], 0
    for i in range(repeat):
        srv = ServerProcess(tmp / f"data{i}").start()
        try:
            result = import_logdir(logdir, srv.url)
            times.append(result.seconds)
            n = result.values
            again = import_logdir(logdir, srv.url)
            assert again.values == 0 and again.batches == 0, again
        finally:
            srv.stop()
    t = statistics.median(times)
    emit(
        figure="tb_import",
        scalar_events=n,
        runs=len(find_event_files(logdir)),
        seconds=round(t, 3),
        events_per_s=round(n / t),
        target_events_per_s=200_000,
        all_seconds=[round(x, 3) for x in times],
    )


def bench_tensorboard_reader(logdir: Path) -> None:
    """TensorBoard's reader on one run's file (pure-Python CRC when TensorFlow is absent), for scale."""
    from tensorboard.backend.event_processing import event_file_loader

    path = find_event_files(logdir)[0]
    start, n = time.perf_counter(), 0
    for _ in event_file_loader.RawEventFileLoader(str(path)).Load():
        n += 1
    t = time.perf_counter() - start
    emit(figure="tensorboard_raw_loader_one_file", records=n, seconds=round(t, 3), records_per_s=round(n / t))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-tensorboard", action="store_true", help="skip timing TensorBoard's own reader")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tb-") as tmp_name:
        tmp = Path(tmp_name)
        logdir = tmp / "runs"
        start = time.perf_counter()
        write_logdir(logdir, args.events, args.runs)
        size = sum(p.stat().st_size for p in find_event_files(logdir))
        emit(
            figure="tb_logdir_written",
            events=args.events,
            runs=args.runs,
            bytes=size,
            seconds=round(time.perf_counter() - start, 1),
        )
        bench_read(logdir, args.repeat)
        bench_import(logdir, tmp, args.repeat)
        if not args.no_tensorboard:
            bench_tensorboard_reader(logdir)


if __name__ == "__main__":
    main()
