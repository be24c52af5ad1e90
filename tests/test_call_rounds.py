"""A step that calls the elementary functions at many sites (Hodgkin-Huxley's rk4: 24) runs in
rounds in the C tiles schedule (targets/cfamily/call_rounds.py): each round's loop stores the
arguments of the calls it makes possible, each function then runs over them in one loop. The
split is checked on the statement IR, and its numbers against the streamed schedule's, which
runs the step unsplit (the cuda-host test compares cobahh's and hodgkin_huxley's with CUDA's)."""

import numpy as np
import pytest
import sympy

import kernel_cases
import lifgen
from lifgen.codegen.lower import StepOptions, lower
from lifgen.ir.statements import REAL, Apply, Comment, Element, If, Integer, Let, Store, nodes
from lifgen.ir.written import Call, Name, Op
from lifgen.targets.cfamily.call_rounds import call_rounds
from lifgen.targets.cfamily.printer import ELEMENTARY_CALLS


@pytest.fixture(scope="module")
def hodgkin_huxley_step():
    step_map = kernel_cases.step_map_of("hodgkin_huxley", (("method", "rk4"),))
    return lower(step_map, StepOptions(unconnected=True))


def _calls(tree):
    return [n for n in nodes(tree) if isinstance(n, Call) and n.function in ELEMENTARY_CALLS]


def _count(apply: Apply) -> int:
    """The calls an Apply runs over, per neuron (its count is calls * lg_lanes)."""
    assert isinstance(apply.count, Op) and isinstance(apply.count.left, Integer)
    return apply.count.left.value


def test_the_rounds_make_every_call_once_and_none_inside_the_loops(hodgkin_huxley_step):
    step = hodgkin_huxley_step.step
    split = call_rounds(step, frozenset({"n_V", "n_m", "n_h", "n_n", "lg_spike"}))
    assert split is not None and len(split.rounds) >= 2
    applied = [a for r in split.rounds for a in r.applied]
    assert sum(_count(a) for a in applied) == len(_calls(step)) == 24
    assert {a.function for a in applied} == {"exp", "inverse_exprel"}
    loops = [r.loop for r in split.rounds] + [split.last]
    assert not any(_calls(loop) for loop in loops)
    # each round stores the arguments its functions run over, and a kept local once
    for r in split.rounds:
        stored = [s.array for s in r.loop if isinstance(s, Store)]
        assert {a.array for a in r.applied} <= set(stored)
        assert len(stored) == len(set(stored) - {a.array for a in r.applied}) + sum(
            _count(a) for a in r.applied)
    # the last loop leaves what the schedule stores: the new states and the spike flag
    last = {s.name for s in split.last if isinstance(s, Let)}
    assert {"n_V", "n_m", "n_h", "n_n", "lg_spike"} <= last
    assert dict(split.arrays)["lg_round0_exp"] == _count(split.rounds[0].applied[0])


def _let(name, value):
    return Let(name, value)


def test_steps_without_calls_or_with_calls_in_branches_are_not_split():
    x = Name(sympy.Symbol("s_V"))
    read = Let("s_V", Element("lg_x_V", "lg_i"))
    assert call_rounds((read, _let("n_V", Op("*", x, x))), frozenset()) is None
    branch = If(Op(">", x, x), (Let("a", Call("exp", (x,))),))
    assert call_rounds((read, branch), frozenset()) is None
    power = _let("a", Call("pow", (x, x)))
    assert call_rounds((read, power, _let("b", Call("exp", (x,)))), frozenset()) is None


def test_a_call_of_a_call_takes_a_round_more_and_locals_are_kept_across_rounds():
    x = Name(sympy.Symbol("s_V"))
    step = (Let("s_V", Element("lg_x_V", "lg_i")), Comment("a = exp(V)"),
            Let("a", Op("*", Call("exp", (x,)), x)),
            Let("b", Call("log", (Name(sympy.Symbol("a")),))),
            Let("n_V", Op("+", Name(sympy.Symbol("a")), Name(sympy.Symbol("b"))), REAL, True))
    split = call_rounds(step, frozenset({"n_V"}))
    assert [[a.function for a in r.applied] for r in split.rounds] == [["exp"], ["log"]]
    assert ("lg_kept_a", 1) in split.arrays  # a, computed in round 1, read by the last
    assert any(isinstance(s, Let) and s.name == "a" and s.value == Element("lg_kept_a", "lg_i")
               for s in split.last)
    assert isinstance(split.rounds[1].loop[1], Comment)  # a comment moves with its statement


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_rounds_give_the_unsplit_steps_bits(dtype):
    """40 neurons: a full tile of 32 and a partial one, each in its own loops; the streamed
    schedule runs the step unsplit."""
    simulator = lifgen.compile("hodgkin_huxley", method="rk4", dtype=dtype)
    assert "lg_apply_exp(" in simulator.c_source
    current = np.random.default_rng(3).uniform(0.0, 30.0, 40)
    held = simulator.run(150, 40, inputs={"I": current}, record={"V": [1, 35]})
    streamed = simulator.run(150, 40, inputs={"I": np.tile(current, (150, 1))},
                             record={"V": [1, 35]})
    assert held.spike_count.sum() > 0
    for name in held.state:
        np.testing.assert_array_equal(held.state[name], streamed.state[name])
    np.testing.assert_array_equal(held.traces["V"], streamed.traces["V"])
