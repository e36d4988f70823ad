# Copyright 2026 The world_model_planner Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""Run one batched call as contiguous slices at once, one pinned thread per slice.

Why: at the planner's sizes (a few hundred rows through 128-wide layers) ONNX Runtime's intra-op
threads barely help: on the 2-core reference CPU a 256-sample rollout took 3.2 ms over two
intra-op threads against 4.1 ms on one, while two single-threaded runs of 128 rows each, side by
side, took 2.3 ms (docs/BENCHMARKS.md). Every row of our graphs is computed independently of the
others, so the slices together give exactly the result of the whole batch.

Each slice runs on a worker thread pinned to its own core while the caller waits. Unpinned, a
worker woken after the idle time between control steps was placed on the caller's core, the two
slices ran one after the other, and a 10 Hz control step got slower than with one whole-batch
call (measured: 12.5 ms against 10.6 ms for three rollouts after 80 ms idle).
"""

from __future__ import annotations

import os
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def usable_cores() -> list[int]:
    """The cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


class _Worker:
    """A daemon thread pinned to one core, running the slices handed to it in turn."""

    def __init__(self, core: int, name: str) -> None:
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.core = core
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        try:
            os.sched_setaffinity(0, {self.core})  # 0: this thread, on Linux
        except (AttributeError, OSError):
            pass  # no affinity control here: the slices still run, unpinned
        while True:
            job = self.jobs.get()
            if job is None:
                return
            fn, index, lo, hi, done = job
            try:
                done.put((index, True, fn(lo, hi)))
            except BaseException as error:  # handed to the caller, raised there
                done.put((index, False, error))


class BatchShards:
    """Splits a batch into at most `workers` contiguous slices of at least `min_rows` rows and
    runs a function on each at once, each on its own pinned worker thread. The function must
    release the GIL for the slices to overlap (ONNX Runtime's run calls do)."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, int(workers))
        cores = usable_cores()
        self._threads = ([_Worker(cores[i % len(cores)], f"wmp-slice-{i}")
                          for i in range(self.workers)] if self.workers > 1 else [])
        # Stop the workers when this object goes, and at the latest at interpreter exit, before
        # daemon threads are frozen: a worker still inside ONNX Runtime while the process tears
        # down its libraries ended a node's shutdown in std::terminate.
        self._stop = weakref.finalize(self, _stop_workers, self._threads)

    def bounds(self, rows: int, min_rows: int = 1) -> list[tuple[int, int]]:
        """Slice limits for a batch of `rows`: as many slices as workers allow while each
        keeps `min_rows`, sizes differing by one row at most."""
        count = max(1, min(self.workers, rows // max(1, min_rows)))
        edges = [rows * i // count for i in range(count + 1)]
        return list(zip(edges[:-1], edges[1:]))

    def run(self, fn: Callable[[int, int], T], bounds: list[tuple[int, int]]) -> list[T]:
        """fn(lo, hi) for every slice, results in slice order; a slice's exception is raised
        here once every slice has finished (they write into the caller's buffers)."""
        if len(bounds) == 1 or not self._threads:
            return [fn(lo, hi) for lo, hi in bounds]
        done: queue.SimpleQueue[tuple[int, bool, Any]] = queue.SimpleQueue()
        for i, (lo, hi) in enumerate(bounds):
            self._threads[i % len(self._threads)].jobs.put((fn, i, lo, hi, done))
        results: list[Any] = [None] * len(bounds)
        failed: BaseException | None = None
        for _ in bounds:
            index, ok, value = done.get()
            results[index] = value
            if not ok and failed is None:
                failed = value
        if failed is not None:
            raise failed
        return results

    def close(self) -> None:
        self._stop()
        self._threads = []


def _stop_workers(workers: list[_Worker]) -> None:
    """Each worker finishes the slice it holds, then exits."""
    for worker in workers:
        worker.jobs.put(None)
    for worker in workers:
        worker.thread.join()
