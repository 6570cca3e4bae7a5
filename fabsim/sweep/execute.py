"""Where the runs of a sweep execute: a local process pool, or a Dask cluster.

A task is a plain dict (picklable, small): the sweep file's scenario document, the run's
overrides and its absolute output directory. Its worker loads the scenario, simulates, writes
the run directory atomically and returns a small status dict; every exception is caught there,
so one failed run is recorded and the sweep goes on. Workers run one simulation at a time with
one Numba thread each (``NUMBA_NUM_THREADS=1``). Before the runs, one task compiles (or loads
from the on-disk cache) the kernels the sweep needs, so a cold machine compiles them once, not
once per worker.
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any

#: Environment of the worker processes started here (a remote Dask cluster sets its own).
WORKER_ENV = {"NUMBA_NUM_THREADS": "1"}


def execute_run(task: dict[str, Any]) -> dict[str, Any]:
    """Run one sweep task; returns ``{"run_id", "status": "ok"|"failed", "error", "wall_s"}``."""
    started = time.perf_counter()
    try:
        from ..api import simulate
        from ..scenario.load import load_raw_scenario

        scenario = load_raw_scenario(task["raw"], task["file"], task["base_dir"], task["name"], task["overrides"])
        result = simulate(scenario, baseline=task["baseline"])
        result.write(task["out_dir"])
        return {"run_id": task["run_id"], "status": "ok", "error": None, "wall_s": time.perf_counter() - started}
    except Exception as exc:  # noqa: BLE001 - a failed run is recorded, not raised
        return {"run_id": task["run_id"], "status": "failed", "error": _describe(exc),
                "wall_s": time.perf_counter() - started}


def warm_kernels(engines: Iterable[str]) -> float:
    """Compile, or load from the on-disk cache, the kernels of ``engines``; returns seconds."""
    from ..api import warm

    started = time.perf_counter()
    warm(tuple(engines))
    return time.perf_counter() - started


@contextlib.contextmanager
def worker_env():
    """``WORKER_ENV`` set in this process, for the worker processes started inside the block."""
    saved = {k: os.environ.get(k) for k in WORKER_ENV}
    os.environ.update(WORKER_ENV)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _lost(task: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    """The result of a task whose worker died before it could report one."""
    return {"run_id": task["run_id"], "status": "failed", "error": _describe(exc), "wall_s": None}


def _describe(exc: BaseException) -> str:
    from ..errors import FabsimError

    if isinstance(exc, FabsimError):
        return str(exc)
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" (at {os.path.basename(where.filename)}:{where.lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{at}"


class LocalPool:
    """``jobs`` worker processes on this machine (spawned, so no thread state is forked)."""

    def __init__(self, jobs: int):
        import concurrent.futures
        import multiprocessing

        self._cf = concurrent.futures
        with worker_env():
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
            )
            # start the workers now, while the environment is set
            self._pool.submit(os.getpid).result()

    def call(self, fn: Callable, arg: Any) -> Any:
        return self._pool.submit(fn, arg).result()

    def map_unordered(self, fn: Callable, args: list) -> Iterator[Any]:
        """``fn(arg)`` for every arg, yielded as each finishes."""
        futures = [self._pool.submit(fn, a) for a in args]
        arg_of = dict(zip(futures, args))
        try:
            for fut in self._cf.as_completed(futures):
                try:
                    yield fut.result()
                except Exception as exc:  # noqa: BLE001 - a worker died (BrokenProcessPool)
                    yield _lost(arg_of[fut], exc)
        finally:
            for fut in futures:
                fut.cancel()

    def close(self, cancel: bool = False) -> None:
        if cancel:
            # The pool's workers would finish the runs they hold; a Ctrl-C stops them now.
            for proc in list(getattr(self._pool, "_processes", {}).values()):
                proc.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskPool:
    """The same tasks on a Dask distributed cluster: ``address`` of its scheduler, or ``"local"``
    for a LocalCluster of ``jobs`` single-threaded worker processes."""

    def __init__(self, address: str, jobs: int):
        from ..errors import UsageError

        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise UsageError("--scheduler needs Dask: pip install 'fabsim[dask]'") from None
        self._cluster = None
        if address == "local":
            with worker_env():
                self._cluster = LocalCluster(
                    n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None,
                )
            self._client = Client(self._cluster)
        else:
            try:
                self._client = Client(address, timeout="20s")
            except OSError as exc:
                raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}") from None

    def call(self, fn: Callable, arg: Any) -> Any:
        return self._client.submit(fn, arg, pure=False).result()

    def map_unordered(self, fn: Callable, args: list) -> Iterator[Any]:
        from dask.distributed import as_completed

        futures = [self._client.submit(fn, a, pure=False) for a in args]
        arg_of = {fut.key: a for fut, a in zip(futures, args)}
        try:
            for fut in as_completed(futures):
                try:
                    yield fut.result()
                except Exception as exc:  # noqa: BLE001 - e.g. the worker died (KilledWorker)
                    yield _lost(arg_of[fut.key], exc)
        finally:
            self._client.cancel(futures)

    def close(self, cancel: bool = False) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
