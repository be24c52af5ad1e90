"""lifgen.from_brian2 / to_brian2 against Brian2 2.9 running the neuron equations of its own
examples (tests/reference/brian2_examples.py; references from make_brian2_examples_refs.py, run in
Brian2's environment; these tests need no Brian2), and hostile strings refused as ModelErrors."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import lifgen
from lifgen import ModelError
from lifgen.ir import written

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "reference"))
from brian2_examples import CASES  # noqa: E402

REFERENCES = HERE / "reference" / "brian2" / "examples"
EXPORT = json.loads((HERE / "reference" / "brian2" / "brian2_examples_export.json").read_text())


def read(case):
    return lifgen.from_brian2(case["model"], threshold=case["threshold"], reset=case["reset"],
                              refractory=case["refractory"], namespace=case["namespace"],
                              method=case["method"])


def quantity(text):
    """'-60*mV' as lifgen's quantity text '-60 mV'; a plain number as a float."""
    return text.replace("*", " ", 1) if "*" in text else float(text)


def test_at_least_six_examples_are_compared():
    assert len(CASES) >= 6
    assert {p.stem for p in REFERENCES.glob("*.npz")} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_runs_as_brian2_runs_it(name):
    """Spike steps equal, every state after every step within 1e-9 of Brian2's (relative to the
    state's largest value), for the example's own method."""
    case = CASES[name]
    model = read(case)
    data = np.load(REFERENCES / f"{name}.npz")
    params = {k: quantity(v) for k, v in case["initial"].items() if k in model.parameter_names}
    initial = {k: quantity(v) for k, v in case["initial"].items() if k in model.state_names}
    result = lifgen.compile(model, dt=quantity(case["dt"])).run(
        case["steps"], params=params, initial=initial, record=list(model.state_names))
    assert np.array_equal(result.spike_steps(), data["spike_steps"])
    for state in model.state_names:
        theirs = data[f"trace_{state}"]
        ours = result.traces[state][:, 0]
        scale = max(np.abs(theirs).max(), 1e-300)
        assert np.abs(ours - theirs).max() <= 1e-9 * scale, state


@pytest.mark.parametrize("name", sorted(CASES))
def test_to_brian2_round_trip_ran_in_brian2(name):
    """to_brian2(from_brian2(strings)) is what the reference script ran in Brian2, and there it
    gave the spikes and traces of the original strings."""
    assert lifgen.to_brian2(read(CASES[name])) == EXPORT[name]
    roundtrip = json.loads(str(np.load(REFERENCES / f"{name}.npz")["roundtrip"]))
    assert roundtrip["spikes_equal"]
    assert roundtrip["max_relative_difference"] <= 1e-9


def test_strings_as_brian2_writes_them():
    model = lifgen.from_brian2(
        """dv/dt = (v0 - v)/tau : volt (unless refractory)
           I = g*(E - v) : amp
           dx/dt = (I/(amp) - x)/tau : 1  # a comment
           tau : second (constant)
           v0 : volt (shared)""",
        threshold="v > 10*mV", reset="v = 0*mV\nx += 1", refractory="2 ms",
        namespace={"g": "10 nS", "E": "-70*mV"}, method="euler", name="strings")
    assert model.state_names == ("v", "x")
    assert set(model.parameter_names) == {"tau", "v0", "g", "E"}
    assert model.defaults["g"] == pytest.approx(1e-8)
    assert [q.unit for q in model.states] == ["volt", ""]
    assert [s.name for s in model.refractory[1]] == ["v"]
    assert model.method == "euler"


