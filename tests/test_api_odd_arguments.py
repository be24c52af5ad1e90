"""Hardening (issue 23, item 13, the class): every public argument given a value of the wrong
kind (None, negative, NaN, infinite, huge, a string, a bool, a list, a dict, an empty or 2-D
array, a complex number, an arbitrary object) is a lifgen error naming it, never a raw
TypeError, ValueError, OverflowError or NumPy's "truth value of an array is ambiguous". The
instances the red team reported are in test_hardening3.py; these are the rest of the class,
found by running this table."""

import warnings

import numpy as np
import pytest

import lifgen
from lifgen.errors import LifgenError

ODD = [None, -1, 0, 1.5, float("nan"), float("inf"), 10**20, "x", "no", True, [], [1, 2], {},
       np.array([]), np.array([[1.0]]), 1j, object()]


@pytest.fixture(scope="module")
def simulator():
    return lifgen.compile("leaky")


@pytest.fixture(scope="module")
def network():
    return two_populations().compile()


def two_populations():
    net = lifgen.Network()
    net.add("a", "lif_cuba", 3)
    net.add("b", "lif_cuba", 2)
    return net


SINGLE = {
    "run(n_steps)": lambda s, v: s.run(v, 3),
    "run(n_neurons)": lambda s, v: s.run(5, v),
    "run(duration)": lambda s, v: s.run(duration=v),
    "run(inputs)": lambda s, v: s.run(5, 3, inputs=v),
    "run(inputs={'I': ...})": lambda s, v: s.run(5, 3, inputs={"I": v}),
    "run(params)": lambda s, v: s.run(5, 3, params=v),
    "run(params={'beta': ...})": lambda s, v: s.run(5, 3, params={"beta": v}),
    "run(initial)": lambda s, v: s.run(5, 3, initial=v),
    "run(initial={'V': ...})": lambda s, v: s.run(5, 3, initial={"V": v}),
    "run(record)": lambda s, v: s.run(5, 3, record=v),
    "run(spikes)": lambda s, v: s.run(5, 3, spikes=v),
    "run(seed)": lambda s, v: s.run(5, 3, seed=v),
    "run(max_memory)": lambda s, v: s.run(5, 3, max_memory=v),
    "run(shards)": lambda s, v: s.run(5, 3, shards=v),
    "run(progress)": lambda s, v: s.run(5, 3, progress=v),
    "run(allow_nan)": lambda s, v: s.run(5, 3, allow_nan=v),
    "run(output)": lambda s, v: s.run(5, 3, output=v),
    "compile(dt)": lambda s, v: lifgen.compile("leaky", dt=v),
    "compile(method)": lambda s, v: lifgen.compile("leaky", method=v),
    "compile(dtype)": lambda s, v: lifgen.compile("leaky", dtype=v),
    "compile(threads)": lambda s, v: lifgen.compile("leaky", threads=v),
    "compile(target)": lambda s, v: lifgen.compile("leaky", target=v),
    "compile(model)": lambda s, v: lifgen.compile(v),
    "load_model(preset)": lambda s, v: lifgen.load_model("izhikevich", preset=v),
    "Poisson(n)": lambda s, v: lifgen.Poisson(v, 0.1),
    "Poisson(rate)": lambda s, v: lifgen.Poisson(3, v),
    "Poisson(seed)": lambda s, v: lifgen.Poisson(3, 0.1, seed=v),
    "Bernoulli(p)": lambda s, v: lifgen.Bernoulli(3, v),
    "SpikeTrain(n)": lambda s, v: lifgen.SpikeTrain(v, [1], [0]),
    "SpikeTrain(steps)": lambda s, v: lifgen.SpikeTrain(3, v, [0]),
    "PoissonInput(rate)": lambda s, v: lifgen.PoissonInput(3, 2, v),
    "Values": lambda s, v: lifgen.Values(v),
    "Sparse.random(p)": lambda s, v: lifgen.Sparse.random(3, 3, v, 1.0),
    "Sparse.random(n_post)": lambda s, v: lifgen.Sparse.random(v, 3, 0.5, 1.0),
    "Sparse.from_arrays(weight)": lambda s, v: lifgen.Sparse.from_arrays([0], [1], v, n_pre=2,
                                                                         n_post=2),
    "Sparse.from_arrays(delay)": lambda s, v: lifgen.Sparse.from_arrays([0], [1], 1.0, delay=v,
                                                                        n_pre=2, n_post=2),
    "Step(amplitude)": lambda s, v: lifgen.Step(v, 2),
    "Step(start)": lambda s, v: lifgen.Step(1.0, v),
    "Pulse(stop)": lambda s, v: lifgen.Pulse(1.0, 1, v),
    "PulseTrain(period)": lambda s, v: lifgen.PulseTrain(1.0, 1, 1, v),
    "run(connections)": lambda s, v: lifgen.compile("lif_cuba").run(5, 3, connections={"exc": v}),
    "verify(methods)": lambda s, v: lifgen.verify("lapicque", methods=v),
}

