"""lifgen against Brian2 on the nonlinear models: the first ten spikes within one step.

References: tests/reference/make_brian2_refs.py, run with Brian2 2.9 (numpy target, float64);
these tests need no Brian2.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import lifgen

REFERENCES = Path(__file__).parent / "reference" / "brian2"
CASES = sorted(p.stem for p in REFERENCES.glob("*.npz"))


def test_references_cover_the_required_cases():
    assert {"izhikevich_regular_spiking", "izhikevich_fast_spiking", "adex_tonic",
            "adex_adapting", "adex_bursting", "hodgkin_huxley_exponential_euler"} <= set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_first_ten_spikes_within_one_step_of_brian2(case):
    data = np.load(REFERENCES / f"{case}.npz")
    config = json.loads(str(data["config"]))
    model = lifgen.load_model(config["model"], preset=config["preset"])
    simulator = lifgen.compile(model, method=config["method"], dt=config["dt"])
    ours = simulator.run(config["steps"], inputs={"I": config["I"]},
                         initial=config.get("initial")).spike_steps()
    theirs = data["spike_steps"]
    assert len(theirs) >= 5
    count = min(10, len(theirs))
    assert len(ours) >= count, (ours, theirs)
    assert np.abs(ours[:count] - theirs[:count]).max() <= 1, (ours[:count], theirs[:count])


TRACES = json.loads((REFERENCES / "traces_row999.json").read_text())


@pytest.mark.parametrize("case", sorted(TRACES["cases"]))
def test_every_state_at_row_999_equals_brian2_s(case):
    """izhikevich, qif, eif, adex and hodgkin_huxley under euler and rk4, 1000 steps with a
    constant input (spikes and resets included): every state as Brian2 2.9 computes it, to
    1e-11 (in the state's unit; tests/reference/make_brian2_traces.py)."""
    reference = TRACES["cases"][case]
    simulator = lifgen.compile(reference["model"], method=reference["method"], dt=reference["dt"])
    result = simulator.run(TRACES["steps"], inputs={"I": reference["I"]},
                           record=list(reference["states"]))
    for state, value in reference["states"].items():
        assert result.traces[state][-1, 0] == pytest.approx(value, abs=1e-11, rel=1e-12), state
