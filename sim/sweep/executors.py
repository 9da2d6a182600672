"""Where chunks run: in this process, in a local process pool, or on a Dask cluster.

An executor's :meth:`~Executor.map` takes an iterable of chunk tasks and
yields their results as they complete, keeping only a few tasks in flight so
memory stays bounded whatever the sweep's size. Results do not depend on the
executor: every run's numbers are a function of its parameters and seed.

The local pool survives a dead worker (killed, out of memory): it starts a
new pool and runs the lost chunks again, up to :data:`MAX_POOL_RESTARTS`
times, then stops with :class:`WorkerLost` (the sweep is resumable). Its
workers exit by themselves within a second when the driver dies, even by
``kill -9`` (a watchdog thread polls the parent's pid).

Dask (``pip install 'trustladder[cluster]'``) is imported only when used.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .chunk import ChunkResult, run_chunk
from .plan import ChunkTask
from .store import SweepWarning

__all__ = ["Executor", "InProcessExecutor", "PoolExecutor", "DaskExecutor", "make_executor", "WorkerLost",
           "MAX_POOL_RESTARTS", "CRASH_ENV"]

#: Times :class:`PoolExecutor` replaces a pool whose worker died before it gives up.
MAX_POOL_RESTARTS = 3
#: Test hook: ``"INDEX"`` makes a pool worker die (``os._exit``) whenever it starts chunk INDEX;
#: ``"INDEX:PATH"`` only the first time (the file PATH is created to remember it).
CRASH_ENV = "TRUSTLADDER_TEST_CRASH_CHUNK"
#: Seconds between a pool worker's checks that its parent (the driver) is alive.
PARENT_POLL_SECONDS = 0.5


class WorkerLost(RuntimeError):
    """Pool workers kept dying; the sweep stopped (finished chunks are kept: resume it)."""


def _exit_with_parent(ppid: int) -> None:
    while True:
        time.sleep(PARENT_POLL_SECONDS)
        if os.getppid() != ppid:  # the driver died: this process was re-parented
            os._exit(1)


def _worker_init(ppid: int) -> None:
    """Pool worker initializer: exit when the driver process is gone (no orphans holding memory)."""
    threading.Thread(target=_exit_with_parent, args=(ppid,), daemon=True, name="trustladder-parent-watch").start()


def _crash_hook(index: int) -> None:
    value = os.environ.get(CRASH_ENV)
    if not value:
        return
    target, _, marker = value.partition(":")
    if int(target) != index:
        return
    if marker:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
    os._exit(1)


def _pool_run_chunk(task: ChunkTask) -> ChunkResult:
    """:func:`run_chunk` in a pool worker (with the crash hook of the fault-injection tests)."""
    _crash_hook(task.index)
    return run_chunk(task)


class Executor:
    """Runs chunk tasks; use as a context manager so workers are shut down."""

    #: Processes that run chunks at once (for time estimates).
    workers: int = 1
    label: str = "in-process"

    def map(self, tasks: Iterable[ChunkTask]) -> Iterator[ChunkResult]:
        raise NotImplementedError

    def close(self) -> None:
        """Release workers and connections."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class InProcessExecutor(Executor):
    """Run each chunk in this process, one after the other."""

    def map(self, tasks: Iterable[ChunkTask]) -> Iterator[ChunkResult]:
        for task in tasks:
            yield run_chunk(task)


class PoolExecutor(Executor):
    """A local pool of ``workers`` spawned processes (``concurrent.futures``).

    Spawn, not fork: ``import mesa`` forces it process-wide anyway, and it is
    the same on every platform. The calling script must be ``__main__``-guarded.

    Parameters
    ----------
    workers : int
        Worker processes.
    max_restarts : int
        How many times a pool whose worker died is replaced (its unfinished
        chunks run again in the new one) before :meth:`map` raises
        :class:`WorkerLost`.
    """

    def __init__(self, workers: int, max_restarts: int = MAX_POOL_RESTARTS):
        if workers < 1:
            raise ValueError(f"workers = {workers!r} must be at least 1")
        self.workers = int(workers)
        self.max_restarts = int(max_restarts)
        self.label = f"{self.workers} local worker process{'es' if self.workers > 1 else ''}"
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init, initargs=(os.getpid(),))

    def map(self, tasks: Iterable[ChunkTask]) -> Iterator[ChunkResult]:
        it = iter(tasks)
        pending: dict[Any, ChunkTask] = {}
        retry: list[ChunkTask] = []
        restarts = 0
        try:
            while True:
                ready: list[ChunkResult] = []
                lost: list[ChunkTask] = []
                while len(pending) < 2 * self.workers:
                    task = retry.pop(0) if retry else next(it, None)
                    if task is None:
                        break
                    try:
                        pending[self._pool.submit(_pool_run_chunk, task)] = task
                    except BrokenProcessPool:  # broke since the last wait
                        lost.append(task)
                        break
                if not pending and not lost:
                    return
                if not lost:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    self._collect(done, pending, ready, lost)
                if lost:  # the pool is broken: every other task fails too, except those finished before
                    rest, _ = wait(pending)
                    self._collect(rest, pending, ready, lost)
                yield from sorted(ready, key=lambda r: r.index)
                if lost:
                    restarts += 1
                    lost.sort(key=lambda t: t.index)
                    names = ", ".join(str(t.index) for t in lost)
                    if restarts > self.max_restarts:
                        raise WorkerLost(
                            f"a worker process died {restarts} times (last while chunks {names} were running), so "
                            "the sweep stopped. Its finished chunks are kept: run the same command with --resume "
                            "to continue. If the workers ran out of memory, use fewer --workers or a smaller "
                            "--chunk-size")
                    warnings.warn(f"a worker process died (killed, or out of memory?) while chunks {names} were "
                                  f"running: started a new pool and running them again (restart {restarts} of at "
                                  f"most {self.max_restarts})", SweepWarning, stacklevel=2)
                    self._pool.shutdown(wait=True, cancel_futures=True)
                    self._pool = self._new_pool()
                    retry.extend(lost)
        finally:
            for fut in pending:
                fut.cancel()

    @staticmethod
    def _collect(done: set, pending: dict, ready: list, lost: list) -> None:
        for fut in done:
            task = pending.pop(fut)
            exc = fut.exception()
            if isinstance(exc, BrokenProcessPool):
                lost.append(task)
            elif exc is not None:
                raise exc
            else:
                ready.append(fut.result())

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            "Dask execution needs the optional 'cluster' extra: pip install 'trustladder[cluster]' "
            f"(import failed: {exc})"
        ) from None
    return distributed


