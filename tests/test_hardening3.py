"""Issue 23, the third hardening pass (begun): API edge cases (item 13) end in a lifgen error
that says what is wrong, never a raw exception or an argument read as something else."""

import shutil
import subprocess

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


# -- item 1: model text reaching the emitted files ---------------------------------------------

# A comment closer, a Python and a Makefile comment, a newline, a line splice, a trigraph line
# splice, a NUL and an .init_array hook: what a model file's free text may hold.
HOSTILE_TEXT = ('x */ # \n \\\n ??/\n \x00 $(shell touch CANARY) ${X} */ __attribute__((section('
                '".init_array"))) void *lg_hook = 0; /* \\')


def _hostile_model_file(path, unit_text="ms"):
    """A model file whose every free-text field (descriptions, reference, units as far as they
    parse) holds HOSTILE_TEXT."""
    import json

    text = json.dumps(HOSTILE_TEXT)  # a TOML basic string: JSON's escapes are TOML's
    path.write_text(
        f'[model]\nname = "hostile"\ndescription = {text}\nreference = {text}\n'
        f'[parameters]\ntau = {{ value = 10.0, unit = "( ms )", description = {text} }}\n'
        f'theta = {{ value = "1.0 mV", unit = "mV", description = {text} }}\n'
        f'[states]\nV = {{ initial = 0.0, unit = "mV", description = {text} }}\n'
        f'[inputs]\nI = {{ unit = "mV / ms * ms", description = {text} }}\n'
        '[equations]\nlaws = ["tau*dV/dt = -V + I"]\n[spike]\ncondition = "V > theta"\n'
        f'[reset]\nmechanism = "zero"\n[simulation]\ndt = "0.1 {unit_text}"\nmethod = "exact"\n')
    return path


@pytest.mark.parametrize("unit", ["ms # */ evil", "ms\\n*/", "ms; x", "ms \\\\", "ms\\u0000"])
def test_a_unit_holding_anything_but_a_unit_is_refused(tmp_path, unit):
    """`ast.parse` ignores a `#` comment: the text after it used to be kept as the time unit."""
    with pytest.raises(ModelError, match=r"\[simulation\] dt"):
        lifgen.load_model(str(_hostile_model_file(tmp_path / "m.toml", unit)))


def test_a_unit_is_kept_in_canonical_form(tmp_path):
    from lifgen.frontend.units import parse_unit

    model = lifgen.load_model(str(_hostile_model_file(tmp_path / "m.toml", "( ms )")))
    assert model.time_unit == "ms"
    assert {q.name: q.unit for q in model.parameters + model.inputs} == {
        "tau": "ms", "theta": "mV", "I": "mV/ms*ms"}
    assert parse_unit(" uA / cm ** 2 ").text == "uA/cm**2"
    assert parse_unit("1/(mV*ms)").text == "1/(mV*ms)"
    assert parse_unit("mV/ms**-0.5").text == "mV/ms**-0.5"


def _printed_fields(expr):
    """The template fields a `{{ ... }}` prints without the comment filter (its last names)."""
    from jinja2 import nodes

    if isinstance(expr, nodes.Filter) and expr.name == "comment":
        return []
    if isinstance(expr, nodes.Getattr):
        return [expr.attr]
    if isinstance(expr, nodes.Name):
        return [expr.name]
    if isinstance(expr, nodes.Getitem):
        return _printed_fields(expr.node)
    if isinstance(expr, nodes.Filter):  # length, join, map: what they are applied to
        return [] if expr.name == "length" else _printed_fields(expr.node)
    if isinstance(expr, nodes.CondExpr):
        return _printed_fields(expr.expr1) + (_printed_fields(expr.expr2) if expr.expr2 else [])
    if isinstance(expr, nodes.Concat):  # a ~ b: what each part prints
        return [field for node in expr.nodes for field in _printed_fields(node)]
    if isinstance(expr, (nodes.Const, nodes.BinExpr)):
        return []
    if isinstance(expr, nodes.Call):  # a macro of the template itself
        return []
    raise AssertionError(f"unexpected template expression {expr!r}")


