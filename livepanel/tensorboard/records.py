"""TFRecord framing of TensorBoard event files, read incrementally, with native CRC32C checks.

Why a reader of our own: the framing is 16 bytes around each record, and TensorBoard's fallback reader
checks CRCs in pure Python (about 24 s for 150 MB); with a native CRC32C the checks cost well under a
microsecond per record. A record is::

    uint64 length | uint32 masked_crc32c(length bytes) | data[length] | uint32 masked_crc32c(data)

Each record gets an index (0, 1, 2, ... in file order; a corrupt stretch counts as one record), which
is what makes the ingest sequence numbers deterministic: the same bytes always give the same indices.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

import google_crc32c

log = logging.getLogger("livepanel.tensorboard")

_crc = google_crc32c.value
_U64 = struct.Struct("<Q").unpack_from
_U32 = struct.Struct("<I").unpack_from
_MASK_DELTA = 0xA282EAD8
MAX_RECORD = 1 << 30  # a length beyond this is taken for corruption, not for a record
CHUNK = 16 << 20  # bytes read at a time


def masked_crc(data: bytes) -> int:
    """The CRC32C of TFRecord framing (rotated and offset, so CRCs of CRCs stay strong)."""
    crc = _crc(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """One record with its framing (used by tests and the benchmark to write files)."""
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc(header)) + data + struct.pack("<I", masked_crc(data))


class RecordReader:
    """Reads the complete records added to one file since the last call.

    A truncated last record (a writer mid-write) is left for the next call, silently. A record with
    a bad CRC is skipped with one warning naming the file and offset; a bad length header makes the
    reader look for the next valid header and go on from there.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.offset = 0  # bytes consumed
        self.index = 0  # records consumed (the next record's index)
        self.corrupt = 0  # corrupt records skipped so far
        self._resync_from: int | None = None  # offset of a bad header whose successor is not found yet
        self._suspect: int | None = None  # a bad record ending exactly at the end of the file, seen once
        self._headers: dict[bytes, int] = {}
        self.more = False  # the last read stopped before the end of the file (call again)
        self.recheck = False  # the last read left a suspect record to look at again, even if nothing grew

    @property
    def pending(self) -> int:
        """Bytes on disk past what was consumed (an incomplete record, or data not read yet)."""
        try:
            return max(0, self.path.stat().st_size - self.offset)
        except OSError:
            return 0

    def read(self, final: bool = False, limit: int = CHUNK) -> tuple[int, list[bytes | None]]:
        """The records completed since the last call: (index of the first, payloads); None for a corrupt one.

        `final` says no writer is running: a bad record at the very end is then corrupt at once (rather
        than looked at once more on the next call, in case it was caught mid-write).
        """
        first = self.index
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                buf = f.read(limit)
                if len(buf) >= 12 and self._resync_from is None:
                    (n,) = _U64(buf, 0)
                    if len(buf) < n + 16 <= MAX_RECORD and _U32(buf, 8)[0] == masked_crc(buf[:8]):
                        buf += f.read(n + 16 - len(buf))  # one record larger than the chunk
                at_eof = len(f.read(1)) == 0
        except FileNotFoundError:
            self.more = False
            return first, []
        return first, self._parse(buf, at_eof, final)

    def _parse(self, buf: bytes, at_eof: bool, final: bool) -> list[bytes | None]:
        out: list[bytes | None] = []
        add = out.append
        headers, crc, u32 = self._headers, _crc, _U32
        self.recheck = False
        end = len(buf)
        pos = 0
        while True:
            if self._resync_from is not None:
                found = _scan(buf, pos)
                if found < 0:
                    if at_eof and final:  # nothing valid follows: the rest of the file is the corrupt record
                        add(None)
                        self._resync_from = None
                        pos = end
                    else:
                        pos = max(pos, end - 11)  # the last 11 bytes may begin a header
                    break
                add(None)
                self._resync_from = None
                pos = found
            if pos + 12 > end:
                break
            header = buf[pos : pos + 12]
            n = headers.get(header)  # records of equal length share a header: check its CRC once
            if n is None:
                (n,) = _U64(header)
                if u32(header, 8)[0] != masked_crc(header[:8]) or n > MAX_RECORD:
                    self._warn(pos, "bad length header")
                    self._resync_from = self.offset + pos
                    pos += 1
                    continue
                if len(headers) < 4096:
                    headers[header] = n
            stop = pos + 12 + n
            if stop + 4 > end:
                break  # incomplete: a writer mid-write, or the rest is in the next chunk
            data = buf[pos + 12 : stop]
            c = crc(data)
            if (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF != u32(buf, stop)[0]:
                if stop + 4 == end and at_eof and not final and self._suspect != self.offset + pos:
                    self._suspect = self.offset + pos  # maybe caught mid-write: look once more next time
                    self.recheck = True
                    break
                self._warn(pos, "bad data CRC")
                add(None)
            else:
                add(data)
            pos = stop + 4
        self.offset += pos
        self.index += len(out)
        self.more = not at_eof
        return out

    def _warn(self, pos: int, why: str) -> None:
        self.corrupt += 1
        log.warning("livepanel: %s: corrupt record at offset %d (%s); skipped", self.path, self.offset + pos, why)


def _scan(buf: bytes, pos: int) -> int:
    """The position of the next valid length header at or after pos, or -1."""
    for p in range(pos, len(buf) - 11):
        if _U32(buf, p + 8)[0] == masked_crc(buf[p : p + 8]):
            return p
    return -1
