"""`lifgen emit`: the standalone C library compiles strictly as C99 and C++, runs clean under
valgrind, and gives the numbers of the Python path."""

import shutil
import subprocess
import textwrap

import numpy as np
import pytest

import lifgen
from lifgen.cli import main
from lifgen.tools.emit import _example_input, example_run, library_source
from lifgen.errors import InputError
from lifgen.frontend.library import list_models, load_model, model_file
from lifgen.codegen.compiler import checked_semantics

MODELS = list_models()
DTYPES = ("float64", "float32")
STRICT_C = ["cc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]
STRICT_CXX = ["g++", "-x", "c++", "-Wall", "-Werror"]


@pytest.fixture(scope="module")
def emitted(tmp_path_factory):
    """Emit each (model, dtype) once per test module; the folder of its files."""
    folders = {}

    def get(model, dtype):
        if (model, dtype) not in folders:
            folder = tmp_path_factory.mktemp(f"{model}-{dtype}")
            lifgen.emit(model, folder, dtype=dtype)
            folders[model, dtype] = folder
        return folders[model, dtype]
    return get


def _run(command, cwd):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(map(str, command))}:\n{result.stderr}{result.stdout}"
    return result.stdout


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("model", MODELS)
def test_emitted_code_compiles_as_strict_c99_and_as_cxx(model, dtype, emitted):
    folder = emitted(model, dtype)
    for source in (f"{model}.c", "example.c"):
        _run([*STRICT_C, "-c", source, "-o", "/dev/null"], folder)
        if shutil.which("g++"):
            _run([*STRICT_CXX, "-c", source, "-o", "/dev/null"], folder)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("model", MODELS)
def test_example_prints_the_numbers_of_the_python_path(model, dtype, emitted):
    folder = emitted(model, dtype)
    _run(["make", "-s"], folder)
    words = _run(["./example"], folder).split()
    spec = load_model(model)
    n_steps, amplitude = _example_input(spec)
    membrane = "V" if "V" in spec.state_names else spec.state_names[0]
    assert words[0] == "spikes" and words[2] == f"{membrane}[0]"
    result = lifgen.compile(model, dtype=dtype).run(
        n_steps, 100, inputs={spec.input_names[0]: example_run(spec, n_steps, amplitude, dtype)},
        spikes="count", record=[])
    assert int(words[1]) == int(result.spike_count.sum())
    assert np.dtype(dtype).type(float(words[3])) == result.state[membrane][0]
    assert int(words[1]) > 0, "the example's default input should make the neuron fire"


@pytest.mark.parametrize("model", ["lif_cuba", "iaf_psc_exp", "adex", "eif", "qif",
                                   "hodgkin_huxley", "izhikevich", "lif_coba"])
def test_the_example_of_a_users_model_fires(model, tmp_path):
    """A model of the user's own (here a library file under another name, so no gallery panel
    helps) is driven from its own threshold and steady states: 1 pA left an AdEx silent."""
    text = model_file(model).read_text()
    source = tmp_path / f"my_{model}.toml"
    source.write_text(text.replace(f'name = "{model}"', f'name = "my_{model}"', 1))
    lifgen.emit(source, tmp_path / "out")
    _run(["make", "-s"], tmp_path / "out")
    words = _run(["./example"], tmp_path / "out").split()
    assert words[0] == "spikes" and int(words[1]) > 0, words


@pytest.mark.parametrize("model, dtype", [("leaky", "float32"), ("rsynaptic", "float64"),
                                          ("hodgkin_huxley", "float64"), ("lif_cuba", "float32")])
def test_example_runs_clean_under_valgrind(model, dtype, emitted):
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed, so the emitted example's memory use is not checked")
    folder = emitted(model, dtype)
    _run(["make", "-s"], folder)
    _run(["valgrind", "--error-exitcode=1", "--leak-check=full", "--errors-for-leak-kinds=all",
          "-q", "./example", "200"], folder)


def test_the_library_holds_the_kernel_the_python_path_compiles(emitted):
    folder = emitted("leaky", "float64")
    simulator = lifgen.compile("leaky")
    source, _ = simulator.variant({"I": "streamed"})
    assert source.c_source in (folder / "leaky.c").read_text()
    assert library_source("leaky", checked_semantics()).c_source == source.c_source


