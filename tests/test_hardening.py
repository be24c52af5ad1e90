"""Issue 8's guards: model text is data, errors are LifgenErrors, builds survive concurrency,
kills and corruption, and numerical trouble is reported instead of passing silently."""

import ast
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import lifgen
from lifgen.codegen import build
from lifgen.cli import main
from lifgen.targets.cfamily.kernel import environment as _environment
from lifgen.errors import CompileError, InputError, LifgenError, ModelError, NumericalWarning

EXPORTED = '__attribute__((visibility("default"))) '  # an entry point of a hand-written kernel

PACKAGE = Path(lifgen.__file__).resolve().parent
HOSTILE = Path(__file__).parent / "hostile"
FORBIDDEN_CALLS = {"eval", "exec", "sympify", "parse_expr", "__import__"}


def test_no_eval_exec_sympify_or_parse_expr_in_the_package():
    found = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            name = (node.id if isinstance(node, ast.Name) else node.attr
                    if isinstance(node, ast.Attribute) else None)
            imported = ([a.name for a in node.names]
                        if isinstance(node, (ast.Import, ast.ImportFrom)) else [])
            if name in FORBIDDEN_CALLS or FORBIDDEN_CALLS & set(imported):
                found.append(f"{path.name}:{node.lineno}")
    assert found == []


def test_templates_fail_on_undefined_names():
    import jinja2

    assert _environment().undefined is jinja2.StrictUndefined


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "..", "leaky/../leaky",
                                  "models/leaky", "~/x"])
def test_model_names_cannot_escape_the_models_folder(name):
    with pytest.raises(ModelError, match="neither a library model name nor a path to a .toml"):
        lifgen.load_model(name)


@pytest.mark.parametrize("path", sorted(HOSTILE.glob("*_text_description_*.toml"))
                         + sorted(HOSTILE.glob("*_text_reference_*.toml")), ids=lambda p: p.stem)
