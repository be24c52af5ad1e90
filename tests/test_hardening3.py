"""Issue 23, the third hardening pass (begun): API edge cases (item 13) end in a lifgen error
that says what is wrong, never a raw exception or an argument read as something else."""

import numpy as np
import pytest

import lifgen
from lifgen.errors import InputError, ModelError
from lifgen.frontend.modelfile import model_from_document


@pytest.mark.parametrize("option", ["reset_delay", "inhibition", "precise", "portable", "fma",
                                    "flush_denormals", "runtime_dt"])
@pytest.mark.parametrize("value", ["no", "False", 0, 1.0, None])
def test_an_on_off_option_is_true_or_false(option, value):
    """'no' used to read as on (bool('no') is True)."""
    if value is None and option == "reset_delay":
        return  # reset_delay=None: the model's own choice
    with pytest.raises(InputError, match=f"{option} must be True or False"):
        lifgen.compile("leaky", **{option: value})


@pytest.mark.parametrize("duration", [float("inf"), float("nan"), "inf ms"])
def test_a_duration_is_finite(duration):
    with pytest.raises(InputError):
        lifgen.compile("lif_cuba").run(duration=duration)


@pytest.mark.parametrize("waveform", [lifgen.Step(start=2.7, amplitude=1.0),
                                      lifgen.Pulse(amplitude=1.0, start=1, stop=4.5),
                                      lifgen.Step(start=float("nan"), amplitude=1.0)])
def test_a_waveform_time_given_as_a_number_is_a_whole_step(waveform):
    """Step(start=2.7) used to start at step 2 (floored without a word)."""
    with pytest.raises(InputError, match="not a whole number of steps"):
        lifgen.compile("leaky").run(20, inputs={"I": waveform})


def test_a_whole_number_given_as_a_float_is_a_step():
    a = lifgen.compile("leaky").run(20, inputs={"I": lifgen.Step(start=3.0, amplitude=1.0)})
    b = lifgen.compile("leaky").run(20, inputs={"I": lifgen.Step(start=3, amplitude=1.0)})
    assert np.array_equal(a.spikes, b.spikes) and a.spike_count.sum() > 0


def test_shards_are_bounded_and_a_run_of_no_steps_shards_to_nothing():
    simulator = lifgen.compile("leaky")
    with pytest.raises(InputError, match="shards must be an integer in 1..65536"):
        simulator.run(5, 4, shards=10**12)  # was a raw MemoryError (7 TiB)
    empty = simulator.run(0, 4, shards=2)  # was a raw ValueError
    assert empty.n_steps == 0 and empty.spike_count.shape == (4,)


@pytest.mark.parametrize("condition", ["V*(V > 1)", "(V > 1) + 1", "-(V > 1)"])
def test_a_relation_used_as_a_number_is_a_model_error(condition):
    """SymPy refuses these forms with a TypeError, which reached the user raw."""
    with pytest.raises(ModelError, match=r"\[spike\] condition"):
        model_from_document({
            "model": {"name": "x"}, "parameters": {"tau": 1.0}, "states": {"V": 0.0},
            "equations": {"laws": ["tau*dV/dt = -V"]}, "spike": {"condition": condition},
            "reset": {"mechanism": "zero"}}, None)


def test_a_model_file_s_text_cannot_drive_the_terminal(tmp_path, capsys):
    """Item 14: escape sequences in a model file's free text (here its description: a colour,
    a window title, a bell) reach the terminal as visible escapes, from every command."""
    from lifgen.cli import main

    path = tmp_path / "shady.toml"
    path.write_text('[model]\nname = "shady"\n'
                    'description = "fine\\u001b[31m red\\u001b]0;title\\u0007 \\u009b2J"\n'
                    '[parameters]\ntau = 10.0\n[states]\nV = 0.0\n[inputs]\nI = {}\n'
                    '[equations]\nlaws = ["tau*dV/dt = -V + I"]\n[spike]\ncondition = "V > 1"\n'
                    '[reset]\nmechanism = "zero"\n[simulation]\ndt = 0.1\nmethod = "euler"\n')
    assert main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "fine" in out and "\\x1b[31m" in out
    assert not any(c in out for c in ("\x1b", "\x07", "\x9b"))
