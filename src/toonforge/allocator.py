"""Keep freed image buffers in the process for reuse instead of handing them back to the OS.

Stylizing a frame allocates and frees a few dozen megabyte-sized arrays (crops, float copies,
coefficient maps, bands). With glibc's defaults, most of them are fresh pages from the kernel
each time: arrays above the ``mmap`` threshold are mapped and unmapped per allocation, and the
top of the heap is trimmed back to the kernel as soon as a few megabytes are free. The page
faults that follow (the kernel zeroing every page the first time it is touched) cost about
as much as the arithmetic: on a 1024x1024 portrait the guided-filter coefficients of the
frame took 11-13 ms with the defaults and 5 ms with buffers reused, and the whole
composition 18 ms against 8 (``benchmarks/bench_pipeline.py``, 2-core machine).

:func:`reuse_freed_memory` raises both thresholds once per process (glibc's ``mallopt``), so
a freed buffer is taken again by the next allocation of its size. The price is that the
process keeps its high-water mark of freed memory (at most ``TRIM_BYTES`` on top of what is in
use) instead of returning it at once. The command line calls it for every command; library
users may call it themselves. It does nothing on other C libraries (macOS, Windows, musl),
when ``TOONFORGE_KEEP_FREED_MEMORY=0``, or when the user tuned glibc's own ``MALLOC_*``
variables.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["MMAP_BYTES", "TRIM_BYTES", "reuse_freed_memory"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
MMAP_BYTES = 32 << 20  # allocations up to this come from the heap (glibc's own dynamic ceiling)
TRIM_BYTES = 512 << 20  # free memory kept at the heap's top before any is returned
_USER_TUNABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES")
_done: bool | None = None


def reuse_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process (once); True when they were set."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if not sys.platform.startswith("linux") or os.environ.get("TOONFORGE_KEEP_FREED_MEMORY", "1") == "0":
        return False
    if any(name in os.environ for name in _USER_TUNABLES):
        return False  # the user chose the allocator's settings
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_BYTES))
    return _done