def test_free_text_stays_inside_comments(path, tmp_path):
    """Descriptions that try to end a C comment or start a directive change nothing in the C,
    which still compiles strictly as C99 and C++."""
    simulator = lifgen.compile(path)
    lines = simulator.c_source.splitlines()
    assert [line for line in lines if line.startswith("#")] == [
        line for line in lifgen.compile("leaky").c_source.splitlines() if line.startswith("#")]
    assert not any("evil" in line and "*" not in line for line in lines)
    lifgen.emit(path, tmp_path, prefix="hostile")
    for command in (["cc", "-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror"],
                    ["g++", "-x", "c++", "-Wall", "-Werror"]):
        result = subprocess.run([*command, "-c", "hostile.c", "-o", "/dev/null"], cwd=tmp_path,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_error_classes():
    assert issubclass(ModelError, LifgenError) and issubclass(InputError, LifgenError)
    assert issubclass(CompileError, LifgenError) and lifgen.BuildError is CompileError


def test_cli_prints_one_line_and_the_details_with_debug(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CC", "/nonexistent/cc")
    monkeypatch.setenv("LIFGEN_CACHE_DIR", str(tmp_path))
    assert main(["simulate", "leaky", "--steps", "5", "--dtype", "float32"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no C compiler found" in err and "Traceback" not in err
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nname = 1\n")
    assert main(["show", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.toml" in err and "Traceback" not in err
    assert main(["--debug", "show", str(bad)]) == 2
    assert "Traceback" in capsys.readouterr().err


# -- the kernel cache --------------------------------------------------------------------------

UNIQUE_MODEL = textwrap.dedent("""
    [model]
    name = "cached"
    [parameters]
    tau = {{ value = {tau} }}
    [states]
    V = {{ initial = 0.0 }}
    [inputs]
    I = {{}}
    [equations]
    laws = ["dV/dt = (I - V)/tau"]
    [spike]
    condition = "V > 0.5"
    [reset]
    mechanism = "zero"
    timing = "same_step"
    zero = {{ V = "0" }}
    [simulation]
    method = "euler"
    dt = 0.1
""")
BUILDER = textwrap.dedent("""
    import json, sys, time, lifgen
    start = float(sys.argv[2])
    while time.time() < start:
        pass
    sim = lifgen.compile(sys.argv[1])
    result = sim.run(300, 3, inputs={"I": 1.0})
    print(json.dumps({"path": str(sim.kernel.path), "from_cache": sim.from_cache,
                      "spikes": result.spike_count.tolist(), "V": result.state["V"].tolist()}))
""")


def _model_file(folder, tau):
    path = folder / "cached.toml"
    path.write_text(UNIQUE_MODEL.format(tau=tau))
    return path


def _environment_for(cache):
    return dict(os.environ, LIFGEN_CACHE_DIR=str(cache))


def test_eight_processes_compile_one_new_model_at_once(tmp_path):
    model = _model_file(tmp_path, 10.0 + random.random())
    start = time.time() + 4.0
    processes = [subprocess.Popen([sys.executable, "-c", BUILDER, str(model), str(start)],
                                  env=_environment_for(tmp_path / "cache"), text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(8)]
    outputs = [p.communicate(timeout=600) for p in processes]
    assert [p.returncode for p in processes] == [0] * 8, [err for _, err in outputs]
    results = [json.loads(out) for out, _ in outputs]
    assert len({r["path"] for r in results}) == 1
    assert all(r["spikes"] == results[0]["spikes"] and r["V"] == results[0]["V"] for r in results)
    assert sum(not r["from_cache"] for r in results) == 1  # one compiled, seven loaded its build


def test_a_build_killed_at_any_moment_leaves_the_cache_usable(tmp_path):
    model = _model_file(tmp_path, 20.0 + random.random())
    reference = None
    for trial, delay in enumerate((0.3, 1.0, 1.8, 3.0)):  # imports, SymPy, gcc, publishing
        cache = tmp_path / f"cache{trial}"
        victim = subprocess.Popen([sys.executable, "-c", BUILDER, str(model), "0"],
                                  env=_environment_for(cache), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(delay)
        os.killpg(victim.pid, signal.SIGKILL)  # the compiler too, as a batch scheduler would
        victim.wait()
        after = subprocess.run([sys.executable, "-c", BUILDER, str(model), "0"], text=True,
                               env=_environment_for(cache), capture_output=True, timeout=600)
        assert after.returncode == 0, after.stderr
        result = json.loads(after.stdout)
        reference = reference or result
        assert result["spikes"] == reference["spikes"] and result["V"] == reference["V"]


def test_a_corrupted_cache_entry_is_detected_and_rebuilt(tmp_path):
    model = _model_file(tmp_path, 30.0 + random.random())
    environment = _environment_for(tmp_path / "cache")
    first = subprocess.run([sys.executable, "-c", BUILDER, str(model), "0"], env=environment,
                           capture_output=True, text=True, timeout=600)
    result = json.loads(first.stdout)
    module = Path(result["path"])
    data = bytearray(module.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: the module may still load, wrongly
    module.write_bytes(bytes(data))
    again = subprocess.run([sys.executable, "-c", BUILDER, str(model), "0"], env=environment,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    rebuilt = json.loads(again.stdout)
    assert rebuilt["from_cache"] is False and rebuilt["V"] == result["V"]
    assert module.with_suffix(".bad").exists()
    sources = list((tmp_path / "cache" / f"v{build.CACHE_SCHEMA}" / "sources").glob("*.json"))
    assert sources
    for stored in sources:
        stored.write_bytes(stored.read_bytes()[:-10])  # a truncated generated source
    third = subprocess.run([sys.executable, "-c", BUILDER, str(model), "0"], env=environment,
                           capture_output=True, text=True, timeout=600)
    assert third.returncode == 0 and json.loads(third.stdout)["V"] == result["V"], third.stderr


def test_an_unwritable_cache_falls_back_to_a_private_temporary_one(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LIFGEN_CACHE_DIR", str(blocker / "cache"))
    with pytest.warns(RuntimeWarning, match="cannot be used.*LIFGEN_CACHE_DIR"):
        kernel = build.build("static int lg_probe(void) { return 7; }\n"
                             + EXPORTED + "int lg_answer(void) { return lg_probe(); }",
                             "int lg_answer(void);")
    assert kernel.lib.lg_answer() == 7 and str(blocker) not in str(kernel.path)
    assert os.stat(kernel.path.parent).st_mode & 0o077 == 0


# -- numerical guards --------------------------------------------------------------------------

def test_nan_in_inputs_and_parameters_is_refused_unless_allowed():
    simulator = lifgen.compile("leaky")
    with pytest.raises(InputError, match=r"inputs\['I'\].*allow_nan=True"):
        simulator.run(5, 2, inputs={"I": [np.nan, 0.1]})
    with pytest.raises(InputError, match=r"params\['beta'\]"):
        simulator.run(5, 2, params={"beta": np.inf})
    result = simulator.run(5, 2, inputs={"I": [np.nan, 0.1]}, allow_nan=True)
    assert np.isnan(result.state["V"][0]) and np.isfinite(result.state["V"][1])


def test_a_state_that_becomes_nan_is_reported_with_its_first_step_and_neuron():
    simulator = lifgen.compile("hodgkin_huxley", method="euler", dt=0.2)
    current = np.zeros((400, 3))
    current[:, 1] = 10.0  # only neuron 1 is driven into the instability
    with pytest.warns(NumericalWarning, match=r"first at step \d+ in neuron 1"):
        result = simulator.run(400, 3, inputs={"I": current})
    step, neuron, state, value = result.first_nonfinite
    assert neuron == 1 and not np.isfinite(value)
    traced = simulator.run(400, 3, inputs={"I": current}, record={state: [1]}, allow_nan=True)
    trace = traced.traces[state][:, 0]
    assert np.all(np.isfinite(trace[:step])) and not np.isfinite(trace[step])


def test_forward_euler_beyond_its_stability_limit_is_warned_at_compile_time():
    with pytest.warns(NumericalWarning, match="euler is unstable at dt = 45.*exact"):
        lifgen.compile("lif_cuba", method="euler", dt=45.0)  # tau_e = 5 ms: the limit is 10 ms
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)
        lifgen.compile("lif_cuba", method="euler", dt=0.1)
        lifgen.compile("lif_cuba", method="rk4", dt=12.0)  # inside rk4's larger region


def test_a_run_checks_stability_again_with_its_own_parameters():
    with pytest.warns(NumericalWarning, match="with the default parameters"):
        simulator = lifgen.compile("lapicque", dt=1)  # snnTorch tutorial's R and C: unstable
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)
        simulator.run(5, initial={"V": 0.5}, params={"beta": 0.9})  # tau = 9.5: stable
        simulator.run(5, 3, initial={"V": 0.5}, params={"beta": [0.9, 0.8, 0.95]})
    with pytest.warns(NumericalWarning, match=r"with this run's parameters \(R = 0\.001\)"):
        simulator.run(5, initial={"V": 0.5}, params={"R": 0.001})
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)
        simulator.run(5, initial={"V": 0.5}, params={"R": 0.001}, allow_nan=True)  # warned once


def test_time_is_an_integer_step_count():
    for model in ("lapicque", "hodgkin_huxley", "lif_cuba"):
        source = lifgen.compile(model).c_source
        assert "+= lg_dt" not in source and "lg_t +=" not in source
        assert "int64_t lg_step" in source


def test_flush_denormals_zeroes_them_in_the_kernel_only():
    plain = lifgen.compile("leaky", dtype="float32")
    flushed = lifgen.compile("leaky", dtype="float32", flush_denormals=True)
    arguments = dict(inputs={"I": 0.0}, params={"beta": 0.9}, initial={"V": 0.9}, spikes="count")
    assert 0 < plain.run(1000, 4, **arguments).state["V"][0] < np.finfo(np.float32).tiny
    assert flushed.run(1000, 4, **arguments).state["V"][0] == 0
    tiny = np.float64(np.finfo(np.float64).tiny)
    assert tiny / np.float64(4.0) > 0  # the caller's floating-point mode is restored
    assert "denormals flushed to zero" in flushed.c_source
