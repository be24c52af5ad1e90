"""Exact propagators of coupled linear systems (issue 13): computed numerically once per neuron
(scaling and squaring) where a closed form is slow or singular, and checked against a 40-digit
reference (mpmath's expm of the augmented matrix, written out by hand here for each model)."""

import contextlib
import subprocess
import sys

import mpmath
import numpy as np
import pytest

import lifgen
from lifgen.frontend.modelfile import model_from_document

NEVER = 1e9  # a threshold no trajectory reaches: the tests follow the linear dynamics alone


def document(name, parameters, states, laws, inputs=("I",)):
    return model_from_document({
        "model": {"name": name}, "parameters": {**parameters, "theta": NEVER},
        "states": states, "inputs": {u: {} for u in inputs}, "equations": {"laws": laws},
        "spike": {"condition": f"{next(iter(states))} > theta"}, "reset": {"mechanism": "none"},
        "simulation": {"dt": 0.1, "method": "exact"}}, f"{name}.toml")


def adaptive_lif(tau_m=20.0, tau_w=100.0, a=0.002):
    """The issue's adaptive LIF (mV, ms, nA, Mohm, uS): two coupled linear states."""
    p = dict(tau_m=tau_m, tau_w=tau_w, E_L=-70.0, R=100.0, a=a)
    model = document("adlif", p, {"V": -70.0, "w": 0.0},
                     ["tau_m*dV/dt = E_L - V + R*(I - w)", "tau_w*dw/dt = a*(V - E_L) - w"])
    A = [[-1 / p["tau_m"], -p["R"] / p["tau_m"]], [p["a"] / p["tau_w"], -1 / p["tau_w"]]]
    return model, A, [[p["R"] / p["tau_m"]], [0]], [p["E_L"] / p["tau_m"],
                                                    -p["a"] * p["E_L"] / p["tau_w"]]


def alpha_synapse(tau_m=10.0, tau_syn=10.0):
    """NEST's iaf_psc_alpha: V driven by an alpha-shaped current (a second-order pole)."""
    p = dict(tau_m=tau_m, tau_syn=tau_syn, C_m=250.0, E_L=-70.0)
    model = document("alpha", p, {"V": -70.0, "I_syn": 0.0, "y": 1000.0 * np.e / tau_syn},
                     ["dV/dt = -(V - E_L)/tau_m + (I_syn + I)/C_m", "dI_syn/dt = y - I_syn/tau_syn",
                      "dy/dt = -y/tau_syn"])
    A = [[-1 / tau_m, 1 / p["C_m"], 0], [0, -1 / tau_syn, 1], [0, 0, -1 / tau_syn]]
    return model, A, [[1 / p["C_m"]], [0], [0]], [p["E_L"] / tau_m, 0, 0]


def resonator():
    """Complex eigenvalues: V and w rotate as they decay (a resonate-and-fire neuron)."""
    p = dict(tau=10.0, tau_w=50.0, k=20.0)
    model = document("resonator", p, {"V": 1.0, "w": 0.0},
                     ["dV/dt = (I - V - k*w)/tau", "dw/dt = (V - w)/tau_w"])
    A = [[-1 / p["tau"], -p["k"] / p["tau"]], [1 / p["tau_w"], -1 / p["tau_w"]]]
    return model, A, [[1 / p["tau"]], [0]], [0, 0]


def integrator():
    """A zero eigenvalue fed forward: V integrates a decaying current."""
    p = dict(C=2.0, tau=5.0)
    model = document("integrator", p, {"V": 0.0, "I_s": 1.0},
                     ["dV/dt = I_s/C", "dI_s/dt = (I - I_s)/tau"])
    return model, [[0, 1 / p["C"]], [0, -1 / p["tau"]]], [[0], [1 / p["tau"]]], [0, 0]


