"""The statement IR, the kernel ABI and the target seam (issue 10)."""

import re
import string

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lifgen
from lifgen.codegen.abi import FIXED, ROLES, kernel_abi
from lifgen.numerics.discretize import discretize
from lifgen.errors import InputError
from lifgen.frontend.library import load_model
from lifgen.codegen.lower import StepOptions, lower
from lifgen.ir.statements import Assign, Element, If, Let, Loop, Select, identifiers
from lifgen.codegen.naming import local_prefixes

BETA_AND_BETA_STRIDE = """
[parameters]
beta = { value = 0.9 }
beta_stride = { value = 0.1 }
threshold = { value = 1.0 }
[states]
V = { initial = 0.0 }
[inputs]
I = {}
[equations]
update = { V = "beta*V + beta_stride*I" }
[spike]
condition = "V > threshold"
[reset]
mechanism = "subtract"
"""


def _prefix_free(prefixes):
    prefixes = sorted(set(prefixes))
    return all(not b.startswith(a) for a, b in zip(prefixes, prefixes[1:]))


def test_names_that_used_to_collide_in_c_compile_and_run(model_file):
    sim = lifgen.compile(model_file(BETA_AND_BETA_STRIDE, "beta.toml"))
    current = np.linspace(0.0, 3.0, 5)
    result = sim.run(30, 5, inputs={"I": current}, record="V", params={"beta_stride": 0.2})
    v, trace = np.zeros(5), []
    for _ in range(30):  # the same map in NumPy: reset by subtraction on the next step
        reset = v > 1.0
        v = 0.9 * v + 0.2 * current - np.where(reset, 1.0, 0.0)
        trace.append(v)
    np.testing.assert_allclose(result.traces["V"], np.array(trace), rtol=1e-12, atol=1e-12)


def test_role_prefixes_form_a_prefix_free_code():
    fields = [prefix for prefix, *_ in ROLES.values()]
    assert _prefix_free(fields)
    assert not any(fixed.startswith(p) for fixed in FIXED for p in fields)
    locals_ = list(local_prefixes().values())
    assert _prefix_free(locals_), "two kinds of kernel identifiers could collide"


IDENTIFIER = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(IDENTIFIER, min_size=1, max_size=12, unique=True), st.data())
def test_abi_field_names_are_injective(names, data):
    split = sorted(data.draw(st.lists(st.integers(0, len(names)), min_size=2, max_size=2)))
    states, parameters, inputs = (names[:split[0]], names[split[0]:split[1]], names[split[1]:])
    abi = kernel_abi(states, parameters, inputs)
    assert len(set(abi.names())) == len(abi.names())


def test_the_generated_c_declares_each_identifier_once():
    sim = lifgen.compile("lif_cuba")
    source = sim.source(10, 4, connections={"exc": np.eye(4)})
    declared = re.findall(r"^\s*(?:const )?(?:lg_real|int64_t|uint64_t|int) \*?(?:restrict )?"
                          r"(\w+) =", source, re.M)
    scopes = source.split("for (int64_t lg_i = 0")
    for scope in scopes[1:]:
        body = scope.split("\n            }\n")[0]
        names = re.findall(r"const (?:lg_real|int) (\w+) =", body)
        assert len(names) == len(set(names))
    assert declared


def _step(name, **options):
    model = load_model(name)
    step_map = discretize(model, **{k: v for k, v in options.items() if k in
                                    ("method", "reset", "reset_timing", "reset_delay",
                                     "precise")})
    step_options = StepOptions(**{k: v for k, v in options.items() if k in
                                  ("inhibition", "levels", "shared")})
    return lower(step_map, step_options)


def _lets(statements):
    return {s.name: s for s in statements if isinstance(s, Let)}


def test_lowering_decides_the_reset_before_the_update_for_next_step_timing():
    step = _step("leaky", shared=frozenset({"beta", "threshold"}))
    lets = _lets(step.step)
    names = [s.name for s in step.step if isinstance(s, (Let, Assign))]
    assert names.index("r_V") < names.index("n_V")  # decided before the update ...
    assert isinstance(lets["r_V"].value, Select)  # ... as a masked amount ...
    assert "s_V" in identifiers(lets["r_V"].value.condition)  # ... on the state before the step
    assert "lg_reset" not in lets  # the flag is not declared where nothing reads it
    zero_reset = _lets(_step("leaky", reset="zero").step)
    assert "s_V" in identifiers(zero_reset["lg_reset"].value)
    assert any(isinstance(s, Assign) and s.name == "n_V" for s in step.step)
    assert "p_threshold" in identifiers(step.step)  # a shared parameter is a plain value


def test_lowering_same_step_timing_tests_the_new_state():
    step = _step("leaky", reset_timing="same_step")
    lets = _lets(step.step)
    assert "n_V" in identifiers(lets["lg_reset"].value)
    assert lets["lg_spike"].value.symbol.name == "lg_reset"


def test_lowering_only_loads_what_the_step_reads():
    step = _step("leaky", shared=frozenset({"beta", "threshold"}))
    loads = [s for s in step.step if isinstance(s, Let) and isinstance(s.value, Element)]
    assert {s.name for s in loads} == {"s_V", "u_I"}  # no per-neuron parameter arrays