def test_a_coupled_library_holds_the_network_program(emitted):
    """A model with synapse types runs the one-population network program (n at run time)."""
    text = (emitted("rleaky", "float64") / "rleaky.c").read_text()
    assert "LG_ENTRY int lg_network(" in text and "lg_size" in text
    assert "#define LG_ENTRY static" in text  # (exported only from lifgen's own builds)
    assert "const rleaky_real *weights_rec;" in (emitted("rleaky", "float64") / "rleaky.h").read_text()


COUPLED = textwrap.dedent("""
    #include <stdio.h>
    #include <stdlib.h>
    #include "MODEL.h"

    /* N neurons with the weights of weights.bin (one matrix per synapse type, or none: NULL),
     * half the steps in one run, the rest one step at a time; prints the counts and states. */
    int main(int argc, char **argv)
    {
        enum { N = NEURONS, T = STEPS };
        const int connected = argc > 1;
        (void)argv;
        static double weights[TYPES][N * N], row[N];
        FILE *file = fopen("weights.bin", "rb");
        if (file == NULL || fread(weights, sizeof(double), TYPES * N * N, file) != TYPES * N * N) return 2;
        fclose(file);
        MODEL_population pop;
        if (MODEL_init(&pop, N)) return 2;
        SET_WEIGHTS
        for (int i = 0; i < N; ++i) row[i] = 0.02 * i + AMPLITUDE;
        MODEL_inputs in = {row, 0};
        MODEL_run(&pop, T / 2, &in, NULL);
        uint8_t spiked[N];
        int64_t fired = 0;
        for (int t = T / 2; t < T; ++t) {
            MODEL_step(&pop, &in, spiked);
            for (int i = 0; i < N; ++i) fired += spiked[i] != pop.fired[i];
        }
        printf("%lld\\n", (long long)fired);
        for (int i = 0; i < N; ++i) printf("%lld\\n", (long long)pop.spike_count[i]);
        PRINT_STATES
        MODEL_free(&pop);
        return 0;
    }
""")


@pytest.mark.parametrize("model, amplitude", [("rleaky", 0.3), ("lif_cuba", 1.2)])
@pytest.mark.parametrize("n", [37, 150])
def test_a_coupled_library_gives_the_numbers_of_a_coupled_run(model, amplitude, n, emitted):
    """Dense weights per synapse type give the spike counts and every final state of
    run(connections=...) bit for bit (a step's events summed in the same order, into the state
    a synapse type adds to: lif_cuba's g_e and g_i), and NULL weights those of the uncoupled
    run. 150 neurons: two blocks of 64 flags, two octets and six neurons in its spike list,
    and steps where several neurons spike at once."""
    steps = 400
    folder = emitted(model, "float64")
    spec = load_model(model)
    types = spec.synapse_names
    rng = np.random.default_rng(5)
    signs = {"inh": -1.0}
    weights = {y: signs.get(y, 1.0) * rng.uniform(0, 0.6, (n, n)) * (rng.random((n, n)) < 0.3)
               for y in types}
    np.stack([weights[y] for y in types]).tofile(folder / "weights.bin")
    set_weights = "if (connected) {" + " ".join(f"pop.weights_{y} = weights[{k}];"
                                                for k, y in enumerate(types)) + "}"
    program = COUPLED.replace("MODEL", model).replace("NEURONS", str(n)).replace(
        "STEPS", str(steps)).replace("TYPES", str(len(types))).replace(
        "SET_WEIGHTS", set_weights).replace("PRINT_STATES", " ".join(
            f'for (int i = 0; i < N; ++i) {{ printf("%.17g\\n", pop.state.s_{s}[i]); }}'
            for s in spec.state_names)).replace("AMPLITUDE", repr(amplitude))
    (folder / "coupled.c").write_text(program)
    _run(["make", "-s"], folder)
    _run([*STRICT_C, "coupled.c", f"lib{model}.a", "-lm", "-o", "coupled"], folder)
    simulator = lifgen.compile(model)
    inputs = {spec.input_names[0]: 0.02 * np.arange(n) + amplitude}
    finals = []
    # the library's weights are [pre][post]; run(connections=...)'s W[i, j] is from j to i
    for connected, connections in ((True, {y: w.T.copy() for y, w in weights.items()}),
                                   (False, None)):
        lines = _run(["./coupled", *(["connected"] if connected else [])], folder).split()
        result = simulator.run(steps, n, inputs=inputs, spikes="count",
                               **({"connections": connections} if connections else {}))
        assert int(lines[0]) == 0  # NAME_step's spikes are the fired flags
        counts = np.array(lines[1:1 + n], dtype=np.int64)
        np.testing.assert_array_equal(counts, result.spike_count)
        assert counts.sum() > 0
        final = np.array([float(v) for v in lines[1 + n:]]).reshape(-1, n)
        assert len(final) == len(spec.state_names)
        for s, values in zip(spec.state_names, final):
            np.testing.assert_array_equal(values, result.state[s], err_msg=s)
        finals.append(final)
    assert not np.array_equal(*finals)  # the weights were felt
    if shutil.which("valgrind") is not None:
        _run(["valgrind", "--error-exitcode=1", "--leak-check=full",
              "--errors-for-leak-kinds=all", "-q", "./coupled", "connected"], folder)


