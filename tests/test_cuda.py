"""The cuda target. Without a GPU: its source compiles with NVRTC for every library model and
option set, without a warning, and the same text compiled as C ("cuda-host": each thread in turn
on the CPU) gives the C target's numbers bit for bit. With a GPU (`pytest -m gpu`): the kernels
give the C target's numbers there too."""

import platform
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import lifgen
from lifgen.errors import InputError, LifgenError
from lifgen.frontend.library import list_models
from lifgen.frontend.modelfile import model_from_document
from lifgen.codegen.options import Schedule, Variant
from lifgen.codegen.compiler import kernel_source, checked_semantics
from lifgen.targets.cuda.target import TARGET
from kernel_cases import PHASE

# every model's kernel runs uncoupled neurons (a recurrent synapse unconnected holds its bias)
UNCOUPLED = list_models()
CONNECTED = ("lif_cuba", "lif_coba", "synaptic", "rleaky", "rsynaptic")  # coupled by connections
DRIVE = {"hodgkin_huxley": 20.0, "izhikevich": 10.0, "adex": 500.0, "lif_cuba": 30.0,
         "lif_coba": 30.0, "eif": 5.0, "qif": 20.0,
         "adaptive_lif": 500.0, "cobahh": 5000.0, "adex_cuba": 500.0,
         "iaf_psc_exp": 400.0}  # inputs that make each spike
ADAPTIVE = str(Path(__file__).parent / "models" / "adaptive_lif.toml")  # V frozen while refractory
OU = {"model": {"name": "ou"}, "parameters": {"tau": 10.0, "sigma": 0.5, "theta": 0.3},
      "states": {"V": 0.0}, "equations": {"laws": ["dV/dt = -V/tau + sigma*xi"]},
      "spike": {"condition": "V > theta"}, "reset": {"mechanism": "subtract"},
      "simulation": {"dt": 0.1}}
# sinh and cosh (no library model calls them), their arguments bounded (tanh) but up to +-50
HYPERBOLIC = {"model": {"name": "hyperbolic"}, "parameters": {"tau": 10.0}, "states": {"V": 0.0},
              "inputs": {"I": {}},
              "equations": {"laws": ["dV/dt = (I - V + 0.01*sinh(4*tanh(V)*I) "
                                     "+ 0.02*cosh(4*tanh(I*V)))/tau"]},
              "spike": {"condition": "V > 1"}, "reset": {"mechanism": "subtract"},
              "simulation": {"dt": 0.1}}
DOCUMENTS = {"ou": OU, "phase": PHASE, "hyperbolic": HYPERBOLIC}


def nvrtc():
    """NVRTC's module; on Linux x86-64 (CI) its wheels are test dependencies and must load."""
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        pytest.skip("the NVRTC wheels (cuda-bindings, nvidia-cuda-nvrtc) are for Linux x86-64")
    from lifgen.targets.cuda import nvrtc as module
    module.bindings()
    return module