def reference(A, B, c, x0, u, steps, dt=0.1):
    """The trajectory at 40 digits: x <- exp(M dt) [x; u; 1] with M the augmented matrix."""
    mpmath.mp.dps = 40
    n, m = len(A), len(B[0])
    size = n + m + 1
    M = mpmath.zeros(size, size)
    for i in range(n):
        for j in range(n):
            M[i, j] = mpmath.mpf(A[i][j])
        for j in range(m):
            M[i, n + j] = mpmath.mpf(B[i][j])
        M[i, size - 1] = mpmath.mpf(c[i])
    P = mpmath.expm(M * mpmath.mpf(dt))
    x = mpmath.matrix([*map(mpmath.mpf, x0), *map(mpmath.mpf, u), 1])
    out = []
    for _ in range(steps):
        x = P * x
        out.append([float(x[i]) for i in range(n)])
    return np.array(out)


def double_exponential(tau_r=2.0, tau_d=10.0, tau_m=10.0):
    """ODE-toolbox's double-exponential synapse (rise tau_r, decay tau_d) into a membrane;
    critically damped when tau_r = tau_d."""
    p = dict(tau_m=tau_m, tau_r=tau_r, tau_d=tau_d, C=250.0, E_L=-70.0)
    model = document("double_exponential", p, {"V": -70.0, "g": 0.0, "h": 50.0},
                     ["dV/dt = -(V - E_L)/tau_m + (g + I)/C", "dg/dt = h - g/tau_d",
                      "dh/dt = -h/tau_r"])
    A = [[-1 / tau_m, 1 / p["C"], 0], [0, -1 / tau_d, 1], [0, 0, -1 / tau_r]]
    return model, A, [[1 / p["C"]], [0], [0]], [p["E_L"] / tau_m, 0, 0]


def integrator_driving():
    """A zero eigenvalue driving a leak: V integrates the input and drives X."""
    p = dict(C=2.0, tau=5.0)
    model = document("integrator_driving", p, {"X": 0.0, "V": 0.5},
                     ["dV/dt = I/C", "dX/dt = -X/tau + V"])
    return model, [[-1 / p["tau"], 1], [0, 0]], [[0], [1 / p["C"]]], [0, 0]


def ring(n=15):
    """n coupled states in a ring (a cable of compartments closed on itself): an augmented matrix
    larger than 16 by 16, where lg_expm's work matrices once overran the stack (a crash)."""
    p = {f"tau{i}": 5.0 + i for i in range(n)}
    laws = [f"tau{i}*dx{i}/dt = -x{i} + x{(i - 1) % n}{' + I' if i == 0 else ''}" for i in range(n)]
    model = document("ring", p, {f"x{i}": 0.0 for i in range(n)}, laws)
    A = [[(-1.0 if j == i else 1.0 if j == (i - 1) % n else 0.0) / p[f"tau{i}"] for j in range(n)]
         for i in range(n)]
    return model, A, [[1 / p["tau0"] if i == 0 else 0] for i in range(n)], [0] * n


