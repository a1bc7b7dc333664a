"""Overlap two stages: the caller produces items while a worker thread consumes them.

On a 2-core machine the model's forward pass leaves gaps between and inside its kernels;
GDAL compression, numpy and polygonising release the GIL and fill them, so writing band
k runs while band k+1 is predicted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from queue import Full, Queue
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_END = object()
_ABORT = object()
POLL_SECONDS = 0.05


class _Aborted(Exception):
    """Raised in the consumer when the producer failed: its partial work is dropped."""


def run_behind(items: Iterable[T], consume: Callable[[Iterator[T]], R], depth: int = 2) -> R:
    """`consume(iterator)` in a worker thread, fed through a queue of at most `depth` items.

    Errors in either stage reach the caller; memory holds at most `depth` + 2 items.
    """
    if depth < 1:
        raise ValueError(f"queue depth {depth}: must be at least 1")
    queue: Queue = Queue(maxsize=depth)

    def drain() -> Iterator[T]:
        while (item := queue.get()) is not _END:
            if item is _ABORT:
                raise _Aborted
            yield item

    with ThreadPoolExecutor(1, thread_name_prefix="quakeslide-writer") as pool:
        future = pool.submit(consume, drain())
        try:
            for item in items:
                _put(queue, item, future)
        except BaseException:
            with contextlib.suppress(Exception):  # the producer's error is the one to raise
                _put(queue, _ABORT, future)
            raise
        _put(queue, _END, future)
        return future.result()


def _put(queue: Queue, item: object, consumer: Future) -> None:
    """Block until queued, unless the consumer has stopped (then raise its error)."""
    while True:
        if consumer.done():
            consumer.result()  # raises the consumer's error
            raise RuntimeError("the consumer stopped before its input ended")
        try:
            queue.put(item, timeout=POLL_SECONDS)
            return
        except Full:
            continue