def cuda_source(model, variant=None, **options):
    """The generated CUDA of `model`, for `variant` (default: parameters shared, inputs held)."""
    semantics = checked_semantics(**options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source = kernel_source(model, semantics, Schedule(), TARGET)
    if variant is not None:
        source = TARGET.render(source.step_map, semantics, Schedule(), variant)
    return source


def per_neuron(model):
    """The variant with every parameter per neuron and every input streamed."""
    loaded = lifgen.load_model(model) if isinstance(model, str) else model
    return Variant.of({u: "streamed" for u in loaded.input_names})


COMPILE_CASES = (
    [(m, {"dtype": d}, None) for m in UNCOUPLED for d in ("float64", "float32")]
    + [(m, {"dtype": d}, "per_neuron") for m in UNCOUPLED for d in ("float64", "float32")]
    + [("leaky", {"reset": r, "reset_timing": t}, None) for r in ("zero", "subtract", "none")
       for t in ("next_step", "same_step")]
    + [("leaky", {"reset_delay": False}, None), ("leaky", {"graded_spikes": 0.5}, None),
       ("leaky", {"state_quant": [0.0, 0.5, 1.0]}, "per_neuron"),
       ("lapicque", {"method": "exact", "precise": True, "reset_timing": "same_step"}, None),
       ("lapicque", {"method": "exact", "precise": True, "reset_timing": "same_step", "dtype": "float32"}, "per_neuron"),
       ("izhikevich", {"method": "euler"}, None), ("hodgkin_huxley", {"method": "rk4"}, None),
       ("leaky", {}, "time"), ("ou", {}, None), ("ou", {"dtype": "float32"}, "per_neuron")]
    + [("rleaky", {"reset_delay": False, "dtype": "float32"}, "per_neuron"),
       ("phase", {"method": "euler"}, None), ("phase", {"method": "euler", "dtype": "float32"}, None)])


def _case_id(case):
    model, options, variant = case
    return "-".join([Path(model).stem, *(f"{k}={v}" for k, v in options.items()),
                     variant or "shared"])


# NVRTC's warnings come from its front end and NVVM, which PTX runs through; ptxas, which a
# cubin adds (twice their time), runs for these models' plain cases, the largest kernels among
# them in both float types, and for the coupled runs of these models
CUBIN_MODELS = ("hodgkin_huxley", "adex", "lapicque", "rleaky")


def assert_compiles_without_a_warning(compiler, text, cubin=True):
    """NVRTC compiles `text` for sm_90 without a word: to a cubin (through ptxas), or to PTX."""
    if cubin:
        binary, log, _ = compiler.compile_cubin(text, "sm_90")
        assert log == "" and binary[:4] == b"\x7fELF", log
    else:
        ptx, log = compiler.compile_ptx(text, "compute_90")
        assert log == "" and ".entry lg_" in ptx, log


@pytest.mark.parametrize("model, options, variant", COMPILE_CASES,
                         ids=[_case_id(c) for c in COMPILE_CASES])
def test_the_generated_cuda_compiles_without_a_warning(model, options, variant):
    compiler = nvrtc()
    loaded = model_from_document(DOCUMENTS[model], f"{model}.toml") if model in DOCUMENTS else model
    chosen = {None: None, "per_neuron": per_neuron(loaded),
              "time": Variant.of({"I": "time"}, ("beta", "threshold"))}[variant]
    source = cuda_source(loaded, chosen, **options)
    plain = set(options) <= {"dtype"} and variant in (None, "per_neuron")
    assert_compiles_without_a_warning(compiler, source.c_source,
                                      cubin=model in CUBIN_MODELS and plain)


def test_nvrtc_writes_only_into_buffers_of_its_own():
    """NVRTC wrote an empty log's NUL into b" " * 1, which is Python's one shared b" ": every
    b" " of the process then read b"\\0" (a later test's .npy header came out of NULs)."""
    compiler = nvrtc()
    ptx, log = compiler.compile_ptx(cuda_source("leaky").c_source, "compute_90")
    assert log == "" and ".entry lg_" in ptx
    assert bytes([32]) == b"\x20" and b" "[0] == 32 and (b" " * 3) == b"\x20\x20\x20"


@pytest.mark.parametrize("model, options", [
    ("hodgkin_huxley", {"method": "rk4"}),
    ("lapicque", {"method": "exact", "precise": True, "reset_timing": "same_step"})])
def test_a_kernel_taking_dt_at_run_time_compiles_for_the_gpu(model, options):
    semantics = checked_semantics(**options)
    source = TARGET.render(kernel_source(model, semantics, Schedule(), TARGET).step_map,
                           semantics, Schedule(runtime_dt=True), Variant.of())
    assert "lg_a.dt" in source.c_source or "->dt" in source.c_source
    cubin, log, _ = nvrtc().compile_cubin(source.c_source, "sm_90")
    assert log == "" and cubin[:4] == b"\x7fELF"


@pytest.mark.parametrize("arch", ["sm_75", "sm_80"])
def test_older_gpus_compile_too(arch):
    for model in ("leaky", "hodgkin_huxley"):
        _, log, _ = nvrtc().compile_cubin(cuda_source(model).c_source, arch)
        assert log == ""


def test_cubins_are_cached_by_source_options_and_architecture():
    compiler = nvrtc()
    text = cuda_source("qif").c_source
    first = compiler.compile_cubin(text, "sm_90")
    again = compiler.compile_cubin(text, "sm_90")
    assert again[2] is True and again[0] == first[0]
    assert compiler.compile_cubin(text, "sm_90", flush_denormals=True)[2] is False
    assert compiler.compile_cubin(text, "sm_80")[2] is False


def test_a_warm_compile_in_a_new_process_does_not_load_nvrtc(tmp_path):
    import subprocess
    import sys

    compiler = nvrtc()
    text = cuda_source("leaky", dtype="float32").c_source
    compiler.compile_cubin(text, "sm_90")
    (tmp_path / "kernel.cu").write_text(text)
    probe = ("import sys; from lifgen.targets.cuda import nvrtc; "
             f"_, _, cached = nvrtc.compile_cubin(open({str(tmp_path / 'kernel.cu')!r}).read(), "
             "'sm_90'); print(cached, 'cuda.bindings.nvrtc' in sys.modules)")
    answer = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=120)
    assert answer.stdout.split() == ["True", "False"], answer.stderr


