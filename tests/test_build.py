"""The kernel cache: reused across processes without compiling, safe under concurrency, clear on failure."""

import ctypes
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import lifgen
from lifgen.codegen import build
from lifgen.errors import CompileError

EXPORTED = '__attribute__((visibility("default"))) '  # an entry point of a hand-written kernel

PROBE = textwrap.dedent("""
    import json, sys, lifgen
    sim = lifgen.compile(sys.argv[1], method=None if sys.argv[2] == "discrete" else sys.argv[2])
    result = sim.run(200, inputs={"I": lifgen.Step(0.2, 10)})
    print(json.dumps({"from_cache": sim.from_cache, "path": str(sim.kernel.path),
                      "spikes": result.spike_steps().tolist()}))
""")


def _probe(cache, model="lapicque", method="euler", env=None):
    environment = dict(os.environ, LIFGEN_CACHE_DIR=str(cache), **(env or {}))
    out = subprocess.run([sys.executable, "-c", PROBE, model, method], env=environment,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_second_process_loads_the_cache_without_compiling(tmp_path):
    first = _probe(tmp_path)
    assert first["from_cache"] is False and first["spikes"] == [108]
    mtime = os.stat(first["path"]).st_mtime_ns
    second = _probe(tmp_path)
    assert second["from_cache"] is True
    assert second["path"] == first["path"] and second["spikes"] == [108]
    assert os.stat(second["path"]).st_mtime_ns == mtime
    assert list((tmp_path / f"v{build.CACHE_SCHEMA}" / "tmp").iterdir()) == []


SEVERAL = textwrap.dedent("""
    import json, lifgen
    sims = [lifgen.compile(m) for m in ("lapicque", "lif_cuba", "qif")]
    for sim in sims:
        sim.run(10, 1)
    print(json.dumps([sim.from_cache for sim in sims]))
""")


def test_a_fresh_process_loads_several_cached_kernels_without_a_compiler(tmp_path):
    """Three kernels from a warm cache in one new process: each one loads as itself (a reused
    /proc/self/fd path once loaded the first module again, and the rest were rebuilt)."""
    log = tmp_path / "compiler.log"
    wrapper = tmp_path / "cc"
    wrapper.write_text(f'#!/bin/sh\ncase "$*" in *-shared*) echo "$*" >> {log};; esac\n'
                       f'exec {build.compiler_command()[0]} "$@"\n')
    wrapper.chmod(0o755)
    environment = dict(os.environ, LIFGEN_CACHE_DIR=str(tmp_path / "cache"), CC=str(wrapper))

    def run():
        out = subprocess.run([sys.executable, "-c", SEVERAL], env=environment,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    assert run() == [False, False, False]
    compiled = log.read_text().count("\n")
    assert compiled == 3
    for _ in range(2):
        assert run() == [True, True, True]
    assert log.read_text().count("\n") == compiled  # no compiler ran in the warm processes
    assert not list((tmp_path / "cache").rglob("*.bad"))  # and nothing was set aside


def test_concurrent_processes_share_one_build(tmp_path):
    environment = dict(os.environ, LIFGEN_CACHE_DIR=str(tmp_path))
    processes = [subprocess.Popen([sys.executable, "-c", PROBE, "lapicque", "exact"], env=environment,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(4)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err for _, err in outputs]
    results = [json.loads(out) for out, _ in outputs]
    assert sum(not r["from_cache"] for r in results) == 1
    assert len({r["path"] for r in results}) == 1


def test_different_sources_get_different_modules():
    a = lifgen.compile("lapicque", method="euler")
    b = lifgen.compile("lapicque", method="exact")
    c = lifgen.compile("lapicque", method="euler", dtype="float32")
    assert len({a.kernel.module_name, b.kernel.module_name, c.kernel.module_name}) == 3


def test_damaged_cache_entry_is_rebuilt(tmp_path):
    first = _probe(tmp_path, method="exact")
    with open(first["path"], "wb") as handle:
        handle.write(b"not a shared object")
    again = _probe(tmp_path, method="exact")
    assert again["from_cache"] is False and again["spikes"] == first["spikes"]


def test_missing_compiler_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("CC", "/nonexistent/gcc")
    with pytest.raises(CompileError, match="no C compiler found.*apt install gcc"):
        build.build("int lg_x(void) { return 1; }", "int lg_x(void);")


def test_compiler_diagnostics_are_in_the_error():
    with pytest.raises(CompileError, match="error:.*") as error:
        build.build("static int lg_x(void) { return 1 +; }", "int lg_x(void);")
    assert "the C compiler failed" in str(error.value)


def test_generated_code_exports_only_its_entry_points_and_uses_no_fast_math():
    sim = lifgen.compile("leaky")
    assert "LG_ENTRY int lg_run(" in sim.c_source and "static int lg_kernel(" in sim.c_source
    assert "-fvisibility=hidden" in build.CFLAGS and "-DLG_SHARED_LIBRARY" in build.CFLAGS
    exported = subprocess.run(["nm", "-D", "--defined-only", str(sim.kernel.path)],
                              capture_output=True, text=True)
    if exported.returncode == 0:  # (binutils' nm: where there is one)
        names = {line.split()[-1] for line in exported.stdout.splitlines() if line.strip()}
        assert {"lg_run", "lg_args_layout"} <= names and "lg_kernel" not in names
    assert "-ffp-contract=off" in build.CFLAGS
    assert not any("fast-math" in flag or flag == "-Ofast" for flag in build.CFLAGS)


def test_cache_info_and_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("LIFGEN_CACHE_DIR", str(tmp_path))
    (tmp_path / f"v{build.CACHE_SCHEMA}").mkdir()
    keep = tmp_path / f"v{build.CACHE_SCHEMA}" / "notes.txt"
    keep.write_text("mine")
    _probe(tmp_path)
    kernels = build.cache_info()["kernels"]
    assert kernels >= 1
    assert build.clear_cache() == kernels
    assert build.cache_info()["kernels"] == 0
    assert keep.read_text() == "mine"  # only lifgen's own files are removed


def test_clear_also_removes_the_kernels_of_older_cache_schemas(tmp_path, monkeypatch):
    """An upgraded lifgen never loads the kernels an older one built (another schema's folder):
    `lifgen cache clear` removes them too, and nothing else there."""
    monkeypatch.setenv("LIFGEN_CACHE_DIR", str(tmp_path))
    old = tmp_path / f"v{build.CACHE_SCHEMA - 1}"
    (old / "sources").mkdir(parents=True)
    names = ["_lifgen_ab12.cpython-311-x86_64-linux-gnu.so", "_lifgen_ab12.json", "_lifgen_ab12.c"]
    for name in names:
        (old / name).write_text("an older lifgen's")
    (old / "sources" / "_lifgen_cd34.json").write_text("{}")
    (old / "mine.txt").write_text("mine")
    assert build.older_cache_dirs() == [old]
    assert build.clear_cache() == 1
    left = sorted(p.name for p in old.rglob("*") if p.is_file() and p.parent.name != "locks")
    assert left == ["mine.txt"]  # (the lock files stay, as in today's folder)


def test_unsafe_cache_folder_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "shared"
    (folder / f"v{build.CACHE_SCHEMA}").mkdir(parents=True)
    os.chmod(folder / f"v{build.CACHE_SCHEMA}", 0o777)
    monkeypatch.setenv("LIFGEN_CACHE_DIR", str(folder))
    with pytest.raises(CompileError, match="writable by other users"):
        build.build(EXPORTED + "int lg_y(void) { return 2; }", "int lg_y(void);")


def test_a_group_writable_cache_needs_the_users_trust_in_the_group(team_cache, monkeypatch):
    team = team_cache
    kernel = build.build(EXPORTED + "int lg_t(void) { return 7; }", "int lg_t(void);")
    assert kernel.lib.lg_t() == 7
    root = team / f"v{build.CACHE_SCHEMA}"
    for folder in (root, root / "locks", root / "tmp"):
        assert folder.stat().st_mode & 0o2070 == 0o2070  # setgid, group rwx
    assert kernel.path.stat().st_mode & 0o050 == 0o050  # the team can load it
    assert all(p.stat().st_mode & 0o040 for p in root.glob(build.MODULE_PREFIX + "*"))
    build.store_blob("sources", "team-test", b"shared")
    assert (root / "sources" / f"{build.MODULE_PREFIX}team-test").stat().st_mode & 0o060 == 0o060
    monkeypatch.delenv("LIFGEN_CACHE_TRUST_GROUP")
    with pytest.raises(CompileError, match="LIFGEN_CACHE_TRUST_GROUP=1"):
        build.build(EXPORTED + "int lg_u(void) { return 8; }", "int lg_u(void);")


@pytest.mark.parametrize("mode", [0o2777, 0o770])
def test_a_team_cache_must_be_setgid_and_closed_to_others(tmp_path, monkeypatch, mode):
    root = tmp_path / "team" / f"v{build.CACHE_SCHEMA}"
    root.mkdir(parents=True)
    os.chmod(root, mode)
    monkeypatch.setenv("LIFGEN_CACHE_DIR", str(tmp_path / "team"))
    monkeypatch.setenv("LIFGEN_CACHE_TRUST_GROUP", "1")
    with pytest.raises(CompileError, match="setgid and not writable by others"):
        build.build(EXPORTED + "int lg_v(void) { return 9; }", "int lg_v(void);")


def test_warm_compile_skips_the_sympy_work(tmp_path):
    _probe(tmp_path, model="leaky", method="discrete")
    script = textwrap.dedent("""
        import json, lifgen, lifgen.runtime.simulate as simulate
        def refuse(*args, **kwargs):
            raise AssertionError("SymPy work was redone")
        import lifgen.targets.c.target as c_target
        simulate.load_model = simulate.discretize = c_target.render = refuse
        sim = lifgen.compile("leaky")
        spikes = sim.run(5, inputs={"I": 0.6}).spike_steps().tolist()
        print(json.dumps({"from_cache": sim.from_cache, "spikes": spikes}))
    """)
    environment = dict(os.environ, LIFGEN_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"from_cache": True, "spikes": [1, 3]}


def test_an_edited_model_file_is_compiled_again(tmp_path, monkeypatch):
    from conftest import LAPICQUE_LIKE

    path = tmp_path / "rc.toml"
    path.write_text(LAPICQUE_LIKE)
    first = lifgen.compile(path)
    path.write_text(LAPICQUE_LIKE.replace("threshold = 1.0", "threshold = 2.0"))
    second = lifgen.compile(path)
    assert second.model.defaults["threshold"] == 2.0
    assert first.model.defaults["threshold"] == 1.0


def test_a_declared_function_the_library_does_not_export_is_a_clear_error():
    """ABI mode finds functions by name: a static one (not LG_ENTRY) is refused at load."""
    with pytest.raises(CompileError, match="lg_hidden is declared.*does not export it"):
        build.build("static int lg_hidden(void) { return 1; }\n"
                    + EXPORTED + "int lg_shown(void) { return lg_hidden(); }",
                    "int lg_hidden(void);\nint lg_shown(void);")


LAYOUT = """
#include <stddef.h>
#include <stdint.h>
typedef struct pair { %s } pair;
%sint64_t pair_layout(int64_t *out, int64_t n)
{
    const int64_t layout[3] = {sizeof(pair), offsetof(pair, first), offsetof(pair, second)};
    for (int64_t i = 0; i < n && i < 3; ++i)
        out[i] = layout[i];
    return 3;
}
""" + EXPORTED + "double pair_second(const pair *p) { return p->second; }\n"
PAIR = "int32_t first; double second;"
LAYOUT_CDEF = (f"typedef struct pair {{ {PAIR} }} pair;\n"
               "int64_t pair_layout(int64_t *out, int64_t n);\n"
               "double pair_second(const pair *p);")


def test_a_struct_laid_out_differently_in_c_and_in_the_cdef_is_refused():
    """ABI mode trusts the cdef's layout: the library reports its own (T_layout), checked at
    load, so a C struct that disagrees with its declaration is an error, not wrong numbers."""
    same = build.build(LAYOUT % (PAIR, EXPORTED), LAYOUT_CDEF)
    assert same.lib.pair_second(same.ffi.new("pair *", {"first": 1, "second": 2.5})) == 2.5
    swapped = "double second; int32_t first;"
    with pytest.raises(CompileError, match=r"struct pair is laid out differently.*\[16, 8, 0\]"):
        build.build(LAYOUT % (swapped, EXPORTED), LAYOUT_CDEF)
    with pytest.raises(CompileError, match="declares struct pair but not pair_layout"):
        build.build(LAYOUT % (PAIR, "static "),
                    LAYOUT_CDEF.replace("int64_t pair_layout(int64_t *out, int64_t n);\n", ""))


def test_a_kernel_whose_c_struct_disagrees_with_its_cdef_is_refused():
    """The generated kernel's lg_args is checked too: a field added in the C alone."""
    source = lifgen.compile("leaky").kernel_source
    changed = source.c_source.replace("    int64_t n_batch;", "    int64_t n_batch, extra;", 1)
    assert changed != source.c_source
    with pytest.raises(CompileError, match="struct lg_args is laid out differently"):
        build.build(changed, source.cdef)


INTERPOSED = (EXPORTED + "int lg_answer(void) { return %d; }\n"
              + EXPORTED + "int lg_ask(void) { return lg_answer(); }\n")


def test_kernels_exporting_the_same_names_each_call_their_own(tmp_path, monkeypatch):
    """Every kernel exports lg_run and the like: two loaded in one process give their own
    numbers, even when one of them is made global (RTLD_GLOBAL) before the other loads: its
    own calls bind to its own functions (-Wl,-Bsymbolic), never to another library's."""
    monkeypatch.setenv("LIFGEN_CACHE_DIR", str(tmp_path))
    cdef = "int lg_answer(void);\nint lg_ask(void);"
    first = build.build(INTERPOSED % 1, cdef)
    ctypes.CDLL(str(first.path), mode=ctypes.RTLD_GLOBAL)
    second = build.build(INTERPOSED % 2, cdef)
    assert (first.lib.lg_ask(), second.lib.lg_ask()) == (1, 2)
    assert (first.lib.lg_answer(), second.lib.lg_answer()) == (1, 2)


def test_the_benchmarks_hand_written_kernels_load_and_count_lifgen_s_spikes():
    """benchmarks/ceiling.c (what `python -m benchmarks` measures lifgen against) is built and
    loaded as lifgen's kernels are: its functions exported, its spike counts lifgen's and
    NumPy's on the leaky workload, streamed and register-tiled."""
    import importlib.util

    import numpy as np

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "__main__.py"
    spec = importlib.util.spec_from_file_location("lifgen_benchmarks_main", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)  # (the benchmarks are not an installed package)
    ceiling_leaky, numpy_leaky = bench.ceiling_leaky, bench.numpy_leaky
    steps, n = 50, 40
    current = np.random.default_rng(3).uniform(0.0, 0.3, (steps, n)).astype(np.float32)
    held = current[0].copy()
    assert ceiling_leaky("ceiling_streamed", current, steps, n) == numpy_leaky(current, steps, n)
    assert ceiling_leaky("ceiling_register_tiled", held, steps, n, 1) \
        == numpy_leaky(held, steps, n) == bench.lifgen_workload("leaky", held, steps, n)() > 0
