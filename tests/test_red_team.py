"""Issue 15 (second hardening pass): each class of problem an outside red team found, checked
on instances other than the report's own."""

import os
import subprocess
import sys

import numpy as np
import pytest

import lifgen
from lifgen.cli import main
from lifgen.errors import InputError, ModelError
from lifgen.codegen import build
from lifgen.frontend.modelfile import model_from_document

EXPORTED = '__attribute__((visibility("default"))) '  # an entry point of a hand-written kernel

BASE = {"model": {"name": "red"}, "parameters": {"tau": 10.0, "theta": 1.0},
        "states": {"V": 0.0}, "inputs": {"I": {}},
        "equations": {"laws": ["dV/dt = (I - V)/tau"]}, "spike": {"condition": "V > theta"},
        "reset": {"mechanism": "zero"}, "simulation": {"dt": 0.1, "method": "exact"}}


def _with(**changes):
    document = {k: dict(v) for k, v in BASE.items()}
    for section, value in changes.items():
        document[section] = {**document.get(section, {}), **value}
    return document


@pytest.mark.parametrize("kind", ["device", "fifo", "folder"])
def test_a_model_file_that_is_not_a_regular_file_is_refused_without_reading(tmp_path, kind):
    path = tmp_path / "odd.toml"
    if kind == "device":
        path.symlink_to("/dev/urandom")
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    with pytest.raises(ModelError, match="is not a regular file"):
        lifgen.load_model(path)  # a FIFO would block forever, a device read without end


def test_a_byte_order_mark_is_not_a_syntax_error(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + (tmp_path.parent / "x").name.encode() * 0
                     + open(lifgen.frontend.library.model_file("leaky"), "rb").read())
    assert lifgen.load_model(path).name == "leaky"


@pytest.mark.parametrize("condition, problem", [
    ("V", "not a bare value"), ("V and theta", "not a bare value"), ("I*V", "not a bare value"),
    ("2 > 1", "always true"), ("V > theta or V <= theta", "always true"),
    ("0 > 1", "always false")])
def test_a_spike_condition_must_be_a_comparison(condition, problem):
    with pytest.raises(ModelError, match=rf"\[spike\] condition: .*{problem}"):
        model_from_document(_with(spike={"condition": condition}), "red.toml")


def test_joined_comparisons_are_still_a_condition():
    model = model_from_document(_with(spike={"condition": "V > theta and not I < 0"},
                                      reset={"mechanism": "none"}), "red.toml")
    assert model.spike.has(lifgen.ir.model.sympy.And)


@pytest.mark.parametrize("option, value", [("threads", 100_000), ("threads", 3_000_000_000),
                                           ("tile", 2 ** 20), ("threads", 0), ("tile", -1)])
def test_threads_and_tiles_are_bounded(option, value):
    with pytest.raises(InputError, match=rf"{option} must be an integer in 1\.\.\d+"):
        lifgen.compile("leaky", **{option: value})