def test_the_cache_key_names_the_libnvrtc_that_compiles(tmp_path):
    """The key names the library by path, size and time: the wheel's before NVRTC is loaded
    and the same once it is; a system CUDA's libnvrtc, loaded first by another library, is
    found in the process's mappings and named instead."""
    import subprocess
    import sys

    probe = ("from lifgen.targets.cuda import nvrtc; before = nvrtc.identity(); "
             "nvrtc.version(); print(before == nvrtc.identity(), nvrtc.loaded_library() in before)")
    answer = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=120)
    assert answer.stdout.split() == ["True", "True"], answer.stderr
    maps = tmp_path / "maps"
    maps.write_text("7f8d7be00000-7f8d7c536000 r--p 00000000 fe:00 5334492    "
                    "/usr/lib/x86_64-linux-gnu/libc.so.6\n"
                    "7f8d7c536000-7f8d8271b000 r-xp 00736000 fe:00 5334493    "
                    f"{tmp_path}/cuda-12.4/lib64/libnvrtc.so.12\n")
    assert nvrtc().loaded_library(str(maps)) == f"{tmp_path}/cuda-12.4/lib64/libnvrtc.so.12"


def test_a_compiler_error_quotes_nvrtc_with_line_numbers():
    with pytest.raises(LifgenError, match=r"kernel\.cu\(\d+\): error"):
        nvrtc().compile_cubin("extern \"C\" __global__ void lg_run() { undeclared = 1; }", "sm_90")


def test_the_source_is_readable_and_names_the_target():
    text = cuda_source("lif_cuba", method="exact", dt=0.1).c_source
    assert "Generated by lifgen" in text and "method exact" in text and "dt = 0.1" in text
    assert "one GPU thread per neuron" in text
    assert "/* V <- k0 + k1*V + k2*I + k3*g_e + k4*g_i */" in text
    assert "__global__ void lg_run" in text
    code = re.sub(r"/\*.*?\*/", "", text.split("LG_DEVICE void lg_neuron(")[1], flags=re.S)
    assert "exp(" not in code  # propagators come from the host, computed by the C target's code


def coupled_cases():
    """(model, compile options, run arguments) of single populations whose runs couple the
    neurons: each runs as a one-population network, whose CUDA is what runs on the GPU."""
    rng = np.random.default_rng(6)
    ring = lifgen.Sparse.from_arrays([0, 1, 2], [1, 2, 0], [0.5, 0.25, 0.5], delay=[1, 2, 3],
                                     n_pre=3, n_post=3)
    poisson = (lifgen.Poisson(4, 0.5), rng.uniform(0, 1, (3, 4)))
    cases = [(m, {"dtype": d}, {"connections": {y: ring for y in lifgen.load_model(m).synapse_names}})
             for m in CONNECTED for d in ("float64", "float32")]
    cases += [("lif_cuba", {}, {"connections": {"exc": rng.uniform(0, 1, (3, 3))},
                                "drives": {"inh": poisson}}),
              (ADAPTIVE, {}, {"drives": {"kick": poisson}}),  # events onto a frozen state dropped
              ("rleaky", {"graded_spikes": 0.5, "dtype": "float32"},
               {"connections": {"rec": rng.uniform(0, 1, 3)}})]
    cases += [(m, {"inhibition": True, "dtype": d}, {}) for m in ("leaky", "rleaky")
              for d in ("float64", "float32")]
    return cases


