"""Run a compiled kernel on NumPy arrays: check shapes and dtypes before any C runs, return a Result."""

from dataclasses import dataclass, field
from numbers import Real

import numpy as np
import sympy

from .build import build
from .codegen import render
from .discretize import discretize
from .errors import InputError
from .library import load_model
from .model import DT, symbol
from .waveforms import WAVEFORMS
from .written import evaluate, to_text

NUMPY_DTYPES = {"float64": np.float64, "float32": np.float32}


@dataclass
class Result:
    """What a run produced. Row t of `spikes` and of each trace holds the values after step t."""

    spikes: np.ndarray  # (T, N) bool
    traces: dict  # state name -> (T, N)
    state: dict  # state name -> (N,), the state after the last step
    dt: float | None  # None for discrete-time maps: time is counted in steps
    model: str = ""
    inputs: dict = field(default_factory=dict)  # input name -> array broadcastable to (T, N)
    threshold: object = None
    spike_offsets: np.ndarray | None = None  # precise mode: spike time within its step, else NaN

    @property
    def spike_times(self):
        """Spike times of each neuron (a list of arrays, one per neuron of the first batch row).

        In precise mode these are the crossing instants, off the grid; otherwise the end of the
        step in which the neuron spiked, (t + 1)*dt.
        """
        dt = self.dt if self.dt is not None else 1.0
        spikes = self.spikes.reshape(self.n_steps, -1, self.spikes.shape[-1])[:, 0, :]
        times = []
        for n in range(spikes.shape[1]):
            steps = np.flatnonzero(spikes[:, n])
            if self.spike_offsets is None:
                times.append((steps + 1) * dt)
            else:
                offsets = self.spike_offsets.reshape(spikes.shape[0], -1, spikes.shape[1])
                times.append(steps * dt + offsets[steps, 0, n])
        return times

    @property
    def n_steps(self):
        return self.spikes.shape[0]

    @property
    def times(self):
        """Time at the end of each step (in the model's time unit), or the step number for maps."""
        steps = np.arange(1, self.n_steps + 1)
        return steps * self.dt if self.dt is not None else steps - 1

    @property
    def spike_count(self):
        """Number of spikes of each neuron."""
        return self.spikes.sum(axis=0)

    def spike_steps(self, neuron=0):
        """Steps (0-based) at which `neuron` spiked."""
        return np.flatnonzero(self.spikes[:, neuron])

    def input_trace(self, name, neuron=0):
        """The input `name` as seen by `neuron` (of the first batch row), one value per step."""
        grid = self.inputs[name]
        grid = grid.reshape(grid.shape[0], -1, grid.shape[-1])[:, 0, :]
        return np.broadcast_to(grid, (self.n_steps, self.spikes.shape[-1]))[:, neuron]

    def plot(self, neuron=0, path=None):
        """Plot input, membrane and spikes of one neuron; save to `path` if given. Returns the figure."""
        from .plotting import plot_result

        return plot_result(self, neuron, path)