NETWORK = {
    "Network(dt)": lambda n, v: lifgen.Network(dt=v),
    "Network.add(n)": lambda n, v: lifgen.Network().add("a", "leaky", v),
    "Network.add(model)": lambda n, v: lifgen.Network().add("a", v, 3),
    "Network.add(name)": lambda n, v: lifgen.Network().add(v, "leaky", 3),
    "Network.add(params)": lambda n, v: two_populations().add("c", "lif_cuba", 2, params=v),
    "Network.add(initial)": lambda n, v: two_populations().add("c", "lif_cuba", 2, initial=v),
    "Network.add(method)": lambda n, v: two_populations().add("c", "lif_cuba", 2, method=v),
    "Network.add_source": lambda n, v: lifgen.Network().add_source("s", v),
    "connect(pre)": lambda n, v: two_populations().connect(v, "b", "exc", np.ones((2, 3))),
    "connect(synapse)": lambda n, v: two_populations().connect("a", "b", v, np.ones((2, 3))),
    "connect(weights)": lambda n, v: two_populations().connect("a", "b", "exc", v),
    "connect(delay)": lambda n, v: two_populations().connect("a", "b", "exc", np.ones((2, 3)),
                                                             delay=v),
    "Network.compile(dtype)": lambda n, v: two_populations().compile(dtype=v),
    "Network.compile(target)": lambda n, v: two_populations().compile(target=v),
    "Network.compile(threads)": lambda n, v: two_populations().compile(threads=v),
    "net run(n_steps)": lambda n, v: n.run(v),
    "net run(duration)": lambda n, v: n.run(duration=v),
    "net run(spikes)": lambda n, v: n.run(3, spikes=v),
    "net run(seed)": lambda n, v: n.run(3, seed=v),
    "net run(shards)": lambda n, v: n.run(3, shards=v),
    "net run(allow_nan)": lambda n, v: n.run(3, allow_nan=v),
    "net run(max_memory)": lambda n, v: n.run(3, max_memory=v),
    "net run(inputs)": lambda n, v: n.run(3, inputs=v),
    "net run(inputs={'a': ...})": lambda n, v: n.run(3, inputs={"a": v}),
    "net run(inputs={'a': {'I': ...}})": lambda n, v: n.run(3, inputs={"a": {"I": v}}),
    "net run(record)": lambda n, v: n.run(3, record=v),
    "net run(record={'a': ...})": lambda n, v: n.run(3, record={"a": v}),
    "net run(params)": lambda n, v: n.run(3, params=v),
    "net run(params={'a': ...})": lambda n, v: n.run(3, params={"a": v}),
    "net run(initial)": lambda n, v: n.run(3, initial=v),
    "net run(record_synapses)": lambda n, v: n.run(3, record_synapses=v),
}


def odd_values_give_lifgen_errors(call, subject):
    raw = []
    for value in ODD:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                call(subject, value)
        except LifgenError:
            pass
        except Exception as error:  # noqa: BLE001 (what this test looks for)
            raw.append(f"{value!r}: {type(error).__name__}: {error}")
    assert not raw, "\n".join(raw)


@pytest.mark.parametrize("name", SINGLE)
def test_an_odd_argument_of_a_population_s_api_is_a_lifgen_error(simulator, name):
    odd_values_give_lifgen_errors(SINGLE[name], simulator)


@pytest.mark.parametrize("name", NETWORK)
def test_an_odd_argument_of_a_network_s_api_is_a_lifgen_error(network, name):
    odd_values_give_lifgen_errors(NETWORK[name], network)
