"""How the server process uses glibc's allocator, so its size tracks the data it holds.

Big short-lived buffers (request bodies of many MB, decimation temporaries) are mmapped, so
freeing them returns them to the system; glibc would otherwise raise its mmap threshold after
the first large free and keep the space in the heap. Smaller blocks (array chunks of 512 KB)
stay on the heap, where reuse is fast, and `release()` hands back what is free when idle.
No-ops where glibc is not there.
"""

from __future__ import annotations

import ctypes

M_MMAP_THRESHOLD = -3
MMAP_ABOVE = 32 << 20

try:
    _libc = ctypes.CDLL("libc.so.6")
    _mallopt, _trim = _libc.mallopt, _libc.malloc_trim
except (OSError, AttributeError):
    _mallopt = _trim = None


def tune() -> None:
    if _mallopt is not None:
        _mallopt(M_MMAP_THRESHOLD, MMAP_ABOVE)


def release() -> None:
    if _trim is not None:
        _trim(0)