def test_a_sparse_connection_cannot_change_after_it_was_checked():
    post = np.array([1, 2, 0])
    weights = lifgen.Sparse.from_arrays([0, 1, 2], post, 0.5, delay=[1, 2, 3])
    post[:] = 50_000_000  # the caller's array: the Sparse kept its own copy
    assert weights.post.tolist() == [1, 2, 0]
    for name in ("pre", "post", "weight", "delay"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(weights, name)[0] = -1


def test_save_and_plot_check_the_names_they_will_really_write(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "res.npz").write_bytes(b"keep")
    (tmp_path / "res.png").write_bytes(b"keep")
    run = ["simulate", "leaky", "--steps", "10", "--input", "I=const:0.5"]
    assert main(run + ["--save", "res"]) == 2 and "res.npz exists" in capsys.readouterr().err
    assert main(run + ["--plot", "res"]) == 2 and "res.png exists" in capsys.readouterr().err
    assert (tmp_path / "res.npz").read_bytes() == b"keep"
    assert main(run + ["--plot", "out.xyz"]) == 2 and "'.xyz'" in capsys.readouterr().err
    assert main(run + ["--plot", "missing/out.png"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(run + ["--save", "fresh", "--plot", "fresh"]) == 0
    assert np.load(tmp_path / "fresh.npz")["spike_count"].shape == (1,)
    assert (tmp_path / "fresh.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


@pytest.mark.parametrize("arguments, message", [
    (["--dts", "0.001"], "at least two different dts"),
    (["--dts", "0,0.001"], "finite time of at least"),
    (["--dts", "nan,0.001"], "finite time of at least"),
    (["--dts", "1e9,5e8"], "verify needs at least 4"),
    (["--t-end", "inf"], "t_end must be a finite time"),
    (["--methods", "bogus"], "unknown method"),
    (["--methods", "rk4", "--dts", "1e-3,9.5367431640625e-10"], "finest run would take"),
    (["--param", "R=0"], "cannot be computed with these parameters")])
def test_verify_refuses_what_measures_nothing(capsys, arguments, message):
    assert main(["verify", "lapicque", *arguments]) == 2
    assert message in capsys.readouterr().err


def test_lifgen_s_own_symbols_never_meet_a_model_s_names(tmp_path):
    with pytest.raises(ModelError, match="'xi' is reserved"):
        model_from_document(_with(parameters={"xi": 1.0}), "red.toml")  # xi is the noise
    tau = model_from_document(BASE, "red.toml")  # a parameter named tau, as verify's own time
    report = lifgen.verify(tau, methods=("euler", "exact"), dts=[0.1, 0.05, 0.025],
                           input=lifgen.Constant(0.5), t_end=5.0)
    assert report.passed
    from lifgen.numerics.analytic import closed_form

    named = model_from_document(_with(parameters={"V0": 7.0},
                                      equations={"laws": ["dV/dt = (V0 - V)/tau"]}), "red.toml")
    solution = str(closed_form(named)[0].rhs)
    assert "V_0" in solution and "V0" in solution  # the initial value and the parameter apart
    exact = lifgen.compile(named).run(100, initial={"V": 0.5}, params={"theta": 1e9},
                                      record="V").traces["V"][-1, 0]
    value = closed_form(named)[0].rhs.subs({"V_0": 0.5, "V0": 7.0, "tau": 10.0, "t": 10.0})
    assert float(value) == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("value, what", [
    (np.array([True, False]), "booleans"), (np.array([1 + 2j, 0]), "complex"),
    (np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[D]"), "dates"),
    (np.zeros(2, dtype=[("a", float)]), "a structured"), (b"ab", "bytes"), (True, "booleans")])
def test_inputs_that_are_not_real_numbers_are_refused(value, what):
    with pytest.raises(InputError, match=rf"inputs\['I'\] must be real numbers, got {what}"):
        lifgen.compile("leaky").run(5, 2, inputs={"I": value})
    with pytest.raises(InputError, match="masked array"):
        lifgen.compile("leaky").run(5, 2, inputs={"I": np.ma.array([1.0, 2.0], mask=[1, 0])})
    with pytest.raises(InputError, match="too large"):
        lifgen.compile("leaky").run(5, 2, inputs={"I": 10**400})


def test_a_result_holds_a_read_only_view_of_the_inputs_not_a_copy():
    """Copying a streamed input cost three times the run (issue 18.7): Result.inputs is the
    input as the kernel read it, which cannot be changed through the Result."""
    drive = np.full((20, 3), 0.4)
    result = lifgen.compile("leaky").run(20, 3, inputs={"I": drive})
    assert np.shares_memory(result.inputs["I"], drive) and np.all(result.inputs["I"] == 0.4)
    with pytest.raises(ValueError, match="read-only"):
        result.inputs["I"][0, 0] = 1.0
    converted = np.full((20, 3), 0.4, np.float32)  # a float64 kernel reads a converted copy
    assert not np.shares_memory(lifgen.compile("leaky").run(20, 3, inputs={"I": converted})
                                .inputs["I"], converted)


@pytest.mark.parametrize("call, message", [
    (lambda s: s.run(2**63), "n_steps must be an integer in"),
    (lambda s: s.run(5, 2**63), "n_neurons must be an integer in"),
    (lambda s: s.run(5, record=[["V"]]), "unknown state"),
    (lambda s: s.run(10**6, 10**6, spikes="count", record="V"), "GiB allowed"),
    (lambda s: s.run(5, 10**9, spikes="count", record=[]), "GiB allowed"),
    (lambda s: s.run(5, max_memory=-1), "max_memory must be")])
def test_runs_are_refused_before_they_allocate_what_they_cannot(call, message):
    with pytest.raises(InputError, match=message):
        call(lifgen.compile("leaky"))


def test_spike_events_stop_at_the_memory_limit_and_say_so():
    simulator = lifgen.compile("leaky")
    with pytest.warns(lifgen.NumericalWarning, match="kept the first"):
        result = simulator.run(1000, 100, inputs={"I": 0.6}, spikes="events",
                               max_memory=3_600_000)
    assert result.truncated and 0 < result.spike_events[0].size < result.spike_count.sum()
    whole = simulator.run(1000, 100, inputs={"I": 0.6}, spikes="events")
    assert not whole.truncated and whole.spike_events[0].size == whole.spike_count.sum()
    np.testing.assert_array_equal(result.spike_count, whole.spike_count)


@pytest.mark.parametrize("text, message", [
    ("a = " + "[" * 3000 + "]" * 3000, "nested too deeply"),
    ("[parameters]\nbig = 1" + "0" * 400, "a huge integer"),
    ('[parameters]\n"a\\n" = 1.0', "is not a valid name")])
def test_model_files_that_used_to_raise_raw_exceptions(tmp_path, text, message):
    path = tmp_path / "odd.toml"
    path.write_text(text)
    with pytest.raises(ModelError, match=message):
        lifgen.load_model(path)


def test_two_unnamed_model_files_keep_their_own_names(tmp_path):
    text = open(lifgen.frontend.library.model_file("leaky")).read().replace('name = "leaky"\n', "")
    for name in ("first", "second"):
        (tmp_path / f"{name}.toml").write_text(text)
    assert [lifgen.compile(tmp_path / f"{n}.toml").model.name for n in ("first", "second")] == \
        ["first", "second"]


NOBODY = 65534  # another user: files chown'ed to it stand for what an attacker planted
needs_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                                reason="planting another user's files needs root (chown)")


def _cache_env(monkeypatch, folder):
    from lifgen.codegen import build

    monkeypatch.setenv("LIFGEN_CACHE_DIR", str(folder))
    build._loaded.clear()
    return build


def test_a_cache_under_a_folder_others_can_write_is_refused(tmp_path, monkeypatch):
    from lifgen.errors import CompileError

    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # like a pre-made /tmp/lifgen-cache, not sticky
    build = _cache_env(monkeypatch, shared / "mine")
    with pytest.raises(CompileError, match="which another user owns or can write"):
        build.build(EXPORTED + "int lg_a(void) { return 1; }", "int lg_a(void);")


def test_a_cache_folder_that_is_a_link_is_refused(tmp_path, monkeypatch):
    from lifgen.errors import CompileError

    build = _cache_env(monkeypatch, tmp_path / "cache")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / "cache").mkdir(mode=0o700)
    (tmp_path / "cache" / f"v{build.CACHE_SCHEMA}").symlink_to(elsewhere)
    with pytest.raises(CompileError, match="symbolic link"):
        build.build(EXPORTED + "int lg_b(void) { return 2; }", "int lg_b(void);")
    os.unlink(tmp_path / "cache" / f"v{build.CACHE_SCHEMA}")
    build.build(EXPORTED + "int lg_b(void) { return 2; }", "int lg_b(void);")
    locks = tmp_path / "cache" / f"v{build.CACHE_SCHEMA}" / "locks"
    os.rename(locks, tmp_path / "locks")
    locks.symlink_to(tmp_path / "locks")
    build._loaded.clear()
    with pytest.raises(CompileError, match="is a link, not a folder"):
        build.build(EXPORTED + "int lg_b(void) { return 2; }", "int lg_b(void);")


@needs_root
def test_a_planted_module_or_source_is_never_loaded(tmp_path, monkeypatch):
    build = _cache_env(monkeypatch, tmp_path / "cache")
    kernel = build.build(EXPORTED + "int lg_c(void) { return 3; }", "int lg_c(void);")
    os.chown(kernel.path, NOBODY, NOBODY)  # same bytes, same manifest: another user's file
    build._loaded.clear()
    again = build.build(EXPORTED + "int lg_c(void) { return 3; }", "int lg_c(void);")
    assert not again.from_cache and again.lib.lg_c() == 3  # rebuilt, the planted one set aside
    build.store_blob("sources", "planted", b"payload")
    planted = tmp_path / "cache" / f"v{build.CACHE_SCHEMA}" / "sources" / f"{build.MODULE_PREFIX}planted"
    assert build.load_blob("sources", "planted") == b"payload"
    os.chown(planted, NOBODY, NOBODY)
    assert build.load_blob("sources", "planted") is None


class _Exploit:
    """A pickle that, when loaded, creates a file: what a planted cached source could do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_cached_source_cannot_run_code(tmp_path, monkeypatch):
    import json
    import pickle

    from lifgen.codegen.options import Semantics, Schedule
    from lifgen.codegen.compiler import _source_key, kernel_source
    from lifgen.targets import get_target

    build = _cache_env(monkeypatch, tmp_path / "cache")
    options = Semantics()
    first = kernel_source("leaky", options, Schedule(), get_target("c"))
    key = _source_key("leaky", options, Schedule(), "c")
    assert build.load_source(key) == first  # stored, and read back as JSON
    marker = tmp_path / "ran"
    planted = [pickle.dumps(_Exploit(marker)),
               json.dumps({"dataclass": "Popen", "fields": {"args": ["touch", str(marker)]}}).encode(),
               json.dumps({"sympy": "Function", "args": []}).encode(),
               json.dumps({"dataclass": "Model", "fields": {"name": "x"}}).encode(),
               # well formed, but not a KernelSource: a compile would have crashed on it
               json.dumps({"dataclass": "Synapse",
                           "fields": {"name": "x", "bias": None, "target": None}}).encode(),
               json.dumps({"integer": "1"}).encode()]
    for payload in planted:  # each with a valid checksum, as someone who can write it would
        build.store_blob("sources", f"{key}.json", payload)
        assert build.load_source(key) is None
    assert not marker.exists()
    assert kernel_source("leaky", options, Schedule(), get_target("c")) == first  # generated again, and stored again
    assert build.load_source(key) == first


def test_cache_clear_leaves_a_running_compile_alone(tmp_path, monkeypatch):
    build = _cache_env(monkeypatch, tmp_path / "cache")
    kernel = build.build(EXPORTED + "int lg_d(void) { return 4; }", "int lg_d(void);")
    root = tmp_path / "cache" / f"v{build.CACHE_SCHEMA}"
    in_flight = root / "tmp" / f"{build.MODULE_PREFIX}{'f' * 32}.abcd"
    in_flight.mkdir()
    with build.cache_lock(f"{build.MODULE_PREFIX}{'f' * 32}"):  # another process compiling
        assert build.clear_cache() == 1  # the finished kernel only
        assert in_flight.is_dir() and not kernel.path.exists()
    build.clear_cache()
    assert not in_flight.exists()


MACRO_NAMES = ["EOF", "NULL", "BUFSIZ", "INT64_MAX", "stdin", "SEEK_SET", "RAND_MAX", "EXIT_FAILURE"]


def test_emitted_code_builds_for_names_that_are_c_macros(tmp_path):
    """Model names that the C library defines as macros, as parameters, states and an input."""
    document = {"model": {"name": "macros"},
                "parameters": {name: 0.5 for name in MACRO_NAMES[:4]} | {"theta": 1.0},
                "states": {MACRO_NAMES[4]: 0.0, MACRO_NAMES[5]: 0.0},
                "inputs": {MACRO_NAMES[6]: {}},
                "equations": {"update": {"stdin": "EOF*stdin + NULL*SEEK_SET + RAND_MAX",
                                         "SEEK_SET": "BUFSIZ*SEEK_SET + INT64_MAX"}},
                "spike": {"condition": "stdin > theta"}, "reset": {"mechanism": "zero"}}
    model = model_from_document(document, "macros.toml")
    lifgen.emit(model, tmp_path)
    build = subprocess.run(["make", "-C", str(tmp_path)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    assert subprocess.run([str(tmp_path / "example")], capture_output=True).returncode == 0
    header = (tmp_path / "macros.h").read_text()
    assert "*p_EOF;" in header and "*s_stdin;" in header and "*u_RAND_MAX;" in header
    with pytest.raises(InputError, match="--prefix 'example' would give the library the name"):
        lifgen.emit(model, tmp_path / "other", prefix="example")


@pytest.mark.parametrize("changes, file_name, message", [
    ({"states": {"V": {"initial": "V + 1"}}}, "red.toml",
     r"the initial value of V may use parameters and the states declared before it, not 'V'"),
    ({}, "exp.toml", r"no \[model\] name, so it takes its file's name, 'exp'")])
def test_messages_that_used_to_mislead(changes, file_name, message):
    document = {k: v for k, v in {**BASE, **changes}.items() if k != "model"}
    with pytest.raises(ModelError, match=message):
        model_from_document(document, file_name, default_name=file_name[:-5])


def test_cli_errors_of_the_users_setup_are_not_internal_errors(tmp_path, capsys, monkeypatch):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    assert main(["emit", "leaky", "--out", str(a_file)]) == 2
    assert main(["gallery", "--out", str(a_file)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    huge = tmp_path / "huge.npy"  # a header that promises 10^12 values
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"
    header = header.ljust(118) + "\n"
    huge.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())
    assert main(["simulate", "leaky", "--steps", "5", "--input", f"I={huge}"]) == 2
    assert "cannot read" in capsys.readouterr().err
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    monkeypatch.setenv("LIFGEN_CACHE_DIR", str(shared / "cache"))
    from lifgen.codegen import build

    build._loaded.clear()
    assert main(["simulate", "leaky", "--steps", "5"]) == 2
    assert "unsafe kernel cache" in capsys.readouterr().err


@pytest.mark.parametrize("law", ["dV/dt = (V + I + tau + theta)**40*(V - I)**40",
                                 "dV/dt = ((V + 1)**60)**60", "dV/dt = (V**9)**9 - V",
                                 "dV/dt = V**33*I**32"])
def test_a_short_law_of_huge_degree_is_refused_at_once(law):
    with pytest.raises(ModelError, match="polynomial degree .* the limit is 64"):
        model_from_document(_with(equations={"laws": [law]}), "red.toml")


@pytest.mark.parametrize("kind, count", [("states", 33), ("parameters", 513), ("inputs", 33)])
def test_models_beyond_the_stated_size_limits_are_refused_at_once(kind, count):
    many = {f"q{i}": {"unit": ""} if kind == "inputs" else 0.0 for i in range(count)}
    with pytest.raises(ModelError, match=rf"\[{kind}\]: \d+ {kind}; lifgen compiles models "
                                         rf"of at most {count - 1} {kind}"):
        model_from_document(_with(**{kind: many}), "red.toml")


@pytest.mark.parametrize("letter", ["\uff36", "\U0001d415", "\u0412"])  # full-width, bold, Cyrillic
def test_look_alike_letters_are_refused_not_folded_into_names(letter):
    with pytest.raises(ModelError, match=rf"'{letter}'.*(is not allowed|is not a valid name)"):
        model_from_document(_with(equations={"laws": [f"dV/dt = (I - {letter})/tau"]}),
                            "red.toml")


def test_a_negative_refractory_period_is_refused():
    with pytest.raises(ModelError, match="refractory period cannot be negative"):
        model_from_document(_with(refractory={"period": -1.0}), "red.toml")
    with pytest.raises(InputError, match=r"refractory period t_ref is negative \(-2\)"):
        lifgen.compile("lif_cuba").run(10, params={"t_ref": -2.0})


@pytest.mark.parametrize("option", [{"method": ["euler"]}, {"reset": ["zero"]},
                                    {"reset_timing": 1}, {"dtype": ["float32"]}])
def test_compile_options_of_the_wrong_type_are_input_errors(option):
    with pytest.raises(InputError, match="must be"):
        lifgen.compile("lapicque", **option)


def test_a_sharded_run_caps_its_events_as_one_run_does():
    simulator = lifgen.compile("leaky")
    run = dict(inputs={"I": 0.6}, spikes="events", max_memory=3_600_000)
    with pytest.warns(lifgen.NumericalWarning, match="kept the first"):
        whole = simulator.run(1000, 100, **run)
    with pytest.warns(lifgen.NumericalWarning, match="kept the first"):
        sharded = simulator.run(1000, 100, shards=2, **run)
    assert sharded.truncated and sharded.spike_events[0].size == whole.spike_events[0].size
    np.testing.assert_array_equal(sharded.spike_events[1], whole.spike_events[1])


def _c_library_macros():
    """Every macro the C headers that generated code includes define here (from cc -dM -E)."""
    headers = "".join(f"#include <{h}>\n" for h in ("stdio.h", "stdlib.h", "stdint.h", "math.h",
                                                    "string.h", "stddef.h", "errno.h"))
    listing = subprocess.run(["cc", "-dM", "-E", "-x", "c", "-"], input=headers,
                             capture_output=True, text=True, check=True).stdout
    return sorted({line.split()[1].split("(")[0] for line in listing.splitlines()})


def test_every_c_library_macro_usable_as_a_name_builds_in_kernels_and_emit(tmp_path):
    """A generator, not a list: each macro of this machine's C library that lifgen accepts as a
    name becomes a parameter (a few of them in the update), compiled and emitted."""
    from lifgen.ir.names import check_name

    names, seen = [], set()
    for name in _c_library_macros():
        try:
            check_name(name)
        except ModelError:
            continue
        if name.lower() not in seen | {"v", "i", "dv"}:
            seen.add(name.lower())
            names.append(name)
    names = names[:150]
    assert len(names) > 100  # glibc defines hundreds
    used = " + ".join(f"0*{n}" for n in names[:40])
    document = {"model": {"name": "macros"}, "parameters": {n: 0.25 for n in names},
                "states": {"V": 0.0}, "inputs": {"I": {}},
                "equations": {"update": {"V": f"0.5*V + I + {used}"}},
                "spike": {"condition": "V > 1"}, "reset": {"mechanism": "zero"}}
    model = model_from_document(document, "macros.toml")
    result = lifgen.compile(model).run(20, inputs={"I": 0.75}, record="V")
    assert result.spike_count[0] > 0 and np.isfinite(result.traces["V"]).all()
    lifgen.emit(model, tmp_path)
    build = subprocess.run(["make", "-C", str(tmp_path)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]


@needs_root
def test_a_cache_another_user_made_first_is_refused():
    """A second user (nobody, through setuid in a subprocess) makes the cache folder first in
    a shared sticky folder, as /tmp/lifgen-cache would be; this user's lifgen refuses it."""
    import tempfile

    shared = tempfile.mkdtemp(prefix="lifgen-shared-")
    try:
        os.chmod(shared, 0o1777)
        folder = os.path.join(shared, "cache", f"v{build.CACHE_SCHEMA}", "tmp")
        made = subprocess.run(["mkdir", "-p", folder],
                              preexec_fn=lambda: (os.setgid(NOBODY), os.setuid(NOBODY)),
                              capture_output=True, text=True)
        assert made.returncode == 0, made.stderr
        environment = dict(os.environ, LIFGEN_CACHE_DIR=os.path.join(shared, "cache"))
        probe = subprocess.run([sys.executable, "-c", "import lifgen; lifgen.compile('leaky')"],
                               capture_output=True, text=True, env=environment)
        assert probe.returncode != 0 and "CacheError" in probe.stderr
        assert "not yours" in probe.stderr or "another user" in probe.stderr
    finally:
        subprocess.run(["rm", "-rf", shared])


@pytest.mark.parametrize("name", lifgen.list_models())
def test_every_library_model_s_source_is_stored_exactly(name):
    """A source the JSON format cannot say exactly would be generated again at every compile."""
    from lifgen.codegen import source_json
    from lifgen.codegen.options import Semantics, Schedule
    from lifgen.codegen.compiler import _generate
    from lifgen.targets import get_target

    source = _generate(name, Semantics(), Schedule(), get_target("c"))
    stored = source_json.loads(source_json.dumps(source))
    assert stored == source
    # what the model file said (Model.save writes it), which equality does not compare
    assert stored.step_map.model.document == source.step_map.model.document
    assert source.step_map.model.document is not None


BLOW_UP = {"parameters": {"tau": 10.0, "theta": 1.0, "g": 1000.0},
           "equations": {"laws": ["dV/dt = (exp(I*g) - 1 - V)/tau"]}}  # inf once I = 1


@pytest.mark.parametrize("changes, options, method", [
    ({"reset": {"mechanism": "zero"}}, {}, "euler"),
    ({"reset": {"mechanism": "zero"}}, {"reset_timing": "same_step"}, "rk4"),
    ({"reset": {"mechanism": "zero"}, "refractory": {"period": 2.0, "frozen": ["V"]}},
     {"reset_timing": "same_step"}, "euler"),
    ({"reset": {"mechanism": "subtract"}}, {"state_quant": [0.0, 0.5, 1.0]}, "rk4"),
    ({"reset": {"mechanism": "none"}}, {"state_quant": [0.0, 0.5, 1.0]}, "euler"),
])
def test_a_reset_a_hold_or_quantisation_never_hides_an_infinity(changes, options, method):
    """The update gives inf; whatever replaces it within the step, the run warns with the step."""
    model = model_from_document(_with(**BLOW_UP, **changes, simulation={"method": method}),
                                "blow_up.toml")
    simulator = lifgen.compile(model, **options)
    current = np.zeros((50, 3))
    current[20:, 1] = 1.0  # neuron 1 from step 20
    with pytest.warns(lifgen.NumericalWarning, match="states became NaN or infinite, first at "
                      "step 20 in neuron 1"):
        result = simulator.run(50, 3, inputs={"I": current})
    assert result.first_nonfinite[:2] == (20, 1)
    assert np.isfinite(result.state["V"][[0, 2]]).all()


def test_keeping_a_nan_changes_no_finite_number():
    """The reset's `value - (X - X)` is the value itself, signed zeros too (golden and snnTorch
    tests check whole runs); here, the values a reset may take."""
    from lifgen.ir.written import evaluate
    from lifgen.codegen.lower import keeping_nonfinite
    import sympy

    tree = keeping_nonfinite("r", "x")
    for r in (0.0, -0.0, 1e-310, -3.5, 1e308):
        for x in (0.0, -0.0, 1e308, -1e-320, 7.25):
            value = evaluate(tree, {sympy.Symbol("r"): np.float64(r), sympy.Symbol("x"): np.float64(x)})
            assert value == r and np.signbit(value) == np.signbit(r)
    for x in (np.inf, -np.inf, np.nan):
        assert np.isnan(evaluate(tree, {sympy.Symbol("r"): 0.0, sympy.Symbol("x"): np.float64(x)}))


UNDER_RLIMIT = r"""
import json, resource, warnings
import numpy as np
import lifgen
from lifgen.runtime import memory
from lifgen.errors import InputError

simulator = lifgen.compile("leaky")  # the compiler runs before the limit
simulator.run(10, 10)
_, hard = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (memory._status_bytes("VmSize:") + 400 * 2**20, hard))
out = {"available": memory.available_bytes()}
calls = {"states": lambda: simulator.run(1, 200_000_000, record=[]),
         "traces": lambda: simulator.run(5_000, 20_000, record=["V"]),
         "raster": lambda: simulator.run(5_000, 100_000, spikes="raster", record=[])}
for what, call in calls.items():
    try:
        call()
        out[what] = "ran"
    except InputError as error:
        out[what] = str(error)
    except MemoryError:
        out[what] = "MemoryError"
with warnings.catch_warnings(record=True):
    warnings.simplefilter("always")
    events = simulator.run(3_000, 20_000, inputs={"I": 2.0}, spikes="events", record=[])
out["events"] = [int(events.spike_count.sum()), int(events.spike_events[0].size), events.truncated]
print(json.dumps(out))
"""


def test_memory_refusals_under_an_address_space_limit(tmp_path):
    """With `ulimit -v` at 400 MiB above what the process holds, each large allocation is an
    InputError before it is tried (never a MemoryError or a crash), spike events stop at the
    limit, and the default limit follows RLIMIT_AS."""
    import json

    done = subprocess.run([sys.executable, "-c", UNDER_RLIMIT], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["available"] <= 400 * 2**20
    for what in ("states", "traces", "raster"):
        assert "GiB" in out[what] and "max_memory" in out[what], (what, out[what])
    spikes, kept, truncated = out["events"]
    assert spikes == 3_000 * 20_000 and truncated and 0 < kept * 16 <= 400 * 2**20