CASES = {
    "a ring of 15 coupled states (augmented 17 by 17)": (ring, {"I": 1.0}),
    "adaptive LIF": (adaptive_lif, {"I": 0.25}),
    "adaptive LIF, tau_m = tau_w": (lambda: adaptive_lif(tau_w=20.0), {"I": 0.25}),
    "alpha, tau_syn = tau_m": (lambda: alpha_synapse(10.0, 10.0), {"I": 100.0}),
    "alpha, tau_syn = tau_m + 1e-9": (lambda: alpha_synapse(10.0, 10.0 + 1e-9), {"I": 100.0}),
    "alpha, tau_syn = tau_m (1 + 1e-6)": (lambda: alpha_synapse(10.0, 10.0 * (1 + 1e-6)),
                                          {"I": 100.0}),
    "alpha, tau_syn = tau_m - 1e-4": (lambda: alpha_synapse(10.0, 10.0 - 1e-4), {"I": 100.0}),
    "alpha, tau_syn = 2 ms": (lambda: alpha_synapse(10.0, 2.0), {"I": 100.0}),
    "resonator (complex eigenvalues)": (resonator, {"I": 0.5}),
    "double exponential": (double_exponential, {"I": 50.0}),
    "critically damped, tau_r = tau_d = tau_m": (lambda: double_exponential(10.0, 10.0, 10.0),
                                                 {"I": 50.0}),
    "integrator fed forward (zero eigenvalue)": (integrator, {"I": 3.0}),
    "an integrator driving a leak": (integrator_driving, {"I": 1.0}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_exact_matches_a_40_digit_reference(case):
    build, inputs = CASES[case]
    model, A, B, c = build()
    simulator = lifgen.compile(model)
    assert simulator.method == "exact"
    names = [s.name for s in model.states]
    result = simulator.run(400, 1, inputs=inputs, record=names)
    got = np.stack([result.traces[name][:, 0] for name in names], axis=1)
    expected = reference(A, B, c, [s.value for s in model.states], list(inputs.values()), 400)
    assert np.all(np.isfinite(got))
    scale = np.abs(expected).max(axis=0)  # each state against its own size
    assert np.max(np.abs(got - expected) / scale) < 1e-12, case


def test_method_auto_picks_exact_for_a_coupled_linear_system_and_compiles_fast():
    model, *_ = adaptive_lif()
    code = ("import sys, time, pickle, lifgen; model = pickle.load(open(sys.argv[1], 'rb')); "
            "t = time.perf_counter(); s = lifgen.compile(model, method='auto'); "
            "print(s.method, time.perf_counter() - t)")
    import pickle
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pickle", delete=False) as handle:
        pickle.dump(model, handle)
    answer = subprocess.run([sys.executable, "-c", code, handle.name], capture_output=True,
                            text=True, timeout=120)
    method, seconds = answer.stdout.split()
    assert method == "exact", answer.stderr  # seconds are reported by benchmarks, not asserted


def test_float32_uses_the_same_double_precision_propagator():
    model, A, B, c = alpha_synapse(10.0, 10.0)
    result = lifgen.compile(model, dtype="float32").run(200, 1, inputs={"I": 100.0},
                                                         record=["V"])
    expected = reference(A, B, c, [s.value for s in model.states], [100.0], 200)[:, 0]
    np.testing.assert_allclose(result.traces["V"][:, 0], expected, rtol=1e-5)


def test_show_never_hangs_on_a_closed_form(tmp_path):
    model, *_ = adaptive_lif()
    import pickle

    (tmp_path / "m.pickle").write_bytes(pickle.dumps(model))
    code = ("import os, sys, pickle; os.environ['LIFGEN_SYMPY_BUDGET'] = '1'; "
            "import lifgen.cli as cli, lifgen.frontend.library as library; "
            "import lifgen.codegen.compiler as compiler; "
            "model = pickle.load(open(sys.argv[1], 'rb')); "
            "library.load_model = compiler.load_model = lambda *a, **k: model; "
            "library.read_once = compiler.read_once = lambda *a, **k: model; "
            "sys.exit(cli.main(['show', 'adlif', '--no-c']))")
    answer = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m.pickle")],
                            capture_output=True, text=True, timeout=120)
    assert answer.returncode == 0, answer.stderr
    assert "no closed form shown" in answer.stdout and "Generated C" not in answer.stdout
    assert "V <- " in answer.stdout


def psc_model(shape):
    """NEST's iaf_psc_exp or iaf_psc_alpha (pA, pF, ms, mV): input spikes kick a synaptic
    current (exponential) or its derivative (alpha), which drives V."""
    base = {"model": {"name": f"iaf_psc_{shape}"},
            "parameters": {"tau_m": 10.0, "tau_syn": 10.0, "C_m": 250.0, "E_L": -70.0,
                           "theta": NEVER},
            "reset": {"mechanism": "none"}, "simulation": {"method": "exact", "dt": 0.1}}
    if shape == "exp":
        return model_from_document({
            **base, "states": {"V": -70.0, "I_syn": 0.0}, "synapses": {"kick": {"target": "I_syn"}},
            "equations": {"laws": ["dV/dt = -(V - E_L)/tau_m + I_syn/C_m",
                                   "dI_syn/dt = -I_syn/tau_syn"]},
            "spike": {"condition": "V > theta"}}, "iaf_psc_exp.toml")
    return model_from_document({
        **base, "states": {"V": -70.0, "I_syn": 0.0, "y": 0.0}, "synapses": {"kick": {"target": "y"}},
        "equations": {"laws": ["dV/dt = -(V - E_L)/tau_m + I_syn/C_m",
                               "dI_syn/dt = y - I_syn/tau_syn", "dy/dt = -y/tau_syn"]},
        "spike": {"condition": "V > theta"}}, "iaf_psc_alpha.toml")


@pytest.mark.parametrize("shape", ["exp", "alpha"])
@pytest.mark.parametrize("h", [0.001, 0.1])
@pytest.mark.parametrize("tau_m", [1.0, 10.0, 100.0])
def test_the_membrane_stays_smooth_at_and_near_equal_time_constants(shape, h, tau_m):
    """NEST's singularity check, written for lifgen: spikes of +1000 pA and -1000 pA (at 2 and
    3 ms) into neurons whose tau_syn is tau_m + delta, delta in +-logspace(-10, -1) and 0. V must
    stay finite and move smoothly: no step changes it by 3*h times its whole range or more."""
    delta = np.hstack((-np.logspace(-10, -1, 5), [0.0], np.logspace(-10, -1, 5)))
    tau_syn = tau_m + delta
    n, steps = delta.size, int(round(10 * tau_m / h))
    # a PSC of 1000 pA peak: the current itself jumps by w (exp), its derivative by w*e/tau (alpha)
    kick = 1000.0 * (np.e / tau_syn if shape == "alpha" else np.ones(n))
    train = lifgen.SpikeTrain(2, [int(round(2 / h)) - 1, int(round(3 / h)) - 1], [0, 1])
    weights = np.stack([kick, -kick], axis=1)  # (neuron, source)
    simulator = lifgen.compile(psc_model(shape), dt=h)
    result = simulator.run(steps, n, params={"tau_m": tau_m, "tau_syn": tau_syn},
                           drives={"kick": (train, weights)}, record=["V"], spikes="count")
    V = result.traces["V"]
    assert np.all(np.isfinite(V))
    span = V.max() - V.min()
    assert span > 1  # the kicks moved V enough to test
    assert np.all(np.abs(np.diff(V, axis=0)).max(axis=0) < 3 * span * h)


def shape_documents():
    """The model shapes of benchmarks/compile_times.py (loaded from its file: the benchmarks are
    not an installed package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "compile_times.py"
    spec = importlib.util.spec_from_file_location("lifgen_compile_times", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SHAPES


SHAPES = ["linear, 3 coupled states, real eigenvalues", "linear, 4 coupled states, one time constant",
          "linear, 3 states, a complex pair", "feed-forward chain of 4", "nonlinear, 3 states"]


@pytest.mark.parametrize("shape", SHAPES)
def test_every_model_shape_compiles_and_runs_finite(shape):
    model = model_from_document(shape_documents()[shape], "shape.toml")
    simulator = lifgen.compile(model, method="auto")
    assert simulator.method == ("rk4" if shape.startswith("nonlinear") else "exact")
    result = simulator.run(500, 3, inputs={"I": [0.0, 0.5, 1.0]},
                           record=[model.states[0].name])
    assert np.all(np.isfinite(result.traces[model.states[0].name]))


def test_the_numeric_propagator_agrees_with_the_closed_form_where_both_exist():
    """lif_cuba's feed-forward closed form (exprel) against its matrix exponential."""
    import sympy

    from lifgen.numerics.linear import exact_step, linear_coefficients, numeric_step
    from lifgen.ir.symbols import DT

    model = lifgen.load_model("lif_cuba")
    states, variables = model.state_symbols, model.state_symbols + model.input_symbols
    rows = []
    for _, rhs in model.odes:
        coefficients, remainder = linear_coefficients(rhs, variables)
        rows.append([coefficients[v] for v in variables] + [remainder])
    values = {**{sympy.Symbol(k): v for k, v in model.defaults.items()},
              DT: 0.1, sympy.Symbol("tau_e"): 5.0 * (1 + 1e-9)}
    point = {**values, **{v: 0.3 * (k + 1) for k, v in enumerate(variables)}}
    closed = dict(exact_step(model))
    for state, numeric in numeric_step(states, variables, rows):
        exact = float(closed[state].xreplace(point).evalf(30))
        assert float(numeric.xreplace(point).evalf(30)) == pytest.approx(exact, rel=1e-14)


def test_a_time_budget_gives_up_returns_or_raises_what_the_work_did():
    import time

    from lifgen.frontend.budget import OverBudget, within

    assert within(5, lambda x: x + 1, 41) == 42
    with pytest.raises(ZeroDivisionError):
        within(5, lambda: 1 / 0)
    started = time.perf_counter()
    with pytest.raises(OverBudget, match="longer than 0.2 s"):
        within(0.2, time.sleep, 3)
    assert time.perf_counter() - started < 2


def test_work_over_its_budget_is_stopped_instead_of_running_on():
    """An abandoned simplify ran on for minutes on its thread and slowed everything after it
    (a test after one such refusal took 17 s instead of 0.6 s)."""
    import threading

    from lifgen.frontend.budget import OverBudget, within

    workers = []

    def spin():
        workers.append(threading.current_thread())
        while True:
            sum(range(1000))
    with pytest.raises(OverBudget):
        within(0.2, spin)
    workers[0].join(5)
    assert not workers[0].is_alive()


def test_an_emitted_library_with_a_numeric_propagator_compiles_strictly(tmp_path):
    import shutil

    model, *_ = alpha_synapse(10.0, 10.0)
    lifgen.emit(model, tmp_path, dtype="float32")
    strict = ["cc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-c",
              "alpha.c", "-o", "/dev/null"]
    answer = subprocess.run(strict, cwd=tmp_path, capture_output=True, text=True)
    assert answer.returncode == 0, answer.stderr
    if shutil.which("g++"):
        answer = subprocess.run(["g++", "-x", "c++", "-Wall", "-Werror", "-c", "alpha.c", "-o",
                                 "/dev/null"], cwd=tmp_path, capture_output=True, text=True)
        assert answer.returncode == 0, answer.stderr


@pytest.mark.parametrize("tau_m", [10.0, 1e6, 1e12, 1e15])
@pytest.mark.parametrize("shape", ["exponential", "alpha"])
def test_the_exact_step_stays_accurate_as_dt_over_tau_goes_to_zero(shape, tau_m):
    """iaf_psc_exp and iaf_psc_alpha shapes with membrane time constants up to 1e15 ms: 100
    exact steps against the matrix exponential in 50 digits, to 2e-14 relative (forms with
    exprel and expm1 lose nothing where 1 - exp(-dt/tau) would cancel)."""
    mpmath.mp.dps = 50
    laws = ["C*dV/dt = -V*C/tau_m + I_s", "dI_s/dt = x - I_s/tau_s", "dx/dt = -x/tau_s"]
    states = {"V": 0.0, "I_s": 0.0, "x": 0.0}
    if shape == "exponential":
        laws, states = [laws[0], "dI_s/dt = -I_s/tau_s"], {"V": 0.0, "I_s": 0.0}
    model = model_from_document({
        "model": {"name": f"psc_{shape}"},
        "parameters": {"tau_m": tau_m, "tau_s": 2.0, "C": 250.0, "theta": 1e30},
        "states": states, "equations": {"laws": laws}, "spike": {"condition": "V > theta"},
        "reset": {"mechanism": "none"}, "simulation": {"dt": 0.1, "method": "exact"}},
        f"psc_{shape}.toml")
    kick = {"I_s": 100.0} if shape == "exponential" else {"x": 100.0}
    got = lifgen.compile(model).run(100, initial={**states, **kick}, record=["V"]).state["V"][0]
    tm, ts = mpmath.mpf(tau_m), mpmath.mpf(2)
    rows = [[-1 / tm, mpmath.mpf(1) / 250, 0], [0, -1 / ts, 1], [0, 0, -1 / ts]]
    start = [0, 100, 0] if shape == "exponential" else [0, 0, 100]
    if shape == "exponential":
        rows = [row[:2] for row in rows[:2]]
        start = start[:2]
    exact = (mpmath.expm(mpmath.matrix(rows) * 10) * mpmath.matrix(start))[0]
    assert abs(got - exact) / abs(exact) < 2e-14


def test_the_c_holds_the_augmented_matrix_once_and_names_its_entries():
    """Each entry's IR call carries the whole matrix; the C shows it once (a 24-state chain wrote
    1.6 MB of comments) and each constant as P0[i, j]."""
    model, *_ = ring(6)
    source = lifgen.compile(model).source()
    assert "propagator(" not in source
    assert source.count("/* k0 = P0[") == 1 and source.count("P0, the exact propagator") == 1
    assert source.count("-(1.0/p_tau3)") == 1  # the matrix's entry, in its block alone
    network = lifgen.Network(dt=0.1)
    network.add("r", model, 3)
    program = network.compile().source()  # a network program's comments and buffer list too
    assert "propagator(" not in program and "k0 = P0[" in program


def test_a_chain_s_step_reads_only_the_states_that_reach_it():
    """exp(M h) is zero where no path of M links two states: x0 <- x1 <- x2 never reads x2 into
    x0 (half a chain's propagator entries, in the step and in SymPy's work)."""
    from lifgen.ir.written import symbols

    p = {"tau0": 5.0, "tau1": 6.0, "tau2": 7.0}
    model = document("chain", p, {"x0": 0.0, "x1": 0.0, "x2": 0.0},
                     ["tau0*dx0/dt = -x0 + I", "tau1*dx1/dt = -x1 + x0", "tau2*dx2/dt = -x2 + x1"])
    step_map = lifgen.compile(model).step_map
    assert step_map.method == "exact"
    reads = {str(s): {str(v) for v in symbols(tree)} & {"x0", "x1", "x2", "I"}
             for s, tree in step_map.updates}
    assert reads == {"x0": {"x0", "I"}, "x1": {"x0", "x1", "I"}, "x2": {"x0", "x1", "x2", "I"}}


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_stop_never_reaches_another_thread():
    """Work that ends just after its budget while the caller starts new threads at once (a
    fallback's work): a stop aimed by thread id once landed in the next thread, which got the
    finished one's id, raising there or hanging its start. Stressed with a short switch interval;
    every thread's uncaught exception is collected."""
    import random
    import sys
    import threading
    import time

    from lifgen.frontend.budget import OverBudget, Stopped, within

    def busy_until(deadline):
        while time.perf_counter() < deadline:
            pass
        return 1

    uncaught, misdirected = [], 0
    previous_hook, previous_interval = threading.excepthook, sys.getswitchinterval()
    threading.excepthook = uncaught.append
    sys.setswitchinterval(1e-5)
    try:
        for _ in range(400):
            with contextlib.suppress(OverBudget):
                within(0.005, busy_until, time.perf_counter() + 0.005 + random.uniform(0, 0.0015))
            for _ in range(3):
                try:
                    assert within(1.0, sum, range(20000)) == sum(range(20000))
                except Stopped:
                    misdirected += 1
        time.sleep(0.2)
    finally:
        threading.excepthook, _ = previous_hook, sys.setswitchinterval(previous_interval)
    assert misdirected == 0 and not uncaught
