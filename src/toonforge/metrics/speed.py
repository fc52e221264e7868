"""Throughput of a callable, timed with ``time.perf_counter``.

Wall-clock numbers depend on the machine and its load; report them next to a reference run
made in the same process (see ``benchmarks/``) rather than as bare absolute values.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from toonforge.errors import InputError

__all__ = ["SpeedScore", "measure_throughput"]


@dataclass(frozen=True)
class SpeedScore:
    """``images_per_second = images_per_call / median_seconds`` (inf if the median is 0);
    ``median_seconds``: median time of one call; ``repeats``: timed calls."""

    images_per_second: float
    median_seconds: float
    repeats: int


def measure_throughput(fn: Callable[[], object], images_per_call: int, *, warmup: int = 1,
                       repeats: int = 5) -> SpeedScore:
    """Call ``fn()`` ``warmup`` times untimed, then ``repeats`` times timed.

    Args:
        fn: work to time, taking no arguments (its result is discarded).
        images_per_call: images that one call processes (>= 1).
        warmup: untimed calls first (>= 0; lazy initialisation, caches, JIT).
        repeats: timed calls (>= 1); the median is reported.
    """
    if images_per_call < 1 or warmup < 0 or repeats < 1:
        raise InputError(f"need images_per_call >= 1, warmup >= 0, repeats >= 1; got "
                         f"{images_per_call}, {warmup}, {repeats}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    median = float(statistics.median(times))
    ips = images_per_call / median if median > 0 else float("inf")
    return SpeedScore(images_per_second=ips, median_seconds=median, repeats=repeats)
