"""Run a compiled kernel on NumPy arrays: check shapes and dtypes before any C runs, return a Result."""

import contextvars
import sys
import time
import warnings
from collections.abc import Mapping
from numbers import Real

import numpy as np
import sympy

from .build import build, load_source, source_key, store_source
from .codegen import render, rerender
from .connectivity import Sparse
from .sources import SOURCES, SpikeTrain, strides as table_strides
from .discretize import discretize
from .errors import InputError, LifgenError, NumericalWarning
from .library import load_model, model_file
from .model import Model
from .result import Result
from .model import DT, symbol
from .units import UnitError, parse_unit, to_unit
from .waveforms import WAVEFORMS
from .written import evaluate, to_text

NUMPY_DTYPES = {"float64": np.float64, "float32": np.float32}
SPIKE_MODES = ("raster", "count", "events")
RASTER_LIMIT = 10**9  # entries; larger rasters are refused in favour of counts or events
CHUNK_ENTRIES = 1 << 22  # neuron-steps per chunk when spikes are collected as events
PROGRESS_SECONDS = 0.5  # the length of a kernel call between progress-bar updates
MAX_TRACED_NONFINITE = 4096  # neurons traced to find where a state first became non-finite
_ALLOW_NAN = contextvars.ContextVar("lifgen_allow_nan", default=False)


