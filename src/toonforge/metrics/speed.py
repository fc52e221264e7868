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

__all__ = ["SpeedScore", "measure_throughput", "time_interleaved"]


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


def time_interleaved(fns: dict[str, Callable[[], object]], repeats: int = 20, warmup: int = 3) -> dict[str, float]:
    """Median seconds per call of each function, called round-robin (``warmup`` untimed rounds,
    then ``repeats`` timed ones) so that machine noise (other processes, frequency changes) hits
    every candidate alike. Compare the results with each other, not with another run's."""
    if repeats < 1 or warmup < 0:
        raise InputError(f"need repeats >= 1 and warmup >= 0; got {repeats}, {warmup}")
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {k: float(statistics.median(v)) for k, v in samples.items()}