@pytest.mark.parametrize("kwargs, words", [
    (dict(model="dv/dt = -v/tau + int(v > 1)/tau : 1", namespace={"tau": "1*ms"}), "int"),
    (dict(model="dv/dt = -v/tau : 1", reset="v = rand()", threshold="v > 1",
          namespace={"tau": "1*ms"}), "rand"),
    (dict(model="dv/dt = -v/tau : 1\nI : 1 (summed)", namespace={"tau": "1*ms"}), "summed"),
    (dict(model="dv/dt = -v/tau : 1\nI : 1 (linked)", namespace={"tau": "1*ms"}), "linked"),
    (dict(model="dv/dt = sin(t/tau)/tau : 1", namespace={"tau": "1*ms"}), "'t'"),
    (dict(model="dv/dt = -v/tau : 1"), "tau"),
    (dict(model="dv/dt = -v/tau : volt", namespace={"tau": "1*mV"}), "volt"),
    (dict(model="dv/dt = -v/tau : 1", namespace={"tau": object()}), "never evaluates"),
    (dict(model="dv/dt = -v/tau : 1", namespace={"tau": "__import__('os').system('x')"}),
     "not allowed"),
    (dict(model="dv/dt = __import__('os').getcwd() : 1"), "__import__"),
    (dict(model="dv/dt = -v/tau : 1", namespace={"tau": "1e999*ms"}), "finite"),
    (dict(model="dv/dt = v**10**10/tau : 1", namespace={"tau": "1*ms"}), "too large"),
    (dict(model="dv/dt = " + "-(" * 100 + "v" + ")" * 100 + "/tau : 1",
          namespace={"tau": "1*ms"}), "nested"),
    (dict(model="dv/dt = -v/tau : 1", namespace={"tau": "(a*" * 60 + "ms" + ")" * 60}), ""),
    (dict(model="dv/dt = -v/tau : 1", namespace={"tau": "x", "x": "tau"}), "each other"),
    (dict(model="d__class__/dt = 1/tau : 1", namespace={"tau": "1*ms"}), ""),
    (dict(model="dv/dt = -v/tau : 1; import os", namespace={"tau": "1*ms"}), ""),
    (dict(model="dv/dt = -v/tau : klingon", namespace={"tau": "1*ms"}), "unit"),
    (dict(model="dv/dt = -v/tau : boolean", namespace={"tau": "1*ms"}), "boolean"),
    (dict(model="dv/dt = -v/tau : 1", method="milstein", namespace={"tau": "1*ms"}), "milstein"),
    (dict(model="dv/dt = -v/tau : 1", threshold="v > 1", reset="exec('x')",
          namespace={"tau": "1*ms"}), "assignment"),
    (dict(model="dv/dt = -v/tau : 1", threshold="v > 1", refractory="v > 2",
          namespace={"tau": "1*ms"}), "threshold itself"),
    (dict(model="dv/dt = -v/tau : 1", threshold="v > 1", refractory=0.002,
          namespace={"tau": "1*ms"}), "string"),
    (dict(model=12), "string"),
])
def test_hostile_or_meaningless_strings_are_model_errors(kwargs, words):
    with pytest.raises(ModelError) as error:
        lifgen.from_brian2(**kwargs)
    assert words in str(error.value)


def test_to_brian2_of_a_library_model():
    strings = lifgen.to_brian2(lifgen.load_model("hodgkin_huxley"))
    assert strings["threshold"] == strings["refractory"]  # a spike on each upward crossing
    assert "exprel" in strings["model"] and strings["namespace"]["C"].endswith("metre**2")
    with pytest.raises(ModelError, match="same_step"):
        lifgen.to_brian2(lifgen.load_model("lapicque"))


def test_save_writes_a_file_that_loads_back_to_an_equal_model(tmp_path):
    for model in [read(case) for case in CASES.values()] + [
            lifgen.load_model(name) for name in ("cobahh", "lif_cuba", "leaky", "izhikevich")]:
        path = tmp_path / f"{model.name}.toml"
        model.save(path)
        assert lifgen.load_model(path) == model
    changed = lifgen.load_model("adex").with_preset(lifgen.load_model("adex").presets[0][0])
    changed.save(tmp_path / "adex.toml")
    assert lifgen.load_model(tmp_path / "adex.toml") == changed


def test_refractory_period_as_a_quantity_string_in_a_model_file(tmp_path):
    text = (HERE.parent / "models" / "lif_cuba.toml").read_text()
    path = tmp_path / "lif_cuba.toml"
    path.write_text(text.replace('period = "t_ref"', 'period = "5 ms"'))
    ours, theirs = lifgen.load_model(path), lifgen.load_model("lif_cuba")
    assert float(written.evaluate(ours.refractory[0], {})) == 5.0
    assert ours.refractory[1] == theirs.refractory[1]