COUPLED_CASES = coupled_cases()


@pytest.mark.parametrize("model, options, run", COUPLED_CASES,
                         ids=[_case_id(c[:2] + (" ".join(sorted(c[2])) or None,))
                              for c in COUPLED_CASES])
def test_the_cuda_of_coupled_runs_compiles_without_a_warning(cuda_host, model, options, run):
    """Connections, drives, graded spikes and winner-take-all: the network CUDA of the run."""
    compiler = nvrtc()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = lifgen.compile(model, target="cuda-host", **options).source(5, 3, **run)
    assert "__global__" in text
    assert_compiles_without_a_warning(compiler, text, cubin=model in CUBIN_MODELS)


def _inputs(c, n, steps, layout, rng):
    scale = DRIVE.get(c.model.name, 1.5)
    shape = {"held": (n,), "streamed": (steps, n), "time": (steps, 1), "batch": (steps, 2, n),
             "wide": (steps, n)}
    low, high = (-2.0, 8.0) if layout == "wide" else (0.5, 1.5)  # wide: the exponentials far out
    return {u: scale * rng.uniform(low, high, shape[layout]) for u in c.model.input_names}


# driven across their exponentials' range (hodgkin_huxley's rate functions are cobahh's, whose
# kernel compiles in a third of the time; hodgkin_huxley itself is among the held cases)
TRANSCENDENTAL = ("adex", "adex_cuba", "eif", "cobahh", "lif_coba", "alpha", "hyperbolic")


HOST_CASES = (  # every model in float64 and float32, the elementary functions in lifgen's own C
    [(m, {"dtype": d}, "held") for m in UNCOUPLED for d in ("float64", "float32")]
    + [(m, {"dtype": d}, "wide") for m in TRANSCENDENTAL for d in ("float64", "float32")]
    + [("leaky", {"reset": r, "reset_timing": t}, "streamed") for r in ("zero", "subtract", "none")
       for t in ("next_step", "same_step")]
    + [("leaky", {"reset_delay": False}, "time"), ("leaky", {"graded_spikes": 0.5}, "batch"),
       ("leaky", {"state_quant": [0.0, 0.5, 1.0, 1.5, 2.0], "reset": "none"}, "held"),
       ("lapicque", {"method": "exact", "precise": True, "reset_timing": "same_step"}, "streamed"),
       ("synaptic", {"dtype": "float32"}, "batch"), ("lif_cuba", {"method": "exact"}, "time"),
       ("hodgkin_huxley", {"method": "rk4"}, "streamed"), ("ou", {}, "held"),
       ("ou", {"dtype": "float32"}, "held"), ("phase", {"method": "euler"}, "held"),
       ("phase", {"dtype": "float32", "method": "euler"}, "held"),
       (ADAPTIVE, {"method": "rk4"}, "streamed"), (ADAPTIVE, {"method": "exact"}, "held"),
       ("hodgkin_huxley", {"method": "rk4", "runtime_dt": True}, "held"),
       ("lapicque", {"method": "exact", "precise": True, "reset_timing": "same_step",
                     "runtime_dt": True}, "streamed")])


@pytest.mark.parametrize("model, options, layout", HOST_CASES,
                         ids=[_case_id(c) for c in HOST_CASES])