class DaskExecutor(Executor):
    """Run chunks on a Dask cluster.

    Parameters
    ----------
    address : str, optional
        A running scheduler (``tcp://host:8786``) to join.
    n_workers : int, optional
        Without ``address``: start a ``LocalCluster`` of this many single-threaded
        worker processes on the loopback interface (127.0.0.1).
    client : distributed.Client, optional
        An existing client to use (not closed by :meth:`close`).

    If a worker dies while it runs a chunk, the scheduler re-runs the chunk
    elsewhere (``distributed.scheduler.allowed-failures`` times), so no run is
    lost; a chunk's result does not depend on where it ran.
    """

    def __init__(self, address: str | None = None, n_workers: int | None = None, client: Any = None):
        distributed = _import_distributed()
        self._cluster = None
        self._own_client = client is None
        if client is not None:
            self.client = client
            self.label = "Dask client"
        elif address:
            self.client = distributed.Client(address, timeout="30s")
            self.label = f"Dask scheduler {address}"
        else:
            n = int(n_workers or 1)
            self._cluster = distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address="127.0.0.1:0",  # loopback only, any free port (8787 may be taken)
            )
            self.client = distributed.Client(self._cluster)
            self.label = (f"Dask LocalCluster of {n} worker{'s' if n > 1 else ''} on 127.0.0.1 "
                          f"(dashboard {self._cluster.dashboard_link})")
        self.workers = max(1, sum(self.client.nthreads().values()))
        self._token = uuid.uuid4().hex[:8]

    def map(self, tasks: Iterable[ChunkTask]) -> Iterator[ChunkResult]:
        distributed = _import_distributed()
        it = iter(tasks)
        in_flight = max(2, 2 * self.workers)
        # on this executor's client's loop: without ``loop``, as_completed tracks futures on the *default* client's,
        # which is another client whenever one is current (a ``with Client(...)`` block around the sweep); its
        # completion events then fire on the wrong loop and the sweep can wait forever
        ac = distributed.as_completed([], loop=self.client.loop, with_results=True)
        n_pending = 0

        def submit() -> bool:
            task = next(it, None)
            if task is None:
                return False
            ac.add(self.client.submit(run_chunk, task, key=f"trustladder-chunk-{task.index}-{self._token}",
                                      pure=False))
            return True

        try:
            while n_pending < in_flight and submit():
                n_pending += 1
            for fut, result in ac:
                n_pending -= 1
                fut.release()
                yield result
                if submit():
                    n_pending += 1
        finally:
            for fut in list(ac.futures):
                fut.cancel()

    def close(self) -> None:
        if self._own_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(workers: int | None = None, dask_local: int | None = None, dask_scheduler: str | None = None
                  ) -> Executor:
    """The executor the command-line options ask for (at most one of them)."""
    given = [x for x in (workers, dask_local, dask_scheduler) if x is not None]
    if len(given) > 1:
        raise ValueError("choose one of --workers, --dask-local, --dask-scheduler")
    if dask_scheduler is not None:
        return DaskExecutor(address=dask_scheduler)
    if dask_local is not None:
        if dask_local < 1:
            raise ValueError(f"--dask-local {dask_local}: must be at least 1")
        return DaskExecutor(n_workers=dask_local)
    if workers is not None and workers > 1:
        return PoolExecutor(workers)
    if workers is not None and workers < 1:
        raise ValueError(f"--workers {workers}: must be at least 1")
    return InProcessExecutor()