class Simulator:
    """A compiled model: call `run` as often as you like; parameters change without recompiling."""

    def __init__(self, kernel_source, kernel, portable=False, fma=False):
        self.kernel_source = kernel_source
        self.kernel = kernel
        self.step_map = kernel_source.step_map
        self.model = self.step_map.model
        self.dtype = kernel_source.dtype
        self.portable = portable
        self.fma = fma
        self._scratch = []  # kernel scratch arrays, reused: fresh memory costs a page fault per 4 kB
        self._variants = {self._key(kernel_source.options["layouts"], kernel_source.options["shared"],
                                    kernel_source.options["connected"]): (kernel_source, kernel)}

    @staticmethod
    def _key(layouts, shared=(), connected=False):
        return tuple(sorted(layouts.items())), tuple(sorted(shared)), bool(connected)

    def variant(self, layouts, shared=(), connected=False):
        """The kernel specialised for how each input arrives, which parameters all neurons
        share, and whether connections couple the neurons (built once, then cached)."""
        key = self._key(layouts, shared, connected)
        if key not in self._variants:
            source = rerender(self.kernel_source, layouts, shared, connected)
            kernel = build(source.c_source, source.cdef, portable=self.portable,
                           openmp=source.options["threads"] > 1, fma=self.fma)
            self._variants[key] = (source, kernel)
        return self._variants[key]

    def _borrow_scratch(self, size):
        """A scratch array of at least `size` values, taken from the ones earlier runs gave back
        (a run on another thread never shares one)."""
        try:
            while True:
                work = self._scratch.pop()  # atomic under the GIL
                if work.size >= size:
                    return work
        except IndexError:
            return np.empty(size, NUMPY_DTYPES[self.dtype])

    method = property(lambda self: self.step_map.method)
    dt = property(lambda self: self.step_map.dt)
    reset = property(lambda self: self.step_map.reset_mechanism)
    reset_timing = property(lambda self: self.step_map.reset_timing)
    options = property(lambda self: dict(self.kernel_source.options))
    c_source = property(lambda self: self.kernel_source.c_source, doc="The generated C kernel.")
    precise = property(lambda self: bool(self.step_map.propagator))
    from_cache = property(lambda self: self.kernel.from_cache)

    def __repr__(self):
        return (f"<Simulator {self.model.name}: method={self.method}, dt={self.dt}, "
                f"dtype={self.dtype}, reset={self.reset} ({self.reset_timing})>")

    def run(self, n_steps, n_neurons=1, inputs=None, params=None, initial=None, record=None,
            connections=None, spikes="raster", progress=False, drives=None, seed=0,
            allow_nan=False):
        """Simulate `n_neurons` neurons for `n_steps` steps; see the README for the argument forms.

        Inputs of shape (T, *batch, N) or initial states of shape (*batch, N) run independent
        copies of the population (batch rows) that share parameters and connections. `spikes` is
        "raster", "count" or "events"; `record` names states to trace, or maps state names to
        the neurons to trace. `progress=True` draws a progress bar; Ctrl-C then stops between
        chunks and returns what was simulated, with `Result.partial` set. `drives` maps a
        synapse type to (source, W): a Poisson, Bernoulli or SpikeTrain source and its weights.
        `seed` seeds the white noise xi of a stochastic model. NaN or infinite inputs, parameters
        and initial states are refused unless `allow_nan`. A state that becomes NaN or infinite
        is reported with a NumericalWarning naming the first step and neuron where it did.
        """
        nan_policy = _ALLOW_NAN.set(bool(allow_nan))
        try:
            return self._run(n_steps, n_neurons, inputs, params, initial, record, connections,
                             spikes, progress, drives, seed)
        finally:
            _ALLOW_NAN.reset(nan_policy)

    def _run(self, n_steps, n_neurons, inputs, params, initial, record, connections, spikes,
             progress, drives, seed):
        n_steps = _count(n_steps, "n_steps", minimum=0)
        seed = _count(seed, "seed", minimum=0) & (2**64 - 1)
        n_neurons = _count(n_neurons, "n_neurons", minimum=1)
        dtype = NUMPY_DTYPES[self.dtype]
        model = self.model
        inputs = _checked_names(inputs, model.input_names, "inputs")
        params = _checked_names(params, model.parameter_names + tuple(dict(model.parameter_sets)),
                                "params")
        state_names = self.step_map.state_names
        initial = _in_declared_units(_checked_names(initial, state_names, "initial"),
                                     model.states, "initial")
        connections = _checked_names(connections, model.synapse_names, "connections")
        drives = _checked_names(drives, model.synapse_names, "drives")
        # what a rerun needs to find where a state became NaN (the same initial state follows)
        given = dict(inputs=inputs, params=dict(params), initial=dict(initial),
                     connections=connections, drives=drives, seed=seed)
        record, recorded_neurons = _record_request(record, state_names, n_neurons)
        batch = _batch_shape(inputs, initial, n_steps, n_neurons)
        rows = int(np.prod(batch, dtype=np.int64))
        if spikes not in SPIKE_MODES:
            raise InputError(f"spikes must be one of {SPIKE_MODES}, got {spikes!r}")
        if spikes == "raster" and n_steps * rows * n_neurons >= RASTER_LIMIT:
            raise InputError(f"a spike raster of {n_steps * rows * n_neurons:.3g} entries is too "
                             "large; run with spikes='count' (counts per neuron) or "
                             "spikes='events' (step and neuron of each spike)")

        input_arrays = {n: _input_array(inputs.get(n, 0.0), n, n_steps, batch, n_neurons, dtype)
                        for n in model.input_names}
        param_values = self._parameters(params, n_neurons, dtype)
        states = _initial_states(model, initial, param_values, batch, n_neurons, dtype)
        states.update({n: _state_array(initial.get(n, 0.0), n, batch, n_neurons, dtype)
                       for n in state_names if n not in states})
        weights = {n: _weights(connections.get(n), n, n_neurons, dtype) for n in model.synapse_names}
        driven = {n: _drive(drives.get(n), n, n_neurons, n_steps, self.dt, dtype)
                  for n in model.synapse_names}
        slots = {n: max(weights[n]["slots"], driven[n]["slots"]) for n in model.synapse_names}
        rings = {n: np.zeros((rows, slots[n], n_neurons), dtype) for n in model.synapse_names
                 if slots[n]}
        index = np.ascontiguousarray(recorded_neurons, dtype=np.int64)
        traces = {n: np.empty((n_steps, rows, index.size), dtype) for n in record}
        raster = np.zeros((n_steps, rows, n_neurons), np.uint8) if spikes == "raster" else None
        offsets = np.full((n_steps, rows, n_neurons), np.nan, dtype) if self.precise else None
        counts = np.empty((rows, n_neurons), np.int64)  # the kernel starts them from zero at step 0
        fired = np.zeros((rows, n_neurons), np.uint8)

        kernel_source, compiled = self.variant(
            {n: _layout(input_arrays[n]) for n in model.input_names},
            [n for n, (_, stride) in param_values.items() if stride == 0],
            connected=any(w["kind"] for w in weights.values()) or bool(drives))
        ffi, kernel = compiled.ffi, getattr(compiled.lib, kernel_source.function)
        work = self._borrow_scratch(max(kernel_source.work_size, 1) * n_neurons)
        pointer = lambda array: ffi.from_buffer("lg_real[]", array)  # noqa: E731
        fixed = {"states": [pointer(states[n]) for n in state_names],
                 "params": [], "inputs": [], "weights": []}
        for n in model.parameter_names:
            array, stride = param_values[n]
            fixed["params"] += [pointer(array), stride]
        for n in model.synapse_names:
            w = weights[n]
            fixed["weights"] += [pointer(w["weights"]) if w["weights"] is not None else ffi.NULL,
                                 w["kind"]]
            fixed["weights"] += [ffi.from_buffer("int64_t[]", w[k]) if w["kind"] == 3 else ffi.NULL
                                 for k in ("rows", "post", "delay")]
            fixed["weights"] += [pointer(rings[n]) if n in rings else ffi.NULL, slots[n]]
            fixed["weights"] += _drive_arguments(driven[n], ffi, pointer)
        input_pointers = {n: pointer(input_arrays[n][0]) for n in model.input_names}
        trace_pointers = {n: pointer(traces[n]) for n in traces}
        raster_pointer = ffi.from_buffer("uint8_t[]", raster) if raster is not None else None
        offset_pointer = pointer(offsets) if offsets is not None else None
        counts_pointer, fired_pointer = (ffi.from_buffer("int64_t[]", counts),
                                         ffi.from_buffer("uint8_t[]", fired))
        index_pointer = ffi.from_buffer("int64_t[]", index) if index.size else ffi.NULL
        work_pointer = pointer(work)

        limit = _chunk_length(n_steps, rows * n_neurons, spikes)
        chunk = max(1, min(limit, -(-n_steps // 1000))) if progress else limit
        events_buffer = np.zeros((limit, rows, n_neurons), np.uint8) if spikes == "events" else None
        events = []
        done, partial = 0, False
        bar = _ProgressBar(n_steps) if progress else None
        try:
            while done < n_steps:
                steps = min(chunk, n_steps - done)
                args = [steps, rows, n_neurons, *fixed["states"], *fixed["params"]]
                for n in model.input_names:
                    _, time_stride, batch_stride, neuron_stride = input_arrays[n]
                    args += [input_pointers[n] + done * time_stride, time_stride, batch_stride,
                             neuron_stride]
                args += fixed["weights"]
                args += [done, seed, index_pointer, index.size]
                args += [trace_pointers[n] + done * rows * index.size if n in trace_pointers
                         else ffi.NULL for n in state_names]
                if raster is not None:
                    spike_target = raster_pointer + done * rows * n_neurons
                elif events_buffer is not None:
                    spike_target = ffi.from_buffer("uint8_t[]", events_buffer)
                else:
                    spike_target = ffi.NULL
                args += [spike_target, counts_pointer, fired_pointer,
                         offset_pointer + done * rows * n_neurons if offsets is not None
                         else ffi.NULL, work_pointer]
                started = time.perf_counter()
                kernel(*args)
                if bar:  # chunks of about PROGRESS_SECONDS each: the bar moves, the cost stays small
                    rate = steps / max(time.perf_counter() - started, 1e-9)
                    chunk = max(1, min(limit, int(rate * PROGRESS_SECONDS)))
                if events_buffer is not None:
                    where = np.flatnonzero(events_buffer[:steps].view(bool))  # 1-D: fast
                    events.append((where // (rows * n_neurons) + done, where % (rows * n_neurons)))
                done += steps
                if bar:
                    bar.update(done)
        except KeyboardInterrupt:
            if not progress:
                raise
            partial = True
        finally:
            self._scratch.append(work)
            if bar:
                bar.close()

        if not done:
            counts.fill(0)
        shape = (done, *batch, n_neurons)
        threshold = param_values.get("threshold", (None,))[0]
        spike_events = None
        if spikes == "events":
            spike_events = (np.concatenate([e[0] for e in events]) if events else np.zeros(0, int),
                            np.concatenate([e[1] for e in events]) if events else np.zeros(0, int))
        result = Result(
            spikes=None if raster is None else raster[:done].view(bool).reshape(shape),
            spike_count=counts.reshape(*batch, n_neurons), spike_events=spike_events,
            spike_offsets=None if offsets is None else np.where(
                offsets[:done] >= 0, offsets[:done], np.nan).reshape(shape),
            traces={n: v[:done].reshape(done, *batch, index.size) for n, v in traces.items()},
            recorded=record,
            state={n: v.reshape(*batch, n_neurons) for n, v in states.items()},
            dt=self.dt, model=model.name, threshold=threshold, partial=partial, n_steps=done,
            time_unit=model.time_unit,
            inputs={n: _as_grid(input_arrays[n], n_steps, n_neurons)
                    for n in model.input_names})
        if not _ALLOW_NAN.get() and not all(np.isfinite(a).all() for a in states.values()):
            self._report_nonfinite(result, given, done, n_neurons)
        return result

    def _report_nonfinite(self, result, given, n_steps, n_neurons):
        """Find where a state first became NaN or infinite (by running again, tracing the neurons
        that ended non-finite), keep it in `result.first_nonfinite` and warn."""
        state_names = self.step_map.state_names
        nonfinite = np.any([~np.isfinite(np.asarray(result.state[n]).reshape(-1, n_neurons))
                            for n in state_names], axis=0)  # (rows, N)
        traced = np.flatnonzero(nonfinite.any(axis=0))[:MAX_TRACED_NONFINITE]
        again = self.run(n_steps, n_neurons, record={n: traced for n in state_names},
                         spikes="count", allow_nan=True, **given)
        first = None
        for name in state_names:
            trace = again.traces[name].reshape(n_steps, -1, traced.size)
            where = np.argwhere(~np.isfinite(trace))
            if where.size and (first is None or where[0][0] < first[0]):
                step, row, column = where[0]
                first = (int(step), int(row * n_neurons + traced[column]), name,
                         float(trace[step, row, column]))
        total = int(nonfinite.sum())
        result.first_nonfinite = first
        where = (f"first at step {first[0]} in neuron {first[1]} ({first[2]} = {first[3]})"
                 if first else "")
        warnings.warn(f"{self.model.name}: states became NaN or infinite, {where}; {total} "
                      f"neuron(s) end non-finite. The method ({self.method}) may be unstable at "
                      f"dt = {self.dt}: try a smaller dt or method='exponential_euler' or 'exact'",
                      NumericalWarning, stacklevel=4)

    def _parameters(self, params, n_neurons, dtype):
        """Per-parameter (array, stride), after parameter sets and the model's constraints."""
        model = self.model
        values = dict(model.defaults)
        for name, derived in model.parameter_sets:
            if name in params:
                values.update(_derive(name, params.pop(name), derived, self.dt, values, dtype))
        values.update(_in_declared_units(params, model.parameters, "params"))
        arrays = {n: _per_neuron(values[n], f"params[{n!r}]", n_neurons, dtype)
                  for n in model.parameter_names}
        _check_constraints(model, {n: a for n, (a, _) in arrays.items()}, dtype)
        return arrays


def compile(model, method=None, dt=None, dtype="float64", reset=None, reset_timing=None,
            reset_delay=None, graded_spikes=1.0, inhibition=False, state_quant=None,
            precise=False, threads=1, portable=False, tile=None, fma=False,
            flush_denormals=False):
    """Compile `model` (a Model, library name or file path) into a Simulator; builds are cached on disk.

    `reset_delay`, `graded_spikes`, `inhibition` and `state_quant` have snnTorch's meanings.
    `precise=True` puts spikes at their exact crossing times (linear models, method "exact").
    `threads` runs uncoupled neurons on that many OpenMP threads (identical results);
    `portable` compiles without -march=native; `tile` sets the neurons simulated together.
    `fma=True` lets the compiler fuse a*b+c (faster on some models; results differ in the last
    bits from the default unfused build, see the README). A model file compiled before with the
    same options skips all SymPy work. `flush_denormals=True` treats values below the smallest
    normal float as zero while the kernel runs (x86 FTZ/DAZ), against CPUs that slow down on them.
    """
    dt = _dt_in_model_unit(model, dt)
    options = generation_options(method, dt, dtype, reset, reset_timing, reset_delay,
                                 graded_spikes, inhibition, state_quant, precise, threads, tile,
                                 flush_denormals)
    source = kernel_source(model, options)
    if source.step_map.warning:
        warnings.warn(source.step_map.warning, NumericalWarning, stacklevel=2)
    kernel = build(source.c_source, source.cdef, portable=portable, openmp=options["threads"] > 1,
                   fma=fma)
    return Simulator(source, kernel, portable=portable, fma=bool(fma))


def generation_options(method=None, dt=None, dtype="float64", reset=None, reset_timing=None,
                       reset_delay=None, graded_spikes=1.0, inhibition=False, state_quant=None,
                       precise=False, threads=1, tile=None, flush_denormals=False):
    """compile's options that shape the generated source, checked: the key of the source cache."""
    if dtype not in NUMPY_DTYPES:
        raise InputError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    return dict(method=method, dt=dt, dtype=dtype, reset=reset, reset_timing=reset_timing,
                reset_delay=reset_delay, graded_spikes=graded_spikes, inhibition=inhibition,
                state_quant=None if state_quant is None else np.asarray(state_quant).tolist(),
                precise=precise, threads=_count(threads, "threads", minimum=1),
                tile=None if tile is None else _count(tile, "tile", minimum=1),
                flush_denormals=bool(flush_denormals))


def kernel_source(model, options):
    """The generated KernelSource for `model` and compile's `options`: from the source cache when
    this model file was compiled before with the same options, else from SymPy and Jinja2."""
    key = _source_key(model, options)
    source = load_source(key) if key else None
    if source is None:
        source = _generate(load_model(model), options)
        if key:
            store_source(key, source)
    return source


def _generate(model, options):
    """The SymPy and Jinja2 work of compile: discretize and render."""
    _check_options(model, options["reset_timing"] or model.reset_timing, options["graded_spikes"],
                   options["inhibition"], options["state_quant"])
    step_map = discretize(model, method=options["method"], dt=options["dt"],
                          reset=options["reset"], reset_timing=options["reset_timing"],
                          reset_delay=options["reset_delay"], precise=options["precise"])
    if options["precise"] and (model.synapses or options["inhibition"]):
        raise InputError("precise=True is for uncoupled neurons (no synapses or inhibition)")
    # The first kernel built is the common case: parameters shared by all neurons, inputs held.
    return render(step_map, options["dtype"], graded_spikes=options["graded_spikes"],
                  inhibition=options["inhibition"], state_quant=options["state_quant"],
                  threads=options["threads"], tile=options["tile"], shared=model.parameter_names,
                  flush_denormals=options["flush_denormals"])


def _source_key(model, options):
    """A cache key for models given as files or library names (None for Model objects)."""
    if isinstance(model, Model):
        return None
    try:
        text = model_file(model).read_bytes()
    except (OSError, LifgenError):
        return None  # load_model reports it
    return source_key(text, options)


def _check_options(model, reset_timing, graded_spikes, inhibition, state_quant):
    if isinstance(graded_spikes, bool) or not isinstance(graded_spikes, Real) \
            or not np.isfinite(graded_spikes):
        raise InputError(f"graded_spikes must be a finite number, got {graded_spikes!r}")
    if model.refractory and (inhibition or state_quant is not None):
        raise InputError("a refractory period cannot be combined with inhibition or state_quant")
    if inhibition and (reset_timing != "next_step"
                       or not isinstance(model.spike, (sympy.Gt, sympy.Ge))):
        raise InputError("inhibition needs a threshold spike condition (X > theta) and "
                         "next_step reset timing")
    if state_quant is not None:
        levels = np.asarray(state_quant, dtype=float)
        if levels.ndim != 1 or levels.size == 0 or not np.all(np.isfinite(levels)):
            raise InputError("state_quant must be a non-empty 1-D array of finite levels")


def _derive(name, value, derived, dt, values, dtype):
    """Parameters computed from another parameterization, e.g. Lapicque's R and C from beta."""
    scope = {symbol(k): v for k, v in values.items()}
    scope.update({symbol(name): _finite_array(value, f"params[{name!r}]", dtype), DT: dt or 1.0})
    result = {}
    for parameter, tree in derived:
        result[parameter.name] = scope[parameter] = evaluate(tree, scope, dtype)
        if not np.all(np.isfinite(result[parameter.name])):
            raise InputError(f"params[{name!r}] = {value!r} gives a non-finite {parameter.name}")
    return result


def _check_constraints(model, arrays, dtype):
    scope = {symbol(n): a for n, a in arrays.items()}
    for tree in model.constraints:
        if not np.all(evaluate(tree, scope, dtype)):
            raise InputError(f"model {model.name} requires {to_text(tree)}")


def _count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _checked_names(mapping, known, what):
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        raise InputError(f"{what} must be a dict of name -> value, got {type(mapping).__name__}")
    mapping = dict(mapping)
    unknown = sorted(set(mapping) - set(known))
    if unknown:
        raise InputError(f"{what} has unknown name(s) {', '.join(map(repr, unknown))}; "
                         f"the model has {', '.join(known) or 'none'}")
    return mapping


def _record_request(record, state_names, n_neurons):
    """(state -> None for every neuron or the traced neuron indices, indices the kernel records).

    The kernel records one set of neurons for every traced state: the union of those asked for.
    """
    if record is None:
        record = ("V",) if "V" in state_names else state_names[:1]
    if isinstance(record, str):
        record = (record,)
    if not isinstance(record, (Mapping, list, tuple)):
        raise InputError(f"record must be a state name, a list of them or a dict of state -> "
                         f"neuron indices, got {type(record).__name__}")
    requests = dict(record) if isinstance(record, Mapping) else {name: None for name in record}
    unknown = [n for n in requests if not isinstance(n, str) or n not in state_names]
    if unknown:
        raise InputError(f"record has unknown state(s) {unknown}; states are {state_names}")
    if not requests:
        return {}, np.zeros(0, np.int64)
    if any(neurons is None for neurons in requests.values()):
        return {name: None for name in requests}, np.arange(n_neurons)
    chosen = set()
    for name, neurons in requests.items():
        neurons = np.asarray(neurons)
        if neurons.ndim != 1 or not np.issubdtype(neurons.dtype, np.integer) \
                or np.any((neurons < 0) | (neurons >= n_neurons)):
            raise InputError(f"record[{name!r}] must list neuron indices in 0..{n_neurons - 1}")
        chosen |= set(neurons.tolist())
    union = np.array(sorted(chosen), dtype=np.int64)
    return {name: union for name in requests}, union


def _chunk_length(n_steps, width, spikes):
    """The most steps per kernel call: all at once, unless events need bounded chunks."""
    chunk = max(n_steps, 1)
    if spikes == "events":
        chunk = max(1, min(chunk, CHUNK_ENTRIES // max(width, 1)))
    return chunk


class _ProgressBar:
    """A one-line progress bar on standard error."""

    def __init__(self, total):
        self.total = max(total, 1)
        self.update(0)

    def update(self, done):
        filled = int(40 * done / self.total)
        sys.stderr.write(f"\r[{'#' * filled}{' ' * (40 - filled)}] {100 * done / self.total:5.1f}%")
        sys.stderr.flush()

    def close(self):
        sys.stderr.write("\n")


def _numbers(value, what, dtype):
    """`value` as a contiguous array of `dtype`, or an InputError naming `what`."""
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be numbers, got {type(value).__name__}") from None
    return np.ascontiguousarray(array) if array.ndim else array


def _finite_array(value, what, dtype):
    array = _numbers(value, what, dtype)
    if not _ALLOW_NAN.get() and not np.isfinite(array).all():
        raise InputError(f"{what} contains NaN or infinite values (run(..., allow_nan=True) "
                         "accepts them)")
    return array


def _per_neuron(value, what, n_neurons, dtype):
    """A scalar or an (N,) array as (array, stride): stride 0 shares one value among all neurons."""
    array = _finite_array(value, what, dtype)
    if array.ndim == 0:
        return array.reshape(1), 0
    if array.shape == (n_neurons,):
        return array, 1
    raise InputError(f"{what} must be a scalar or have shape ({n_neurons},), got {array.shape}")


def _layout(entry):
    """How an input arrives, from its strides: held, streamed or one value per step."""
    _, time_stride, _, neuron_stride = entry
    if not time_stride:
        return "held"
    return "streamed" if neuron_stride else "time"


def _batch_shape(inputs, initial, n_steps, n_neurons):
    """The batch shape from (T, *batch, N) inputs and (*batch, N) initial states; () if none."""
    shapes = set()
    for name, value in inputs.items():
        if not isinstance(value, WAVEFORMS) and np.ndim(value) >= 3:
            shapes.add(np.shape(value)[1:-1])
    for name, value in initial.items():
        if np.ndim(value) >= 2:
            shapes.add(np.shape(value)[:-1])
    if len(shapes) > 1:
        raise InputError(f"inputs and initial states disagree on the batch shape: {sorted(shapes)}")
    return shapes.pop() if shapes else ()


def _input_array(value, name, n_steps, batch, n_neurons, dtype):
    """An input as (array, time stride, batch stride, neuron stride) over a contiguous array.

    Streamed inputs are not scanned for NaN (a pass over them would cost as much as the
    simulation); a NaN input gives NaN states, as in NumPy.
    """
    what = f"inputs[{name!r}]"
    if isinstance(value, WAVEFORMS):
        return _finite_array(value.values(n_steps), what, dtype), 1, 0, 0
    if isinstance(value, Real) or np.ndim(value) < 2:
        array, stride = _per_neuron(value, what, n_neurons, dtype)
        return array, 0, 0, stride
    array = _numbers(value, what, dtype)
    rows = int(np.prod(batch, dtype=np.int64))
    if array.shape == (n_steps, n_neurons):
        return array, n_neurons, 0, 1
    if array.shape == (n_steps, 1):
        return array, 1, 0, 0
    if array.shape == (n_steps, *batch, n_neurons) and batch:
        return array, rows * n_neurons, n_neurons, 1
    raise InputError(f"{what} must be a scalar, a waveform, or have shape ({n_neurons},), "
                     f"({n_steps}, {n_neurons}), ({n_steps}, 1) or ({n_steps}, *batch, "
                     f"{n_neurons}); got {array.shape}")


def _in_declared_units(values, quantities, what):
    """Values given as quantities ("20 ms", a SymPy quantity) as numbers in the units the model
    declares; plain numbers already are."""
    units = {q.name: q.unit for q in quantities}
    try:
        return {name: to_unit(value, parse_unit(units.get(name, "")), f"{what}[{name!r}]")
                for name, value in values.items()}
    except UnitError as error:
        raise InputError(str(error)) from None


def _dt_in_model_unit(model, dt):
    """dt given as a quantity ("100 us") in the model's time unit."""
    if dt is None or isinstance(dt, Real):
        return dt
    model = load_model(model)
    if not model.time_unit:
        raise InputError(f"dt={dt!r} has a unit but {model.name} declares no time unit; give dt "
                         "as a number, or write dt = \"0.1 ms\" in its [simulation] section")
    try:
        return to_unit(dt, parse_unit(model.time_unit), "dt")
    except UnitError as error:
        raise InputError(str(error)) from None


def _initial_states(model, initial, param_values, batch, n_neurons, dtype):
    """Initial state arrays (rows, N): given, a number, or a formula of parameters and states."""
    scope = None  # built only when a formula needs it: most runs start from numbers
    states = {}
    for q in model.states:
        if q.name in initial or q.formula is None:
            value = initial.get(q.name, q.value)
        else:
            if scope is None:
                scope = {symbol(n): np.broadcast_to(array if stride else array[0], (n_neurons,))
                         for n, (array, stride) in param_values.items()}
                scope.update({symbol(n): a.reshape(*batch, n_neurons) for n, a in states.items()})
            value = evaluate(q.formula, scope, dtype)
        states[q.name] = _state_array(value, q.name, batch, n_neurons, dtype)
        if scope is not None:
            scope[q.symbol] = states[q.name].reshape(*batch, n_neurons)
    return states


def _state_array(value, name, batch, n_neurons, dtype):
    what = f"initial[{name!r}]"
    array = _finite_array(value, what, dtype)
    if array.shape not in ((), (n_neurons,), (*batch, n_neurons)):
        raise InputError(f"{what} must be a scalar or have shape ({n_neurons},) or "
                         f"(*batch, {n_neurons}); got {array.shape}")
    rows = int(np.prod(batch, dtype=np.int64))
    return np.array(np.broadcast_to(array, (*batch, n_neurons)), dtype=dtype).reshape(rows, n_neurons)


def _weights(value, name, n_neurons, dtype):
    """Synapse weights for the kernel: kind 0 none, 1 one-to-one (N,), 2 dense stored
    [pre][post], 3 a Sparse in CSR by presynaptic neuron with a delay ring of `slots` steps."""
    if value is None:
        return {"weights": None, "kind": 0, "slots": 0}
    what = f"connections[{name!r}]"
    if isinstance(value, Sparse):
        if (value.n_pre, value.n_post) != (n_neurons, n_neurons):
            raise InputError(f"{what} connects {value.n_pre} to {value.n_post} neurons; the "
                             f"population has {n_neurons}")
        rows, post, weight, delay = value.csr(dtype)
        return {"weights": weight, "kind": 3, "rows": rows, "post": post, "delay": delay,
                "slots": value.max_delay + 1}
    array = _finite_array(value, what, dtype)
    if array.shape == (n_neurons,):
        return {"weights": array, "kind": 1, "slots": 0}
    if array.shape == (n_neurons, n_neurons):  # W[i, j] is from j to i; the kernel reads by j
        return {"weights": np.ascontiguousarray(array.T), "kind": 2, "slots": 0}
    raise InputError(f"{what} must have shape ({n_neurons},) (one-to-one), "
                     f"({n_neurons}, {n_neurons}) (dense, W[i, j] from j to i) or be a "
                     f"lifgen.Sparse; got {array.shape}")


def _drive(value, name, n_neurons, n_steps, dt, dtype):
    """An external drive (source, W) as the kernel takes it: kind 0 none, 1 random (a spike
    probability per step and source), 2 playback (events in CSR by step); W in CSR by source."""
    if value is None:
        return {"kind": 0, "slots": 0}
    what = f"drives[{name!r}]"
    if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], SOURCES)):
        raise InputError(f"{what} must be (source, W) with a lifgen.Poisson, Bernoulli or "
                         "SpikeTrain source")
    source, weights = value
    sparse = _drive_synapses(weights, source.n, n_neurons, what, dtype)
    rows, post, weight, delay = sparse.csr(dtype)
    entry = {"n": source.n, "rows": rows, "post": post, "delay": delay, "weights": weight,
             "slots": sparse.max_delay + 1}
    if isinstance(source, SpikeTrain):
        start, sources = source.events(n_steps)
        return dict(entry, kind=2, start=start, sources=sources)
    p = source.probabilities(n_steps, dt)
    time_stride, source_stride = table_strides(p)
    return dict(entry, kind=1, p=np.ascontiguousarray(p.reshape(-1), dtype),
                time_stride=time_stride,
                source_stride=source_stride, seed=int(source.seed) & (2**64 - 1))


def _drive_synapses(weights, n_sources, n_neurons, what, dtype):
    """W of a drive as a Sparse from sources to neurons: (N,) one-to-one when n == N, (N, n)
    dense, or a Sparse; array forms arrive after one step."""
    if isinstance(weights, Sparse):
        if (weights.n_pre, weights.n_post) != (n_sources, n_neurons):
            raise InputError(f"{what}: W connects {weights.n_pre} sources to {weights.n_post} "
                             f"neurons; expected {n_sources} to {n_neurons}")
        return weights
    array = _finite_array(weights, f"{what} W", dtype)
    if array.shape == (n_neurons,) and n_sources == n_neurons:
        index = np.arange(n_neurons)
        return Sparse.from_arrays(index, index, array, n_pre=n_sources, n_post=n_neurons)
    if array.shape == (n_neurons, n_sources):
        post, pre = np.nonzero(array)
        return Sparse.from_arrays(pre, post, array[post, pre], n_pre=n_sources, n_post=n_neurons)
    raise InputError(f"{what}: W must be ({n_neurons},) (one-to-one, n == N), ({n_neurons}, "
                     f"{n_sources}) dense, or a lifgen.Sparse; got {array.shape}")


def _drive_arguments(drive, ffi, pointer):
    """The kernel arguments of one drive, NULL where unused."""
    integers = lambda key: ffi.from_buffer("int64_t[]", drive[key]) if key in drive else ffi.NULL  # noqa: E731
    return [drive["kind"], drive.get("n", 0), pointer(drive["p"]) if "p" in drive else ffi.NULL,
            drive.get("time_stride", 0), drive.get("source_stride", 0), drive.get("seed", 0),
            integers("start"), integers("sources"), integers("rows"), integers("post"),
            integers("delay"), pointer(drive["weights"]) if "weights" in drive else ffi.NULL]


def _as_grid(entry, n_steps, n_neurons):
    """The input reshaped so that it broadcasts to (T, *batch, N) through its first and last axes."""
    array, time_stride, batch_stride, neuron_stride = entry
    if batch_stride:
        return array
    rows = n_steps if time_stride else 1
    columns = n_neurons if neuron_stride else 1
    return array.reshape(rows, columns)