class Simulator:
    """A compiled model: call `run` as often as you like; parameters change without recompiling."""

    def __init__(self, kernel_source, kernel):
        self.kernel_source = kernel_source
        self.kernel = kernel
        self.step_map = kernel_source.step_map
        self.model = self.step_map.model
        self.dtype = kernel_source.dtype

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
            connections=None):
        """Simulate `n_neurons` neurons for `n_steps` steps; see the README for the argument forms.

        Inputs of shape (T, *batch, N) or initial states of shape (*batch, N) run independent
        copies of the population (batch rows) that share parameters and connections.
        """
        n_steps = _count(n_steps, "n_steps", minimum=0)
        n_neurons = _count(n_neurons, "n_neurons", minimum=1)
        dtype = NUMPY_DTYPES[self.dtype]
        model = self.model
        inputs = _checked_names(inputs, model.input_names, "inputs")
        params = _checked_names(params, model.parameter_names + tuple(dict(model.parameter_sets)),
                                "params")
        initial = _checked_names(initial, model.state_names, "initial")
        connections = _checked_names(connections, model.synapse_names, "connections")
        record = _record_names(record, model)
        batch = _batch_shape(inputs, initial, n_steps, n_neurons)
        rows = int(np.prod(batch, dtype=np.int64))

        input_arrays = {n: _input_array(inputs.get(n, 0.0), n, n_steps, batch, n_neurons, dtype)
                        for n in model.input_names}
        param_values = self._parameters(params, n_neurons, dtype)
        states = {n: _state_array(initial.get(n, value), n, batch, n_neurons, dtype)
                  for n, value in model.initial_values.items()}
        weights = {n: _weights(connections.get(n), n, n_neurons, dtype) for n in model.synapse_names}
        traces = {n: np.empty((n_steps, rows, n_neurons), dtype) for n in record}
        spikes = np.zeros((n_steps, rows, n_neurons), np.uint8)
        work = np.empty(max(self.kernel_source.work_size, 1) * n_neurons, dtype)

        ffi = self.kernel.ffi
        pointer = lambda array: ffi.from_buffer("lg_real[]", array)  # noqa: E731
        args = [n_steps, rows, n_neurons]
        args += [pointer(states[n]) for n in model.state_names]
        for n in model.parameter_names:
            array, stride = param_values[n]
            args += [pointer(array), stride]
        for n in model.input_names:
            array, *strides = input_arrays[n]
            args += [pointer(array), *strides]
        for n in model.synapse_names:
            array, kind = weights[n]
            args += [pointer(array) if array is not None else ffi.NULL, kind]
        args += [pointer(traces[n]) if n in traces else ffi.NULL for n in model.state_names]
        offsets = np.full((n_steps, rows, n_neurons), np.nan, dtype) if self.precise else None
        args += [ffi.from_buffer("uint8_t[]", spikes),
                 pointer(offsets) if offsets is not None else ffi.NULL, pointer(work)]
        getattr(self.kernel.lib, self.kernel_source.function)(*args)

        shape = (n_steps, *batch, n_neurons)
        threshold = param_values.get("threshold", (None,))[0]
        return Result(spikes=spikes.view(bool).reshape(shape),
                      spike_offsets=None if offsets is None else offsets.reshape(shape),
                      traces={n: v.reshape(shape) for n, v in traces.items()},
                      state={n: v.reshape(*batch, n_neurons) for n, v in states.items()},
                      dt=self.dt, model=model.name, threshold=threshold,
                      inputs={n: _as_grid(input_arrays[n], n_steps, n_neurons)
                              for n in model.input_names})

    def _parameters(self, params, n_neurons, dtype):
        """Per-parameter (array, stride), after parameter sets and the model's constraints."""
        model = self.model
        values = dict(model.defaults)
        for name, derived in model.parameter_sets:
            if name in params:
                values.update(_derive(name, params.pop(name), derived, self.dt, values, dtype))
        values.update(params)
        arrays = {n: _per_neuron(values[n], f"params[{n!r}]", n_neurons, dtype)
                  for n in model.parameter_names}
        _check_constraints(model, {n: a for n, (a, _) in arrays.items()}, dtype)
        return arrays


def compile(model, method=None, dt=None, dtype="float64", reset=None, reset_timing=None,
            reset_delay=None, graded_spikes=1.0, inhibition=False, state_quant=None,
            precise=False):
    """Compile `model` (a Model, library name or file path) into a Simulator; builds are cached on disk.

    `reset_delay`, `graded_spikes`, `inhibition` and `state_quant` have snnTorch's meanings;
    `precise=True` puts spikes at their exact crossing times (linear models, method "exact").
    """
    model = load_model(model)
    if dtype not in NUMPY_DTYPES:
        raise InputError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    _check_options(model, reset_timing or model.reset_timing, graded_spikes, inhibition,
                   state_quant)
    step_map = discretize(model, method=method, dt=dt, reset=reset, reset_timing=reset_timing,
                          reset_delay=reset_delay, precise=precise)
    source = render(step_map, dtype, graded_spikes=graded_spikes, inhibition=inhibition,
                    state_quant=state_quant)
    return Simulator(source, build(source.c_source, source.cdef))


