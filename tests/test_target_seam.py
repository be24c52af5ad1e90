"""The target seam: a second target is new files only (tests/python_target.py), and the IR
printed as Python gives the C kernel's float64 numbers bit for bit."""

import os
import subprocess
import sys
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
    ("rleaky", {}),  # unconnected: its recurrent input holds its bias alone
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


def test_the_targets_fit_the_protocols_of_the_seam(python_target):
    """The C, cuda and test targets, their sources and runners are what targets/base.py asks."""
    from lifgen.targets.base import Runner, Source, Target

    for name in ("c", "cuda", "python"):
        assert isinstance(targets.get_target(name), Target), name
    for name in ("c", "python"):
        assert isinstance(lifgen.compile("leaky", target=name).kernel_source, Source), name
    import python_target
    from lifgen.targets.c.target import Runner as CRunner
    from lifgen.targets.cuda.target import Runner as CudaRunner

    for runner in (CRunner, CudaRunner, python_target.Runner):
        assert issubclass(runner, Runner), runner


def test_a_target_that_runs_no_networks_refuses_a_coupled_run(python_target):
    """A target with render, build and runner alone runs uncoupled populations; a run that
    couples the neurons (connections, drives) says what it needs instead of running."""
    import python_target as module
    from lifgen.codegen.compiler import built, checked_semantics
    from lifgen.codegen.options import Schedule
    from lifgen.runtime.simulate import Simulator

    class Uncoupled:
        name, language = "uncoupled", "Python"
        render, build, runner = (getattr(module.TARGET, m) for m in ("render", "build", "runner"))

    target = Uncoupled()
    simulator = Simulator(target, *built("lif_cuba", checked_semantics(), Schedule(), target))
    assert simulator.run(5, 2, inputs={"I": 30.0}).state["V"].shape == (2,)
    with pytest.raises(lifgen.InputError, match="'uncoupled' runs uncoupled populations only"):
        simulator.run(5, 2, connections={"exc": np.eye(2)})
    with pytest.raises(lifgen.InputError, match="target that runs networks"):
        simulator.run(5, 2, drives={"inh": (lifgen.Poisson(2, 0.5), np.ones((2, 2)))})


def test_a_third_party_target_registers_through_an_entry_point(tmp_path):
    """A package that declares `[lifgen.targets] python = "python_target:TARGET"` is a target
    for compile, the CLI's --target and `lifgen show` (found through importlib.metadata)."""
    info = tmp_path / "lifgen_python_target-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lifgen-python-target\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text("[lifgen.targets]\npython = python_target:TARGET\n")
    code = ("import sys, numpy as np, lifgen; from lifgen.cli import main; "
            "from lifgen.targets import target_names; print(target_names()); "
            "runs = [lifgen.compile('leaky', target=t).run(50, 2, inputs={'I': 0.3}) "
            "for t in ('c', 'python')]; "
            "print(np.array_equal(runs[0].state['V'], runs[1].state['V']), "
            "runs[1].spike_count.tolist()); "
            "sys.exit(main(['show', 'leaky', '--target', 'python', '--c']))")
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tmp_path), str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "('c', 'cuda', 'python')" and lines[1].startswith("True [")
    assert "== Generated Python" in out.stdout and "def neuron(lg_i" in out.stdout