def test_the_cuda_source_compiled_as_c_gives_the_c_numbers(cuda_host, model, options, layout):
    loaded = model_from_document(DOCUMENTS[model], f"{model}.toml") if model in DOCUMENTS else model
    c = lifgen.compile(loaded, **options)
    cuda = lifgen.compile(loaded, target="cuda-host", **options)
    steps, n = 150, 13
    rng = np.random.default_rng(3)
    inputs = _inputs(c, n, steps, layout, rng)
    params = {p: np.full(n, v) * rng.uniform(0.98, 1.02, n)
              for p, v in c.model.defaults.items() if p in ("tau", "beta", "threshold", "tau_m")}
    run = dict(inputs=inputs, params=params, record={s: [0, 4, 12] for s in c.step_map.state_names},
               seed=9)
    expected, got = c.run(steps, n, **run), cuda.run(steps, n, **run)
    assert expected.spike_count.sum() > 0 or model == "ou"
    for name in expected.state:
        np.testing.assert_array_equal(got.state[name], expected.state[name])
        np.testing.assert_array_equal(got.traces[name], expected.traces[name])
    np.testing.assert_array_equal(got.spikes, expected.spikes)
    np.testing.assert_array_equal(got.spike_count, expected.spike_count)
    if expected.spike_offsets is not None:
        np.testing.assert_array_equal(got.spike_offsets, expected.spike_offsets)


def test_events_chunks_and_continued_runs_match(cuda_host):
    c, cuda = lifgen.compile("leaky"), lifgen.compile("leaky", target="cuda-host")
    inputs = {"I": np.random.default_rng(1).uniform(0, 0.6, (400, 50))}
    expected = c.run(400, 50, inputs=inputs, spikes="events")
    got = cuda.run(400, 50, inputs=inputs, spikes="events", progress=True)
    for mine, theirs in zip(got.spike_events, expected.spike_events):
        np.testing.assert_array_equal(mine, theirs)
    first = cuda.run(200, 50, inputs={"I": inputs["I"][:200]}, spikes="count")
    rest = cuda.run(200, 50, inputs={"I": inputs["I"][200:]}, initial=first.state, spikes="count")
    np.testing.assert_array_equal(first.spike_count + rest.spike_count, expected.spike_count)


def test_without_a_gpu_compile_says_what_is_missing(without_gpu):
    with pytest.raises(LifgenError, match=r"lifgen\[cuda\]|no CUDA GPU"):
        lifgen.compile("leaky", target="cuda")


def gpu():
    cupy = pytest.importorskip("cupy", reason="the GPU tests need CuPy: pip install 'lifgen[cuda]'")
    if not cupy.cuda.is_available():
        pytest.skip("no CUDA GPU on this machine")
    return cupy


@pytest.mark.gpu
@pytest.mark.parametrize("model", UNCOUPLED)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_on_the_gpu_the_numbers_are_the_c_targets(model, dtype):
    gpu()
    c, cuda = lifgen.compile(model, dtype=dtype), lifgen.compile(model, dtype=dtype, target="cuda")
    steps, n = 1000, 2000
    inputs = _inputs(c, n, steps, "held", np.random.default_rng(7))
    record = {s: [0, 999, 1999] for s in c.step_map.state_names}
    expected = c.run(steps, n, inputs=inputs, record=record)
    got = cuda.run(steps, n, inputs=inputs, record=record)
    np.testing.assert_array_equal(got.spikes, expected.spikes)
    for name in expected.state:  # exp, log and exprel are lifgen's own on both: the same bits
        np.testing.assert_array_equal(got.state[name], expected.state[name])
        np.testing.assert_array_equal(got.traces[name], expected.traces[name])


def test_output_device_keeps_the_devices_arrays(cuda_host):
    cuda = lifgen.compile("synaptic", target="cuda-host")
    inputs = {"I": np.random.default_rng(2).uniform(0, 0.5, (120, 9))}
    host = cuda.run(120, 9, inputs=inputs, record=["V"])
    kept = cuda.run(120, 9, inputs=inputs, record=["V"], output="device")
    for name in host.state:
        np.testing.assert_array_equal(kept.state[name], host.state[name])
    np.testing.assert_array_equal(kept.traces["V"], host.traces["V"])
    np.testing.assert_array_equal(kept.spikes, host.spikes)
    with pytest.raises(InputError, match="output must be one of"):
        cuda.run(10, 2, output="gpu")


