"""The target seam: a second target is new files only (tests/python_target.py), and the IR
printed as Python gives the C kernel's float64 numbers bit for bit."""

from pathlib import Path

import numpy as np
import pytest

import lifgen
from lifgen import targets

CASES = [
    ("leaky", {}),
    ("leaky", {"reset_timing": "same_step"}),
    ("leaky", {"reset_delay": False}),
    ("leaky", {"state_quant": [0.0, 0.5, 1.0, 1.5, 2.0], "reset": "none"}),
    ("synaptic", {}),
    ("lapicque", {"method": "euler"}),
    ("lapicque", {"method": "exact", "precise": True, "reset_timing": "same_step"}),
    ("izhikevich", {}),
    ("adex", {}),
    ("hodgkin_huxley", {}),
    ("lif_cuba", {}),
    (str(Path(__file__).parent / "models" / "adaptive_lif.toml"), {"method": "rk4"}),
]


@pytest.fixture
def python_target(monkeypatch):
    monkeypatch.setitem(targets.TARGETS, "python", "python_target")


@pytest.mark.parametrize("name, options", CASES, ids=[f"{Path(n).stem}-{'-'.join(o) or 'default'}"
                                                      for n, o in CASES])
def test_the_ir_printed_as_python_gives_the_c_numbers(python_target, name, options):
    c = lifgen.compile(name, **options)
    python = lifgen.compile(name, target="python", **options)
    assert python.target.name == "python" and python.method == c.method
    n_steps, n = 300, 3
    model = c.model
    rng = np.random.default_rng(5)
    scale = {"hodgkin_huxley": 20.0, "izhikevich": 10.0, "adex": 500.0, "lif_cuba": 30.0,
             "adaptive_lif": 500.0}.get(model.name, 1.0)  # drives that make every model spike
    inputs = {u: scale * rng.uniform(0.5, 2.0, (n_steps, n)) for u in model.input_names}
    params = {}
    if model.parameters:  # one parameter per neuron, the rest shared
        first = model.parameters[0]
        params[first.name] = first.value * np.array([1.0, 1.05, 0.95])
    runs = [sim.run(n_steps, n, inputs=inputs, params=params, record=list(model.state_names))
            for sim in (c, python)]
    for state in model.state_names:
        np.testing.assert_array_equal(runs[0].traces[state], runs[1].traces[state])
    np.testing.assert_array_equal(runs[0].spikes, runs[1].spikes)
    np.testing.assert_array_equal(runs[0].spike_count, runs[1].spike_count)
    assert runs[0].spike_count.sum() > 0