def test_lowering_refractory_blocks_and_counts():
    step = _step("lif_cuba")
    lets = _lets(step.step)
    assert "lg_refractory" in lets and "n_refractory_steps" in lets
    assert "lg_refractory" in identifiers(lets["lg_reset"].value)  # no spike while refractory


def test_lowering_precise_mode_searches_the_crossing():
    step = _step("lapicque", method="exact", precise=True, reset_timing="same_step")
    search = [s for s in step.step if isinstance(s, If)]
    assert search and any(isinstance(s, Loop) for s in search[0].then)
    assert _lets(step.step)["lg_spike"].value.left.symbol.name == "lg_offset"


def test_lowering_quantisation_inhibition_and_undelayed_reset():
    step = _step("leaky", levels=(0.0, 1.0), inhibition=True, reset_delay=False)
    assert "quantize" in step.calls()
    assert step.margin is not None
    assert any(isinstance(s, Assign) and s.name == "n_V" for s in step.after_spike)


def test_kernels_define_only_the_helpers_they_call():
    leaky = lifgen.compile("leaky").c_source
    for helper in ("lg_uniform", "lg_normal", "lg_exprel", "lg_quantize", "lg_flush_begin",
                   "LG_BLOCK", "LG_WEIGHT_", "(void)"):
        assert helper not in leaky, helper
    assert "dt = None" not in leaky and "a discrete map" in leaky
    synaptic = lifgen.compile("synaptic", state_quant=[0.0, 1.0]).c_source
    assert "lg_quantize" in synaptic
    cuba = lifgen.compile("lif_cuba")
    coupled = cuba.source(5, 3, connections={"exc": lifgen.Sparse.from_arrays([0], [1], [1.0],
                                                                          n_pre=3, n_post=3)})
    # a coupled run is a one-population network: its weight layout is fixed in the program
    assert "LG_WEIGHT_" not in coupled and "(sparse, a delay per synapse)" not in coupled
    assert "lif_cuba -> lif_cuba.exc: sparse, a delay per synapse" in coupled
    assert "lg_uniform" not in coupled and "lg_any8" not in coupled  # no drive; 3 neurons: one pass


def test_lowering_writes_one_over_exprel_as_one_call():
    """Hodgkin-Huxley's alpha_m = 1/exprel(x): x/expm1(x), one division, not two."""
    step = _step("hodgkin_huxley", method="rk4")
    assert "inverse_exprel" in step.calls() and "exprel" not in step.calls()
    source = lifgen.compile("hodgkin_huxley", method="rk4").c_source
    assert "lg_inverse_exprel(" in source and "/lg_exprel(" not in source


def test_integer_powers_are_multiplications():
    source = lifgen.compile("hodgkin_huxley").c_source
    assert "pow(" not in source


def test_source_shows_the_kernel_a_run_executes():
    sim = lifgen.compile("leaky")
    assert "Loop order: tiles" in sim.source(10, 4, inputs={"I": 0.5})
    streamed = sim.source(10, 4, inputs={"I": np.ones((10, 4))})
    assert "Loop order: chunks of steps" in streamed
    assert sim.source(10, 4, inputs={"I": np.ones((10, 4))}) in [
        source.c_source for source, _ in sim._variants.values()]


def test_compile_takes_a_target_and_refuses_an_unknown_one():
    assert lifgen.compile("leaky", target="c").target.name == "c"
    with pytest.raises(InputError, match="target must be one of"):
        lifgen.compile("leaky", target="tpu")


def test_model_options_and_schedule_are_separate():
    sim = lifgen.compile("leaky", threads=2, graded_spikes=2.0)
    assert sim.semantics.graded_spikes == 2.0 and sim.schedule.threads == 2
    assert not hasattr(sim.semantics, "threads") and not hasattr(sim.schedule, "graded_spikes")


def test_identifiers_in_a_body_are_c_identifiers():
    step = _step("hodgkin_huxley")
    allowed = set(string.ascii_letters + string.digits + "_")
    assert all(set(name) <= allowed for name in identifiers(step.step))


def test_emit_members_form_a_prefix_free_code():
    from lifgen.codegen.naming import MEMBER_PREFIXES

    assert _prefix_free(MEMBER_PREFIXES.values())


@given(st.lists(st.tuples(st.sampled_from(sorted(local_prefixes())),
                          st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True)),
                min_size=2, max_size=2, unique=True))
@settings(max_examples=300, deadline=None)
def test_two_model_names_never_give_one_kernel_identifier(pair):
    """Property: over every prefix table of codegen/naming.py, (kind, name) -> identifier is
    injective for names a model may use."""
    from lifgen.errors import ModelError
    from lifgen.ir.names import check_name

    prefixes = local_prefixes()
    try:
        for _, name in pair:
            check_name(name)
    except ModelError:
        return  # a name no model may have
    (kind_a, a), (kind_b, b) = pair
    assert prefixes[kind_a] + a != prefixes[kind_b] + b