POPULATIONS = textwrap.dedent("""
    #include <stdio.h>
    #include <stdlib.h>
    #include "leaky.h"

    /* Two populations side by side, one step at a time, against each run alone. */
    int main(void)
    {
        enum { N = 7, T = 60 };
        leaky_population a, b, alone;
        if (leaky_init(&a, N) || leaky_init(&b, N) || leaky_init(&alone, N)) return 2;
        double row_a[N], row_b[N];
        for (int i = 0; i < N; ++i) {
            row_a[i] = 0.1 + 0.05 * i;
            row_b[i] = 0.3;
            b.params.p_beta[i] = 0.5;
        }
        leaky_inputs in_a = {row_a, 0}, in_b = {row_b, 0};
        uint8_t spiked[N];
        for (int t = 0; t < T; ++t) {
            leaky_step(&a, &in_a, spiked);
            leaky_step(&b, &in_b, NULL);
        }
        int64_t steps[1000], neurons[1000];
        leaky_events events = {steps, neurons, 1000, 0};
        leaky_run(&alone, T, &in_a, &events);
        for (int i = 0; i < N; ++i)
            if (a.state.s_V[i] != alone.state.s_V[i] || a.spike_count[i] != alone.spike_count[i]) return 3;
        printf("%lld\\n", (long long)events.count);
        for (int64_t k = 0; k < events.count; ++k) printf("%lld %lld\\n", (long long)steps[k], (long long)neurons[k]);
        for (int i = 0; i < N; ++i) printf("%.17g\\n", b.state.s_V[i]);
        leaky_free(&a); leaky_free(&b); leaky_free(&alone);
        return 0;
    }
""")


def test_populations_run_side_by_side_and_report_events(emitted):
    folder = emitted("leaky", "float64")
    (folder / "populations.c").write_text(POPULATIONS)
    _run(["make", "-s"], folder)
    _run([*STRICT_C, "populations.c", "libleaky.a", "-lm", "-o", "populations"], folder)
    lines = _run(["./populations"], folder).split("\n")
    count = int(lines[0])
    events = np.array([line.split() for line in lines[1:1 + count]], dtype=np.int64).reshape(-1, 2)
    simulator = lifgen.compile("leaky")
    a = simulator.run(60, 7, inputs={"I": 0.1 + 0.05 * np.arange(7)}, spikes="events")
    b = simulator.run(60, 7, inputs={"I": 0.3}, params={"beta": 0.5})
    assert count == a.spike_events[0].size > 0
    np.testing.assert_array_equal(events[:, 0], a.spike_events[0])
    np.testing.assert_array_equal(events[:, 1], a.spike_events[1])
    np.testing.assert_array_equal([float(v) for v in lines[1 + count:1 + count + 7]], b.state["V"])


def test_emit_never_overwrites_silently(tmp_path, capsys):
    (tmp_path / "Makefile").write_text("mine\n")
    with pytest.raises(InputError, match="Makefile.*--force"):
        lifgen.emit("leaky", tmp_path)
    assert (tmp_path / "Makefile").read_text() == "mine\n" and not (tmp_path / "leaky.c").exists()
    assert main(["emit", "leaky", "--out", str(tmp_path)]) == 2
    assert "already has Makefile" in capsys.readouterr().err
    assert main(["emit", "leaky", "--out", str(tmp_path), "--force", "--prefix", "lif",
                 "--dtype", "float32"]) == 0
    header = (tmp_path / "lif.h").read_text()
    assert "lifgen emit leaky --out" in header and "--prefix lif" in header
    assert "lif_population" in header and "float" in header
    assert (tmp_path / "Makefile").read_text() != "mine\n"


def test_emit_rejects_a_prefix_that_is_not_a_c_identifier(tmp_path):
    with pytest.raises(InputError, match="C identifier"):
        lifgen.emit("leaky", tmp_path, prefix="my-lib")


