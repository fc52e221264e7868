"""Dynamic batching of network calls across threads: one network call for concurrent requests.

Every request runs its own pipeline (decode, face alignment, pre- and post-processing) in a
worker thread; only the network call goes through a :class:`BatchingRunner`. Calls that arrive
within ``window_s`` of the first waiting one, with the same input shape, are concatenated along
the batch axis into one call of at most ``max_batch`` rows, and each caller gets its own rows
back; calls to a multi-style network join only calls with the same style mix. There is no
background thread: the first waiting caller leads (waits the window, runs the batch, hands out
results) while the others wait, so a runner needs no start or stop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["BatchingRunner"]


@dataclass(eq=False)
class _Call:
    x: np.ndarray  # (n, C, H, W) float32
    style: np.ndarray | None = None  # a multi-style network's (S,) mix
    done: bool = False
    out: np.ndarray | None = None
    error: BaseException | None = None


class BatchingRunner:
    """A runner (``(N, C, H, W) float32 -> same``) that merges concurrent calls into batches.

    Args:
        runner: the network runner to call (an ``OnnxRunner``, a ``TorchRunner``...).
        max_batch: most rows in one network call (1 turns batching off); a single call with
            more rows than this still runs, alone.
        window_s: how long the first waiting call waits for others to join (0: take only what
            is already waiting).
        on_batch: called after each network call with ``(rows, calls merged)``, e.g. metrics.
    """

    def __init__(self, runner: Callable[[np.ndarray], np.ndarray], *, max_batch: int = 8, window_s: float = 0.005,
                 on_batch: Callable[[int, int], None] | None = None) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        if window_s < 0:
            raise ValueError(f"window_s must be >= 0, got {window_s}")
        self.runner, self.max_batch, self.window_s, self.on_batch = runner, max_batch, window_s, on_batch
        self.stride = int(getattr(runner, "stride", 1))
        self.style_input = getattr(runner, "style_input", None)
        self.network_calls = 0  # how many times the wrapped runner ran
        self._pending: list[_Call] = []
        self._leading = False
        self._cond = threading.Condition()

    def __call__(self, x: np.ndarray, style: np.ndarray | None = None) -> np.ndarray:
        call = _Call(np.ascontiguousarray(x, dtype=np.float32),
                     None if style is None else np.ascontiguousarray(style, dtype=np.float32))
        with self._cond:
            self._pending.append(call)
            self._cond.notify_all()
            while not call.done:
                if self._leading:
                    self._cond.wait()
                    continue
                self._leading = True
                batch = self._collect()
                self._cond.release()
                try:
                    self._run(batch)
                finally:
                    self._cond.acquire()
                    self._leading = False
                    self._cond.notify_all()
        if call.error is not None:
            raise call.error
        assert call.out is not None
        return call.out

    @staticmethod
    def _key(c: _Call) -> tuple:
        return c.x.shape[1:], None if c.style is None else c.style.tobytes()

    def _rows(self, key: tuple) -> int:
        return sum(c.x.shape[0] for c in self._pending if self._key(c) == key)

    def _collect(self) -> list[_Call]:
        """Wait out the window (lock held), then take the oldest call and those of its shape (and mix) that fit."""
        first = self._pending[0]
        key = self._key(first)
        deadline = time.monotonic() + self.window_s
        while self._rows(key) < self.max_batch:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._cond.wait(left)
        batch, rows = [], 0
        for c in list(self._pending):
            n = c.x.shape[0]
            if self._key(c) == key and (not batch or rows + n <= self.max_batch):
                batch.append(c)
                rows += n
                self._pending.remove(c)
        return batch

    def _run(self, batch: list[_Call]) -> None:
        """One network call for ``batch`` (lock not held); results or the error go to every call."""
        try:
            x = batch[0].x if len(batch) == 1 else np.concatenate([c.x for c in batch])
            out = self.runner(x) if batch[0].style is None else self.runner(x, batch[0].style)
            self.network_calls += 1
            if self.on_batch is not None:
                self.on_batch(int(x.shape[0]), len(batch))
            start = 0
            for c in batch:
                n = c.x.shape[0]
                c.out, start = out[start:start + n], start + n
        except BaseException as exc:  # noqa: BLE001  (a failing network fails its callers, not the server)
            for c in batch:
                c.error = exc
        for c in batch:
            c.done = True
