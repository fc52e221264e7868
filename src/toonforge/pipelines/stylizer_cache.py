"""Stylizers built once and shared: the web app and the HTTP service keep one per (style, backend)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .stylizer import Stylizer

__all__ = ["StylizerCache"]


class StylizerCache:
    """A small, thread-safe cache of :class:`Stylizer` objects keyed by (style, backend).

    Loading a style builds networks (and, for ONNX, sessions), so each is done once and shared
    by the requests that follow. At most ``max_items`` are kept; the least recently used goes.

    Args:
        detector: passed to every Stylizer ("dlib", a detector object, or None).
        device, threads: passed to every Stylizer.
        max_items: how many stylizers to keep.
        factory: what builds one (default :class:`Stylizer`); tests may count calls.
    """

    def __init__(self, *, detector: Any = "dlib", device: str = "cpu", threads: int | None = None,
                 max_items: int = 4, factory: Callable[..., Stylizer] = Stylizer) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1, got {max_items}")
        self.detector, self.device, self.threads = detector, device, threads
        self.max_items, self.factory = max_items, factory
        self.builds = 0
        self._items: OrderedDict[tuple[str, str], Stylizer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, style: str, backend: str = "auto") -> Stylizer:
        """The Stylizer for ``style`` on ``backend``, built on first use (InputError if it cannot be)."""
        key = (style, backend)
        with self._lock:  # building under the lock: two first requests never load twice
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            stylizer = self.factory(style, backend=backend, device=self.device, detector=self.detector,
                                    threads=self.threads)
            self.builds += 1
            self._items[key] = stylizer
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
            return stylizer

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