def _nvcc():
    """nvcc from PATH or $LIFGEN_NVCC (the nvidia-cuda-nvcc wheel works without a GPU), or skip."""
    import os

    nvcc = os.environ.get("LIFGEN_NVCC") or shutil.which("nvcc")
    if not nvcc:
        pytest.skip("no nvcc here: set LIFGEN_NVCC or put CUDA's nvcc on PATH")
    return nvcc


@pytest.mark.parametrize("model, dtype", [("lif_cuba", "float64"), ("rleaky", "float32"),
                                          ("hodgkin_huxley", "float32")])
def test_emit_cuda_holds_the_python_paths_kernels(tmp_path, model, dtype):
    written = lifgen.emit(model, tmp_path, dtype=dtype, target="cuda")
    assert sorted(p.name for p in written) == sorted(
        [f"{model}.h", f"{model}.cu", "example.c", "Makefile"])
    text = (tmp_path / f"{model}.cu").read_text()
    source = library_source(model, checked_semantics(dtype=dtype), "cuda")
    assert source.c_source in text and source.prologue.c_source in text
    assert "--fmad=false" in (tmp_path / "Makefile").read_text()
    header = (tmp_path / f"{model}.h").read_text()
    c_header = (lifgen.emit(model, tmp_path / "c", dtype=dtype)[0]).read_text()
    if load_model(model).synapses:  # the CUDA library is uncoupled, and says so
        assert "This CUDA library is uncoupled" in header and "weights_" not in header
        assert "weights_" in c_header
    else:
        assert header == c_header


@pytest.mark.parametrize("model", ["leaky", "rsynaptic", "adex"])
def test_emit_cuda_builds_with_nvcc_without_a_warning(tmp_path, model):
    nvcc = _nvcc()
    lifgen.emit(model, tmp_path, target="cuda")
    output = _run(["make", "-s", f"NVCC={nvcc}", "ARCH=sm_90",
                   "NVCCFLAGS=-O2 -arch=sm_90 --fmad=false -Xcompiler -ffp-contract=off,-Wall"],
                  tmp_path)
    assert "warning" not in output and (tmp_path / "example").exists()


@pytest.mark.gpu
@pytest.mark.parametrize("model, dtype", [("lif_cuba", "float64"), ("rsynaptic", "float32")])
def test_the_cuda_example_prints_the_numbers_of_the_python_path(tmp_path, model, dtype):
    pytest.importorskip("cupy", reason="the GPU tests need CuPy")
    nvcc = _nvcc()
    lifgen.emit(model, tmp_path, dtype=dtype, target="cuda")
    _run(["make", "-s", f"NVCC={nvcc}"], tmp_path)
    words = _run(["./example"], tmp_path).split()
    spec = load_model(model)
    n_steps, amplitude = _example_input(spec)
    membrane = "V" if "V" in spec.state_names else spec.state_names[0]
    result = lifgen.compile(model, dtype=dtype, target="cuda").run(
        n_steps, 100, inputs={spec.input_names[0]: example_run(spec, n_steps, amplitude, dtype)},
        spikes="count", record=[])
    assert int(words[1]) == int(result.spike_count.sum())
    assert np.dtype(dtype).type(float(words[3])) == result.state[membrane][0]
    assert int(words[1]) > 0, "the example's default input should make the neuron fire"


def test_emit_says_that_a_coupled_models_cuda_library_is_uncoupled(tmp_path, capsys):
    assert main(["emit", "rleaky", "--out", str(tmp_path), "--target", "cuda"]) == 0
    assert "not coupled" in capsys.readouterr().err
    assert main(["emit", "rleaky", "--out", str(tmp_path / "c")]) == 0
    assert "not coupled" not in capsys.readouterr().err


def test_the_cuda_example_says_when_cuda_failed_instead_of_printing_numbers(tmp_path):
    """Built with nvcc and run where CUDA cannot run it (no GPU here; on a GPU machine, a
    device number that does not exist): the library's calls fail with CUDA's message and the
    example exits 1 without a spike count."""
    import os
    import subprocess

    nvcc = _nvcc()
    lifgen.emit("leaky", tmp_path, target="cuda")
    _run(["make", "-s", f"NVCC={nvcc}", "ARCH=sm_90"], tmp_path)
    run = subprocess.run(["./example", "100"], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "CUDA_VISIBLE_DEVICES": "-1"}, timeout=60)
    assert run.returncode == 1 and "spikes" not in run.stdout
    assert "leaky: CUDA error:" in run.stderr and "leaky_run failed" in run.stderr
