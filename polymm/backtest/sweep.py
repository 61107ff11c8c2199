"""Run many simulations at once: on this machine's cores, or on an existing Dask cluster.

A sweep is a list of jobs. Each job is one ``simulate(...)`` call (``Job``: seed, model, scenario,
market, parameters) or, through ``Sweep.map``, any picklable top-level function applied to one item.
The jobs run on a ``concurrent.futures`` executor:

- ``workers=1``: in this process, one after the other, no pool (the reference the others must match);
- ``workers=N`` (default: every core this process may use): a ``ProcessPoolExecutor`` of N processes;
- ``dask="tcp://HOST:PORT"``: an existing Dask cluster, through ``Client.get_executor()``, a
  ``concurrent.futures.Executor`` too, so it goes through the same submit-and-collect code as the pool.
  The workers need polymm installed (the same version: jobs are pickled by reference to its
  functions). The simulation is pure Python and holds the GIL, so run the workers with one thread
  each (``dask worker ADDR --nworkers N --nthreads 1``); more threads per worker are correct, only
  not faster.

Determinism: results are put back in job order (by index, whatever order they finish in), and a job
carries everything its run depends on — its own seed, from which ``simulate`` seeds every generator,
and no state shared with other jobs (no common RNG, nothing read from the wall clock). So a sweep's
results are identical whatever the number of workers or the executor; ``tests/test_sweep.py`` checks
it against 1 and 2 workers and a ``LocalCluster``. Worker processes have string-hash seeds of their
own, so a result that hung on a set's iteration order would show there as a difference too.

Dask is optional (``pip install 'polymm[sweep]'``); nothing here imports it unless ``dask`` is given.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from polymm.domain.params import MarketParams

from .scenarios import Scenario, scenario
from .simulation import Report, simulate

T = TypeVar("T")
R = TypeVar("R")

#: Schemes a Dask scheduler listens on (``tcp`` is ``dask scheduler``'s default).
DASK_SCHEMES = ("tcp", "tls", "ws", "wss")
#: How long to wait for the scheduler, and for it to have a worker, before giving up (seconds).
DASK_CONNECT_TIMEOUT_S = 10.0
#: What to install when ``dask`` is asked for but missing.
DASK_INSTALL_HINT = "pip install 'polymm[sweep]'"
#: Modules the process pool's fork server imports once, so each worker forks with them already loaded.
_PRELOAD = ["polymm.backtest.sweep"]


class SweepUnavailable(RuntimeError):
    """The executor could not be started: Dask not installed, the scheduler unreachable, no workers."""


class DaskMissing(SweepUnavailable):
    """``dask`` was asked for but ``dask.distributed`` is not installed."""


class JobFailed(RuntimeError):
    """One job raised (the cause is chained); ``index`` and ``item`` say which."""

    def __init__(self, index: int, item: object, cause: BaseException) -> None:
        super().__init__(f"job {index} ({describe_item(item)}) failed: {type(cause).__name__}: {cause}")
        self.index = index
        self.item = item


# ------------------------------------------------------------------------------------------- jobs


@dataclass(frozen=True, slots=True)
class Job:
    """One simulation: ``simulate(seed, model, params=params, market_index=..., scenario=..., seconds=...,
    **kwargs)``.

    ``scenario`` is a name in ``SCENARIOS`` or a ``Scenario``. ``kwargs`` carries every other keyword
    of ``simulate`` as is: parameter overrides on top of ``params`` (``spread="0.03"``) and whatever
    options it has or grows (``steps``, ``strategy_every``…). Everything must pickle (it travels to
    the worker); all of polymm's own values do.
    """

    seed: int
    model: str = "fixed"
    scenario: str | Scenario = "standin"
    market_index: int = 0
    params: MarketParams | None = None
    seconds: float | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)


def run_job(job: Job) -> Report:
    """Run one ``Job`` (top level so the pool and Dask pickle it by name)."""
    sc = job.scenario if isinstance(job.scenario, Scenario) else scenario(job.scenario)
    return simulate(job.seed, job.model, params=job.params, market_index=job.market_index, scenario=sc,
                    seconds=job.seconds, **job.kwargs)


def product_jobs(
    seeds: Iterable[int],
    *,
    scenarios: Sequence[str | Scenario] = ("standin",),
    market_indices: Sequence[int] = (0,),
    models: Sequence[str] = ("fixed",),
    params: Callable[[str], MarketParams | None] | MarketParams | None = None,
    seconds: float | None = None,
    **kwargs: Any,
) -> list[Job]:
    """Scenarios × markets × models × seeds, in that nesting (the first varies slowest), so a bench can
    cut the ordered results back into groups of ``len(seeds)``. ``params`` is one base for all, or a
    function of the model (``bench_params``)."""
    seeds = list(seeds)
    return [
        Job(seed, model, sc, mi, params(model) if callable(params) else params, seconds, dict(kwargs))
        for sc in scenarios for mi in market_indices for model in models for seed in seeds
    ]


def describe_item(item: object) -> str:
    """A short label for error messages."""
    if isinstance(item, Job):
        sc = item.scenario.name if isinstance(item.scenario, Scenario) else item.scenario
        extra = "".join(f", {k}={v}" for k, v in item.kwargs.items())
        return f"scenario {sc}, market {item.market_index}, model {item.model}, seed {item.seed}{extra}"
    text = repr(item)
    return text if len(text) <= 120 else text[:117] + "..."


# ------------------------------------------------------------------------------------------- executors


def default_workers() -> int:
    """Every core this process may run on (its CPU affinity where the OS has one, e.g. under taskset or
    a container's cpuset; else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def check_dask_address(text: str) -> str:
    """``SCHEME://HOST:PORT`` with SCHEME one of ``DASK_SCHEMES``; ``ValueError`` saying what is allowed."""
    allowed = f"a Dask scheduler address SCHEME://HOST:PORT with SCHEME one of {', '.join(DASK_SCHEMES)} (got {text!r})"
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        raise ValueError(f"must be {allowed}") from None
    if (parts.scheme not in DASK_SCHEMES or not parts.hostname or port is None or not 0 < port < 65536
            or parts.path not in ("", "/") or parts.query or parts.fragment or parts.username):
        raise ValueError(f"must be {allowed}")
    return text.strip()


def _dask_client(address: str, timeout: float) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise DaskMissing(f"--dask needs dask.distributed, which is not installed: {DASK_INSTALL_HINT}") from None
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except Exception as e:  # refused, timed out, TLS without certificates...: all mean "not reachable"
        raise SweepUnavailable(f"cannot reach the Dask scheduler at {address} within {timeout:g} s: "
                               f"{type(e).__name__}: {e}") from None
    try:
        # Without a worker the jobs would wait for ever; say so instead.
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError) as e:
        client.close()
        raise SweepUnavailable(f"the Dask scheduler at {address} has no workers (waited {timeout:g} s): {e}") from None
    return client