class FakeGPUArray:
    """Looks like a CUDA array to lifgen (no GPU is touched before the target is checked)."""

    __cuda_array_interface__ = {"shape": (10, 3), "typestr": "<f8", "data": (0, False),
                                "version": 3}


def test_gpu_arrays_and_device_output_need_the_cuda_target():
    c = lifgen.compile("leaky")
    with pytest.raises(InputError, match=r"inputs\['I'\] is a GPU array; run it with target='cuda'"):
        c.run(10, 3, inputs={"I": FakeGPUArray()})
    with pytest.raises(InputError, match="output='device'.*target='cuda'"):
        c.run(10, 3, output="device")
    with pytest.raises(InputError, match=r"initial\['V'\] is a GPU array; only inputs"):
        c.run(10, 3, initial={"V": FakeGPUArray()})
    with pytest.raises(InputError, match=r"params\['beta'\] is a GPU array; only inputs"):
        c.run(10, 3, params={"beta": FakeGPUArray()})


def test_the_cli_shows_cuda_and_explains_a_missing_gpu(capsys):
    from lifgen.cli import main

    assert main(["show", "leaky", "--target", "cuda"]) == 0
    out = capsys.readouterr().out
    assert "== Generated CUDA" in out and "__global__ void lg_run" in out
    try:
        import cupy
        if cupy.cuda.is_available():
            return
    except ImportError:
        pass
    assert main(["simulate", "leaky", "--steps", "10", "--target", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lifgen: error: target='cuda'") and "Traceback" not in err


@pytest.mark.gpu
def test_gpu_arrays_go_in_without_a_copy_and_come_back_on_request():
    cupy = gpu()
    c, cuda = lifgen.compile("leaky", dtype="float32"), lifgen.compile("leaky", dtype="float32",
                                                                        target="cuda")
    current = np.random.default_rng(4).uniform(0, 0.6, (500, 1000)).astype(np.float32)
    expected = c.run(500, 1000, inputs={"I": current}, record={"V": [3]})
    on_gpu = cuda.run(500, 1000, inputs={"I": cupy.asarray(current)}, record={"V": [3]},
                      output="device")
    assert isinstance(on_gpu.spikes, cupy.ndarray) and isinstance(on_gpu.state["V"], cupy.ndarray)
    np.testing.assert_array_equal(on_gpu.spikes.get(), expected.spikes)
    np.testing.assert_array_equal(on_gpu.state["V"].get(), expected.state["V"])
    np.testing.assert_array_equal(on_gpu.traces["V"].get(), expected.traces["V"])
    try:
        import torch
    except ImportError:
        return
    tensor = torch.as_tensor(current, device="cuda")
    from_torch = cuda.run(500, 1000, inputs={"I": tensor}, spikes="count")
    np.testing.assert_array_equal(from_torch.spike_count, expected.spike_count)


@pytest.mark.gpu
def test_the_gpu_memory_guard_refuses_before_allocating():
    gpu()
    cuda = lifgen.compile("leaky", target="cuda")
    free = __import__("cupy").cuda.runtime.memGetInfo()[0]
    neurons = int(free // 8) + 1  # float64 states alone are more than the free memory
    with pytest.raises(InputError, match="GiB on the GPU"):
        cuda.run(1, neurons, spikes="count")


@pytest.mark.gpu
def test_on_the_gpu_noise_precise_spikes_and_events_match():
    gpu()
    ou = model_from_document(OU, "ou.toml")
    c, cuda = lifgen.compile(ou), lifgen.compile(ou, target="cuda")
    expected, got = c.run(500, 300, seed=3, spikes="events"), cuda.run(500, 300, seed=3,
                                                                       spikes="events")
    for mine, theirs in zip(got.spike_events, expected.spike_events):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(got.state["V"], expected.state["V"])  # lifgen's log and cos
    options = {"method": "exact", "precise": True, "reset_timing": "same_step"}
    c, cuda = lifgen.compile("lapicque", **options), lifgen.compile("lapicque", target="cuda",
                                                                    **options)
    current = {"I": np.random.default_rng(8).uniform(0, 1.0, 400)}
    expected, got = c.run(300, 400, inputs=current), cuda.run(300, 400, inputs=current)
    np.testing.assert_array_equal(got.spike_offsets, expected.spike_offsets)


def test_the_gpu_benchmarks_reference_kernels_compile():
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_ceiling.cu").read_text()
    _, log, _ = nvrtc().compile_cubin(text, "sm_90")
    assert log == ""


KICKED = {"model": {"name": "kicked"}, "parameters": {"alpha": 0.8, "beta": 0.9},
          "states": {"g": 0.0, "V": 0.0}, "inputs": {"I": {}}, "synapses": {"exc": {"target": "g"}},
          "equations": {"update": {"g": "alpha*g", "V": "beta*V + g + I"}},
          "spike": {"condition": "V > 1"}, "reset": {"mechanism": "zero", "timing": "same_step"}}


def network_cases():
    """(model, run arguments) of coupled networks: every connection kind, drives, batches."""
    rng = np.random.default_rng(4)
    n = 60
    base = lifgen.Sparse.random(n, n, 0.1, 0.0, seed=5)
    sparse = lifgen.Sparse.from_arrays(base.pre, base.post, rng.normal(0.05, 0.2, base.n_synapses),
                                       delay=rng.integers(1, 6, base.n_synapses), n_pre=n, n_post=n)
    drive = rng.uniform(0.0, 0.15, n)
    kicked = model_from_document(KICKED, "kicked.toml")
    return n, [
        ("sparse, delays", kicked, dict(inputs={"I": drive}, connections={"exc": sparse})),
        ("dense", kicked, dict(inputs={"I": drive}, connections={"exc": rng.normal(0.01, 0.05, (n, n))})),
        ("bernoulli drive", kicked, dict(inputs={"I": drive}, drives={"exc": (
            lifgen.Bernoulli(20, 0.05), rng.uniform(0, 0.3, (n, 20)))})),
        ("spike train", kicked, dict(inputs={"I": drive}, drives={"exc": (
            lifgen.SpikeTrain(3, [0, 4, 9, 9], [0, 1, 2, 0]), rng.uniform(0, 0.3, (n, 3)))})),
        ("rleaky dense", "rleaky", dict(inputs={"I": 3 * drive},
                                        connections={"rec": rng.normal(0.0, 0.1, (n, n))})),
        ("rleaky one-to-one", "rleaky", dict(inputs={"I": 3 * drive},
                                             connections={"rec": rng.normal(0.0, 0.3, n)})),
        ("rsynaptic batch", "rsynaptic", dict(inputs={"I": rng.uniform(0, 0.3, (120, 2, n))},
                                              connections={"rec": sparse})),
        ("leaky inhibition", ("leaky", {"inhibition": True}),
         dict(inputs={"I": rng.uniform(0, 0.5, (120, 2, n))})),
        ("rleaky inhibition", ("rleaky", {"inhibition": True}),
         dict(inputs={"I": 3 * drive}, connections={"rec": rng.normal(0.0, 0.1, (n, n))})),
        ("lif_cuba poisson", "lif_cuba", dict(inputs={"I": 15.0}, connections={"exc": sparse},
                                              drives={"inh": (lifgen.Poisson(10, 0.5),
                                                              rng.uniform(0, 2, (n, 10)))})),
        ("frozen target, input dropped", ADAPTIVE, dict(
            inputs={"I": 450.0}, drives={"kick": (lifgen.Poisson(10, 2.0),
                                                  rng.uniform(0, 4, (n, 10)))})),
    ]


NETWORK_N, NETWORKS = network_cases()


@pytest.mark.parametrize("case", range(len(NETWORKS)), ids=[c[0] for c in NETWORKS])
def test_coupled_networks_compiled_as_c_give_the_c_numbers(cuda_host, case):
    _, model, run = NETWORKS[case]
    model, options = model if isinstance(model, tuple) else (model, {})
    c, cuda = lifgen.compile(model, **options), lifgen.compile(model, target="cuda-host", **options)
    record = {s: [0, 7, NETWORK_N - 1] for s in c.step_map.state_names}
    expected = c.run(120, NETWORK_N, record=record, seed=2, **run)
    got = cuda.run(120, NETWORK_N, record=record, seed=2, progress=True, **run)
    assert expected.spike_count.sum() > 0
    np.testing.assert_array_equal(got.spikes, expected.spikes)
    for name in expected.state:
        np.testing.assert_array_equal(got.state[name], expected.state[name])
        np.testing.assert_array_equal(got.traces[name], expected.traces[name])


@pytest.mark.gpu
@pytest.mark.parametrize("case", range(len(NETWORKS)), ids=[c[0] for c in NETWORKS])
def test_on_the_gpu_networks_with_integer_weights_spike_as_on_the_cpu(case):
    """Atomic adds run in another order on the GPU: with integer-valued weights every sum is
    exact in any order, so spikes and states are identical."""
    gpu()
    _, model, run = NETWORKS[case]
    run = {key: ({name: _integer_weights(v) for name, v in value.items()}
                 if key in ("connections", "drives") else value) for key, value in run.items()}
    model, options = model if isinstance(model, tuple) else (model, {})
    c, cuda = lifgen.compile(model, **options), lifgen.compile(model, target="cuda", **options)
    expected, got = c.run(120, NETWORK_N, seed=2, **run), cuda.run(120, NETWORK_N, seed=2, **run)
    np.testing.assert_array_equal(got.spikes, expected.spikes)
    for name in expected.state:
        np.testing.assert_array_equal(got.state[name], expected.state[name])


def _integer_weights(value):
    if isinstance(value, tuple):
        return value[0], _integer_weights(value[1])
    if isinstance(value, lifgen.Sparse):
        return lifgen.Sparse.from_arrays(value.pre, value.post, np.round(4 * value.weight),
                                         delay=value.delay, n_pre=value.n_pre, n_post=value.n_post)
    return np.round(4 * np.asarray(value))


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["cuba", "coba"])
def test_on_the_gpu_cuba_and_coba_rates_match_brian2_as_on_the_cpu(name):
    """The networks are chaotic and GPU sums run in another order: rates and irregularity
    within issue 6's tolerances of Brian2, as the C target's are (tests/test_brette2007.py)."""
    gpu()
    from test_brette2007 import assert_matches_brian2

    from lifgen.tools import brette2007

    assert_matches_brian2(name, lifgen.compile(brette2007.NETWORKS[name].model, dt=0.1,
                                               target="cuda"))


def test_precise_spikes_of_a_numeric_propagator_are_refused_on_the_cuda_target():
    """precise=True evaluates the propagator inside the step; a numerically computed one (coupled
    states: a matrix exponential) is host code, and NVRTC refused the kernel it made."""
    coupled = model_from_document({
        "model": {"name": "coupled"}, "parameters": {"a": 5.0, "theta": 1.0},
        "states": {"x0": 0.0, "x1": 0.0}, "inputs": {"I": {}},
        "equations": {"laws": ["a*dx0/dt = -x0 + x1", "dx1/dt = -x1 - 0.3*x0 + I"]},
        "spike": {"condition": "x0 > theta"}, "reset": {"mechanism": "zero"},
        "simulation": {"dt": 0.1, "method": "exact"}}, "coupled.toml")
    options = {"method": "exact", "precise": True, "reset_timing": "same_step"}
    with pytest.raises(InputError, match="precise=True on the cuda target needs a closed-form"):
        cuda_source(coupled, **options)
    assert lifgen.compile(coupled, **options).run(100, 1, inputs={"I": 3.0}).spike_count.sum() > 0
    assert "lg_expm(" not in cuda_source("lapicque", **options).c_source  # a closed form: runs
