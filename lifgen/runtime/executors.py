"""Where many tasks run: this process, a concurrent.futures Executor or a Dask cluster (a
Client, or "dask" for a LocalCluster on this machine). Results come back in task order."""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

from ..errors import InputError, LifgenError

DASK_HINT = 'pip install "lifgen[dask]"'
RETRIES = 3  # a task whose worker died is run again (Dask); its result is the same


def resolve(executor: Any) -> tuple[Any, Any]:
    """(the executor to submit to, or None for this process; a cluster started here that the
    caller must close, or None)."""
    if executor is None:
        return None, None
    if isinstance(executor, str) and executor == "dask":
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise LifgenError(f"executor='dask' needs Dask: {DASK_HINT}") from None
        cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1,
                               processes=True, dashboard_address=None)
        return Client(cluster), cluster
    if isinstance(executor, str) and executor == "processes":
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(os.cpu_count() or 1)
        return pool, pool
    if hasattr(executor, "submit"):
        return executor, None
    raise InputError("executor must be None, 'dask', 'processes', a dask.distributed Client or "
                     f"a concurrent.futures Executor, got {executor!r}")


def close(client: Any, cluster: Any) -> None:
    if cluster is client and cluster is not None:  # a process pool started here
        cluster.shutdown()
    elif cluster is not None:
        client.close()
        cluster.close()


def run_all(client: Any, function: Callable, shared: tuple, tasks: Sequence[tuple],
            progress: bool, bar: Callable[[int], Any]) -> list:
    """function(*shared, *task) for every task, in order. On Dask, what every task shares (a
    simulator, connections) is sent to each worker once; `bar(total)` draws lifgen's bar."""
    if client is None:
        return [function(*shared, *task) for task in tasks]
    if type(client).__module__.startswith("distributed"):
        common = client.scatter(list(shared), broadcast=True, hash=False)
        futures = [client.submit(function, *common, *task, pure=False, retries=RETRIES)
                   for task in tasks]
        if progress:
            from dask.distributed import progress as dask_progress
            dask_progress(futures)
        return client.gather(futures)
    futures = [client.submit(function, *shared, *task) for task in tasks]
    drawn = bar(len(futures)) if progress else None
    results = []
    for done, future in enumerate(futures, 1):
        results.append(future.result())
        if drawn:
            drawn.update(done)
    if drawn:
        drawn.close()
    return results