def start_method() -> str:
    """How the pool starts its processes.

    ``fork`` is the cheapest (each worker starts with polymm already imported: ~0.4 s saved), but only
    safe while this process has no other thread: a child forked while another thread holds a lock (the
    logging module's, a Dask client's loop, a TUI's workers) can hang. So fork on Linux when
    single-threaded (macOS's system libraries are not fork-safe even then); otherwise a fork server,
    which forks from a clean process that has imported polymm once; spawn where neither exists.
    """
    methods = multiprocessing.get_all_start_methods()
    if sys.platform == "linux" and threading.active_count() == 1 and "fork" in methods:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _process_pool(workers: int) -> cf.ProcessPoolExecutor:
    method = start_method()
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(_PRELOAD)
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx)


class Sweep:
    """Runs lists of jobs on one executor (module docstring); a context manager that owns it.

    ``with Sweep(workers=4) as sweep: reports = sweep.run(jobs)``; ``sweep.map(fn, items)`` for any
    picklable top-level ``fn``. Both return the results in the items' order. The executor starts at
    the first call that needs it and is reused by later calls; leaving the ``with`` block shuts it
    down (the Dask cluster itself is left running: it is not ours).
    """

    def __init__(self, workers: int | None = None, dask: str | None = None, *,
                 connect_timeout: float | None = None) -> None:
        if workers is not None and dask is not None:
            raise ValueError("give workers or dask, not both")
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.dask = check_dask_address(dask) if dask is not None else None
        self.workers = workers if workers is not None else (None if dask else default_workers())
        self.connect_timeout = DASK_CONNECT_TIMEOUT_S if connect_timeout is None else connect_timeout
        self._client: Any = None
        self._executor: cf.Executor | None = None
        self._where: str | None = None  # where the last batch ran

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> Sweep:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> Sweep:
        """Connect to the Dask scheduler now (it is otherwise done at the first ``map``), so a bad
        address fails before any work; ``SweepUnavailable`` when it cannot. No-op for a process pool."""
        if self.dask is not None and self._client is None:
            self._client = _dask_client(self.dask, self.connect_timeout)
            # pure=False: every job is its own task (no hashing of its arguments to dedupe; the same job
            # twice is simply run twice, with the same result).
            self._executor = self._client.get_executor(pure=False)
        return self

    def close(self) -> None:
        """Shut the pool down (cancelling what has not started) or disconnect from Dask."""
        if isinstance(self._executor, cf.ProcessPoolExecutor):
            self._executor.shutdown(wait=True, cancel_futures=True)
        elif self._executor is not None:
            self._executor.shutdown(wait=False)  # cancels our tasks still queued on the cluster
        self._executor = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def describe(self) -> str:
        """Where the last batch ran (before any: where the next will), for a report's footer."""
        if self.dask is not None:
            n = len(self._client.scheduler_info().get("workers", {})) if self._client is not None else "?"
            return f"the Dask cluster at {self.dask} ({n} worker(s))"
        if self._where is not None:
            return self._where
        return "this process" if self.workers == 1 else f"{self.workers} worker processes"

    # ---------------------------------------------------------------- running

    def _pool_for(self, n_items: int) -> cf.Executor | None:
        """The executor for a batch of ``n_items``, or None to run them here."""
        if self.dask is not None:
            return self.start()._executor
        assert self.workers is not None
        if self.workers == 1 or n_items <= 1:  # a pool would only add its start-up to one job
            return None
        if self._executor is None:
            self._executor = _process_pool(self.workers)
        return self._executor

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(item) for item in items]``, run on the executor; results in the items' order.

        ``fn`` must be a top-level function (the pool and Dask pickle it by name). The first job to
        fail raises ``JobFailed`` (the job's own exception chained, with the worker's traceback) and
        the jobs not yet started are cancelled.
        """
        items = list(items)
        pool = self._pool_for(len(items))
        if self.dask is None:  # the pool starts a process per job until it has `workers`
            self._where = "this process" if pool is None else f"{min(self.workers or 1, len(items))} worker processes"
        if pool is None:
            out = []
            for i, item in enumerate(items):
                try:
                    out.append(fn(item))
                except Exception as e:
                    raise JobFailed(i, item, e) from e
            return out
        futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
        results: list[Any] = [None] * len(items)
        try:
            # Collected as they finish, each into its own slot: the order of the output is the order of
            # the jobs, never the order of completion.
            for fut in cf.as_completed(futures):
                i = futures[fut]
                try:
                    results[i] = fut.result()
                except Exception as e:
                    raise JobFailed(i, items[i], e) from e
        finally:
            for fut in futures:
                fut.cancel()  # no-op for finished ones; after a failure or Ctrl-C, drops the rest
        return results

    def run(self, jobs: Iterable[Job]) -> list[Report]:
        """Every ``Job``'s ``Report``, in the jobs' order."""
        return self.map(run_job, jobs)


def run_jobs(jobs: Iterable[Job], *, workers: int | None = None, dask: str | None = None) -> list[Report]:
    """One-shot ``Sweep(workers, dask).run(jobs)`` (the executor is shut down afterwards)."""
    with Sweep(workers, dask) as sweep:
        return sweep.run(jobs)


__all__ = [
    "DASK_INSTALL_HINT",
    "DaskMissing",
    "Job",
    "JobFailed",
    "Sweep",
    "SweepUnavailable",
    "check_dask_address",
    "default_workers",
    "product_jobs",
    "run_job",
    "run_jobs",
    "start_method",
]