def _check_options(model, reset_timing, graded_spikes, inhibition, state_quant):
    if isinstance(graded_spikes, bool) or not isinstance(graded_spikes, Real) \
            or not np.isfinite(graded_spikes):
        raise InputError(f"graded_spikes must be a finite number, got {graded_spikes!r}")
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
    mapping = dict(mapping or {})
    unknown = sorted(set(mapping) - set(known))
    if unknown:
        raise InputError(f"{what} has unknown name(s) {', '.join(map(repr, unknown))}; "
                         f"the model has {', '.join(known) or 'none'}")
    return mapping


def _record_names(record, model):
    if record is None:
        return ("V",) if "V" in model.state_names else model.state_names[:1]
    record = (record,) if isinstance(record, str) else tuple(record)
    unknown = [n for n in record if n not in model.state_names]
    if unknown:
        raise InputError(f"record has unknown state(s) {unknown}; states are {model.state_names}")
    return record


def _finite_array(value, what, dtype):
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be numbers, got {type(value).__name__}") from None
    if not np.all(np.isfinite(array)):
        raise InputError(f"{what} contains NaN or infinite values")
    return np.ascontiguousarray(array) if array.ndim else array


def _per_neuron(value, what, n_neurons, dtype):
    """A scalar or an (N,) array as (array, stride): stride 0 shares one value among all neurons."""
    array = _finite_array(value, what, dtype)
    if array.ndim == 0:
        return array.reshape(1), 0
    if array.shape == (n_neurons,):
        return array, 1
    raise InputError(f"{what} must be a scalar or have shape ({n_neurons},), got {array.shape}")


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
    """An input as (array, time stride, batch stride, neuron stride) over a contiguous array."""
    what = f"inputs[{name!r}]"
    if isinstance(value, WAVEFORMS):
        return _finite_array(value.values(n_steps), what, dtype), 1, 0, 0
    if isinstance(value, Real) or np.ndim(value) < 2:
        array, stride = _per_neuron(value, what, n_neurons, dtype)
        return array, 0, 0, stride
    array = _finite_array(value, what, dtype)
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


def _state_array(value, name, batch, n_neurons, dtype):
    what = f"initial[{name!r}]"
    array = _finite_array(value, what, dtype)
    if array.shape not in ((), (n_neurons,), (*batch, n_neurons)):
        raise InputError(f"{what} must be a scalar or have shape ({n_neurons},) or "
                         f"(*batch, {n_neurons}); got {array.shape}")
    rows = int(np.prod(batch, dtype=np.int64))
    return np.array(np.broadcast_to(array, (*batch, n_neurons)), dtype=dtype).reshape(rows, n_neurons)


def _weights(value, name, n_neurons, dtype):
    """Synapse weights as (array, kind): kind 1 one-to-one (N,), kind 2 dense, stored [pre][post]."""
    if value is None:
        return None, 0
    what = f"connections[{name!r}]"
    array = _finite_array(value, what, dtype)
    if array.shape == (n_neurons,):
        return array, 1
    if array.shape == (n_neurons, n_neurons):
        return np.ascontiguousarray(array.T), 2  # W[i, j] is from j to i; the kernel reads by j
    raise InputError(f"{what} must have shape ({n_neurons},) (one-to-one) or "
                     f"({n_neurons}, {n_neurons}) (dense, W[i, j] from j to i); got {array.shape}")


def _as_grid(entry, n_steps, n_neurons):
    """The input reshaped so that it broadcasts to (T, *batch, N) through its first and last axes."""
    array, time_stride, batch_stride, neuron_stride = entry
    if batch_stride:
        return array
    rows = n_steps if time_stride else 1
    columns = n_neurons if neuron_stride else 1
    return array.reshape(rows, columns)