def test_every_template_prints_model_text_through_the_one_filter():
    """A walk over every template: each `{{ ... }}` either goes through the `comment` filter or
    prints a field the code table says holds code, an identifier or a number (never text)."""
    from jinja2 import nodes

    from lifgen.targets.cfamily.kernel import environment
    from lifgen.targets.text import CODE_FIELDS

    env = environment()
    unfiltered = {}
    for name in env.list_templates(extensions=["j2"]):
        tree = env.parse(env.loader.get_source(env, name)[0])
        for output in tree.find_all(nodes.Output):
            for expr in output.nodes:
                if not isinstance(expr, nodes.TemplateData):
                    for field in _printed_fields(expr):
                        unfiltered.setdefault(field, set()).add(name)
    assert len(env.list_templates(extensions=["j2"])) >= 20
    text = {field: sorted(names) for field, names in unfiltered.items() if field not in CODE_FIELDS}
    assert not text, f"template fields printed without the comment filter: {text}"
    assert not CODE_FIELDS & {"description", "doc", "unit", "time_unit", "units", "command",
                              "reference", "model", "laws", "equations", "options", "text"}


def _build_c(folder):
    build = subprocess.run(["make", "-C", str(folder)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]


def test_model_text_in_every_free_text_field_builds_and_runs_harmlessly(tmp_path):
    """The generator test: the hostile text in every free-text field of a model file (and in
    the command emit records), emitted as a C library, built with make and run."""
    model = lifgen.load_model(str(_hostile_model_file(tmp_path / "hostile.toml")))
    assert model.description == HOSTILE_TEXT
    out = tmp_path / "lib"
    lifgen.emit(model, out, command=HOSTILE_TEXT)
    _build_c(out)
    run = subprocess.run(["./example"], cwd=out, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "spikes" in run.stdout
    assert not list(tmp_path.rglob("CANARY")) and not (out / "CANARY").exists()
    for path in out.iterdir():
        if path.suffix in (".c", ".h"):
            assert "\x00" not in path.read_text() and "??/" not in path.read_text()
            code = subprocess.run(["cc", "-fpreprocessed", "-dD", "-E", "-P", str(path)],
                                  capture_output=True, text=True, check=True).stdout
            assert "init_array" not in code and "CANARY" not in code  # only in comments


def test_model_text_reaches_the_cuda_library_through_the_filter(tmp_path):
    """The CUDA library's files: the example (C) built with cc, the library with nvcc where
    there is one."""
    model = lifgen.load_model(str(_hostile_model_file(tmp_path / "hostile.toml")))
    out = tmp_path / "cuda"
    lifgen.emit(model, out, command=HOSTILE_TEXT, target="cuda")
    for path in out.iterdir():
        assert "\x00" not in path.read_text() and "??/" not in path.read_text()
    build = subprocess.run(["cc", "-std=c99", "-c", "example.c", "-o", "example.o"], cwd=out,
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    if shutil.which("nvcc"):  # compiling needs no GPU: a named architecture
        build = subprocess.run(["make", "-C", str(out), "ARCH=sm_80"], capture_output=True,
                               text=True)
        assert build.returncode == 0, build.stderr[-3000:]


# -- item 15: a library's names that lifgen or the C library already use ------------------------

def _named(name):
    return model_from_document({
        "model": {"name": name}, "parameters": {"tau": 10.0}, "states": {"V": 0.0},
        "inputs": {"I": {}}, "equations": {"laws": ["tau*dV/dt = -V + I"]},
        "spike": {"condition": "V > 1"}, "reset": {"mechanism": "zero"},
        "simulation": {"method": "exact", "dt": 0.1}}, None)


@pytest.mark.parametrize("name, prefix", [("lg", None), ("Lg", None), ("fine", "lg_x"),
                                          ("fine", "_STDIO"), ("fine", "_MATH"),
                                          ("fine", "lg")])
def test_a_library_name_lifgen_or_the_c_library_uses_is_refused(tmp_path, name, prefix):
    """A model named `lg` declared lg_run, the kernel's own function: the library did not
    compile. The check is on the names the rendered files declare (and their include guard)
    against the identifiers of the kernel and of the C headers they include."""
    model = _named(name)
    assert lifgen.compile(model).run(5).n_steps == 5  # the model itself is fine
    with pytest.raises(InputError, match="already"):
        lifgen.emit(model, tmp_path, prefix=prefix)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["lgx", "LGT", "kernel", "init", "stdio", "math", "run", "events", "p", "s"])
def test_a_library_whose_names_are_free_builds(tmp_path, name):
    lifgen.emit(_named(name), tmp_path)
    _build_c(tmp_path)
    run = subprocess.run(["./example"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "spikes" in run.stdout
