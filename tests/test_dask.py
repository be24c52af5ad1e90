"""Sweeps and sharded runs on a Dask LocalCluster of two worker processes: the serial numbers,
also when a worker dies in the middle."""

import threading
import time

import numpy as np
import pytest

import lifgen
from lifgen.frontend.modelfile import model_from_document

distributed = pytest.importorskip("dask.distributed", reason="needs dask[distributed]")
OU = {"model": {"name": "ou"}, "parameters": {"tau": 10.0, "sigma": 0.5, "theta": 0.3},
      "states": {"V": 0.0}, "equations": {"laws": ["dV/dt = -V/tau + sigma*xi"]},
      "spike": {"condition": "V > theta"}, "reset": {"mechanism": "subtract"},
      "simulation": {"dt": 0.1}}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


def test_a_noisy_sweep_on_two_workers_is_the_serial_one(client):
    ou = lifgen.compile(model_from_document(OU, "ou.toml"))
    grid = {"tau": np.linspace(5, 25, 6), "sigma": [0.3, 0.6]}
    serial = lifgen.sweep(ou, grid, n_steps=500, n_neurons=5, seeds=[1, 2], record=["V"])
    spread = lifgen.sweep(ou, grid, n_steps=500, n_neurons=5, seeds=[1, 2], record=["V"],
                          executor=client, pack=2)
    assert spread.identical(serial)


def test_a_poisson_driven_network_sweep_on_two_workers_is_the_serial_one(client):
    n = 30
    drive = (lifgen.Poisson(20, 0.5, seed=4), np.random.default_rng(1).uniform(0, 3, (n, 20)))
    grid = {"I": [5.0, 10.0, 15.0]}
    serial = lifgen.sweep("lif_cuba", grid, n_steps=1000, n_neurons=n, drives={"exc": drive},
                          spikes="events")
    spread = lifgen.sweep("lif_cuba", grid, n_steps=1000, n_neurons=n, drives={"exc": drive},
                          spikes="events", executor=client)
    assert serial.spike_count.sum() > 0 and spread.identical(serial)


def test_a_worker_killed_in_the_middle_loses_nothing(client):
    ou = lifgen.compile(model_from_document(OU, "ou.toml"))
    grid = {"tau": np.linspace(5, 25, 12)}
    serial = lifgen.sweep(ou, grid, n_steps=20_000, n_neurons=200)
    answer = {}
    sweeping = threading.Thread(target=lambda: answer.setdefault("data", lifgen.sweep(
        ou, grid, n_steps=20_000, n_neurons=200, executor=client, pack=1)))
    sweeping.start()
    deadline = time.time() + 60
    while not any(client.processing().values()) and time.time() < deadline:
        time.sleep(0.05)
    victim = next(worker for worker, tasks in client.processing().items() if tasks)
    client.restart_workers([victim])  # its process is killed and started again
    sweeping.join(300)
    assert answer["data"].identical(serial)


def test_a_run_sharded_over_two_workers_is_the_whole_run(client):
    ou = lifgen.compile(model_from_document(OU, "ou.toml"))
    whole = ou.run(1000, 400, record={"V": [3, 399]}, seed=8, spikes="events")
    part = ou.run(1000, 400, record={"V": [3, 399]}, seed=8, spikes="events", executor=client)
    np.testing.assert_array_equal(part.traces["V"], whole.traces["V"])
    np.testing.assert_array_equal(part.state["V"], whole.state["V"])
    for mine, theirs in zip(part.spike_events, whole.spike_events):
        np.testing.assert_array_equal(mine, theirs)


def test_warm_compiles_on_every_worker(client):
    answers = client.run(lifgen.warm, "qif", dt=0.05)
    assert len(answers) == 2 and all("qif (rk4, dt = 0.05)" in text for text in answers.values())
    assert all(" in " in text for text in answers.values())
