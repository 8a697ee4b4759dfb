"""A thread pool whose queue has priorities: a room's jobs go before private sessions'.

With the GIL, the trainer threads are a shared, scarce resource. A plain ThreadPoolExecutor
serves jobs first come, first served, so the room a whole class watches waited behind every
private session's commands and costly frames. Here each job has a priority (lower first;
FIFO within one), so a room's jobs are never queued behind the others. (Cheap frames do not
come here at all: sessions.py makes them on the event loop's thread.)
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

URGENT, NORMAL = 0, 1


class PriorityPool:
    """`workers` threads running submitted jobs, lowest `priority` first."""

    def __init__(self, workers: int, name: str = "pool"):
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._closed = False
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}_{i}", daemon=True)
            for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def submit(self, fn: Callable[..., Any], *args, priority: int = NORMAL) -> Future:
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to a pool that was shut down")
            self._queue.put((priority, next(self._order), future, fn, args))
        return future

    def _work(self) -> None:
        while True:
            _, _, future, fn, args = self._queue.get()
            if future is None:  # shutdown sentinel
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args)
            except BaseException as exc:  # handed to the waiter, as ThreadPoolExecutor does
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            if cancel_futures:
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item[2] is not None:
                        item[2].cancel()
            for _ in self._threads:  # sentinels sort after every real job
                self._queue.put((float("inf"), next(self._order), None, None, None))
        if wait:
            for t in self._threads:
                t.join()
