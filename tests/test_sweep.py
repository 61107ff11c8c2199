"""Sweeps: the same jobs give the same results, in job order, in this process, on a process pool and on a
Dask cluster; bad --workers / --dask values and an unreachable scheduler fail clearly."""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Iterator

import pytest
from backtest_cli import cli, run_cli

from polymm.backtest import sweep as sweep_mod
from polymm.backtest.scenarios import SCENARIOS
from polymm.backtest.simulation import bench_params, simulate
from polymm.backtest.sweep import (
    DASK_INSTALL_HINT,
    Job,
    JobFailed,
    Sweep,
    SweepUnavailable,
    check_dask_address,
    default_workers,
    product_jobs,
    run_job,
    run_jobs,
    start_method,
)

SECONDS = 15.0  # simulated seconds per job: ~90 flow steps, a few ms each; enough for fills to differ by seed


def _jobs() -> list[Job]:
    """2 scenarios × 2 markets × 2 models × 3 seeds, with one parameter override."""
    return product_jobs(range(1, 4), scenarios=("standin", SCENARIOS["informed"]), market_indices=(0, 5),
                        models=("fixed", "pm4"), params=bench_params, seconds=SECONDS, spread="0.02")




@pytest.fixture(scope="module")
def reference() -> list:
    """The jobs run here, one after the other: what every executor must reproduce."""
    return Sweep(workers=1).run(_jobs())


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A two-process Dask cluster on loopback (one thread per worker, as the docs recommend): its address."""
    distributed = pytest.importorskip("distributed", reason="dask.distributed comes with polymm[dev]")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  host="127.0.0.1") as lc:
        yield lc.scheduler_address


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that is bound but not listening: connections to it are refused."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    yield s.getsockname()[1]
    s.close()


# ------------------------------------------------------------------------------------------- determinism


def test_reference_results_are_in_job_order_and_differ_between_jobs(reference: list) -> None:
    jobs = _jobs()
    assert len(reference) == len(jobs) == 24
    for job, r in zip(jobs, reference, strict=True):
        sc = job.scenario if isinstance(job.scenario, str) else job.scenario.name
        assert (r.seed, r.model, r.market_index, r.scenario) == (job.seed, job.model, job.market_index, sc)
    # the comparisons below mean something only if the runs are not all alike
    assert len({(r.pnl, r.fills, r.final_inventory) for r in reference}) > 12
    assert sum(r.fills for r in reference) > 0
    # a job is exactly the simulate() call it describes
    j = jobs[-1]
    assert run_job(j) == simulate(j.seed, j.model, params=bench_params(j.model), market_index=j.market_index,
                                  scenario=SCENARIOS["informed"], seconds=SECONDS, spread="0.02")


def test_two_worker_processes_give_the_same_results(reference: list) -> None:
    assert run_jobs(_jobs(), workers=2) == reference


def test_results_keep_job_order_when_jobs_finish_out_of_order() -> None:
    # the first job is ~20x longer than the rest, so with 2 workers the later ones finish before it
    jobs = [Job(9, seconds=300.0)] + [Job(s, seconds=SECONDS) for s in range(1, 6)]
    with Sweep(workers=2) as sw:
        got = sw.run(jobs)
        again = sw.run(list(reversed(jobs)))  # the pool is reused by a second batch
    assert [r.seed for r in got] == [9, 1, 2, 3, 4, 5]
    assert [r.sim_seconds >= 300 for r in got] == [True] + [False] * 5
    assert again == list(reversed(got))


def test_a_dask_cluster_gives_the_same_results(reference: list, cluster: str) -> None:
    with Sweep(dask=cluster) as sw:
        assert sw.run(_jobs()) == reference
        assert "2 worker(s)" in sw.describe() and cluster in sw.describe()


def test_threaded_dask_workers_give_the_same_results(reference: list) -> None:
    """Jobs running side by side in threads of one worker share nothing either."""
    distributed = pytest.importorskip("distributed", reason="dask.distributed comes with polymm[dev]")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
                                  dashboard_address=":0", host="127.0.0.1") as lc:
        assert run_jobs(_jobs(), dask=lc.scheduler_address) == reference


def test_backtest_json_is_identical_on_1_and_2_workers_and_dask(capsys, clean, cluster: str) -> None:
    argv = ("backtest", "--scenario", "informed", "--seeds", "3", "--minutes", "0.25", "--model", "pm4",
            "--grid", "spread=0.02,0.04", "--json")
    outs = []
    for where in (("--workers", "1"), ("--workers", "2"), ("--dask", cluster)):
        code, out, err = run_cli(capsys, *argv, *where)
        assert code == 0, err
        outs.append(out)
    assert outs[0] == outs[1] == outs[2]
    doc = json.loads(outs[0])
    assert [r["params"] for r in doc["rows"]] == [{"spread": "0.02"}, {"spread": "0.04"}]
    assert all([run["seed"] for run in r["runs"]] == [1, 2, 3] for r in doc["rows"])
    assert doc["rows"][0]["runs"] != doc["rows"][1]["runs"]


def test_backtest_text_says_where_it_ran(capsys, clean) -> None:
    code, out, _ = run_cli(capsys, "backtest", "--seeds", "2", "--minutes", "0.1", "--workers", "2")
    assert code == 0 and "on 2 worker processes" in out
    code, out, _ = run_cli(capsys, "backtest", "--seeds", "2", "--minutes", "0.1", "--workers", "1")
    assert code == 0 and "on this process" in out
    code, out, _ = run_cli(capsys, "backtest", "--seeds", "1", "--minutes", "0.1", "--workers", "2")
    assert code == 0 and "on this process" in out  # one run: a pool would only add its start-up


# ------------------------------------------------------------------------------------------- the API


def test_product_jobs_nest_scenarios_markets_models_seeds() -> None:
    jobs = product_jobs([7, 8], scenarios=("calm", "volatile"), market_indices=(0, 5), models=("fixed", "pm4"),
                        seconds=60.0)
    assert [(j.scenario, j.market_index, j.model, j.seed) for j in jobs[:5]] == [
        ("calm", 0, "fixed", 7), ("calm", 0, "fixed", 8), ("calm", 0, "pm4", 7), ("calm", 0, "pm4", 8),
        ("calm", 5, "fixed", 7)]
    assert len(jobs) == 16 and jobs[-1] == Job(8, "pm4", "volatile", 5, None, 60.0)
    assert product_jobs([1], params=bench_params, models=("avellaneda",))[0].params == bench_params("avellaneda")


def test_default_is_every_core_and_workers_or_dask_not_both() -> None:
    assert Sweep().workers == default_workers() >= 1
    with pytest.raises(ValueError, match="not both"):
        Sweep(workers=2, dask="tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="workers must be >= 1"):
        Sweep(workers=0)


def test_no_plain_fork_while_another_thread_runs() -> None:
    """Forking a threaded process can hang the child (a lock held by the other thread is copied held)."""
    release = threading.Event()
    t = threading.Thread(target=release.wait, daemon=True)
    t.start()
    try:
        assert start_method() in ("forkserver", "spawn")
    finally:
        release.set()
        t.join()


def test_a_failing_job_is_named_and_the_rest_cancelled() -> None:
    jobs = [Job(1, seconds=SECONDS), Job(2, "nope", seconds=SECONDS), Job(3, seconds=SECONDS)]
    for workers in (1, 2):
        with pytest.raises(JobFailed, match=r"job 1 \(scenario standin, market 0, model nope, seed 2\) failed") as e:
            run_jobs(jobs, workers=workers)
        assert e.value.index == 1 and e.value.item == jobs[1] and e.value.__cause__ is not None


# ------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("argv, option, says", [
    (("--workers", "0"), "--workers", "from 1 to 1024"),
    (("--workers", "two"), "--workers", "from 1 to 1024"),
    (("--workers", "2000"), "--workers", "from 1 to 1024"),
    (("--dask", "localhost:8786"), "--dask", "SCHEME://HOST:PORT"),
    (("--dask", "http://localhost:8786"), "--dask", "one of tcp, tls, ws, wss"),
    (("--dask", "tcp://localhost"), "--dask", "SCHEME://HOST:PORT"),
    (("--dask", "tcp://localhost:99999"), "--dask", "SCHEME://HOST:PORT"),
    (("--dask", "tcp://:8786"), "--dask", "SCHEME://HOST:PORT"),
    (("--dask", "tcp://127.0.0.1:8786", "--workers", "2"), "--workers", "not allowed with argument --dask"),
])
def test_bad_workers_or_dask_exit_2_naming_the_option(capsys, argv, option, says) -> None:
    with pytest.raises(SystemExit) as e:
        cli("backtest", *argv)
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert f"argument {option}" in err and says in err


def test_good_dask_addresses_pass() -> None:
    for address in ("tcp://127.0.0.1:8786", "tls://scheduler.example:8786", "tcp://[::1]:8786", "ws://h:80"):
        assert check_dask_address(address) == address


def test_dask_without_the_package_names_the_extra(capsys, clean, monkeypatch, closed_port: int) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed → ImportError
    code, out, err = run_cli(capsys, "backtest", "--seeds", "1", "--minutes", "0.1", "--dask",
                          f"tcp://127.0.0.1:{closed_port}")
    assert code == 2 and not out
    assert "--dask" in err and DASK_INSTALL_HINT in err


def test_unreachable_scheduler_fails_clearly(capsys, clean, monkeypatch, closed_port: int) -> None:
    pytest.importorskip("distributed", reason="dask.distributed comes with polymm[dev]")
    address = f"tcp://127.0.0.1:{closed_port}"
    with pytest.raises(SweepUnavailable, match=rf"cannot reach the Dask scheduler at {address} within 0\.5 s"):
        Sweep(dask=address, connect_timeout=0.5).start()
    monkeypatch.setattr(sweep_mod, "DASK_CONNECT_TIMEOUT_S", 0.5)
    code, out, err = run_cli(capsys, "backtest", "--seeds", "1", "--minutes", "0.1", "--dask", address)
    assert code == 1 and not out
    assert f"polymm backtest: --dask: cannot reach the Dask scheduler at {address}" in err
