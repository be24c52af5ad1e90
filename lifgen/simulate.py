"""Run a compiled kernel on NumPy arrays: check shapes and dtypes before any C runs, return a Result."""

from dataclasses import dataclass, field
from numbers import Real

import numpy as np

from .build import build
from .codegen import render
from .discretize import discretize
from .errors import InputError
from .library import load_model
from .waveforms import WAVEFORMS

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
        """The input `name` as seen by `neuron`, one value per step."""
        values = np.broadcast_to(self.inputs[name], self.spikes.shape)
        return values[:, neuron]

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
    c_source = property(lambda self: self.kernel_source.c_source, doc="The generated C kernel.")
    from_cache = property(lambda self: self.kernel.from_cache)

    def __repr__(self):
        return (f"<Simulator {self.model.name}: method={self.method}, dt={self.dt}, "
                f"dtype={self.dtype}, reset={self.reset} ({self.reset_timing})>")

    def run(self, n_steps, n_neurons=1, inputs=None, params=None, initial=None, record=None):
        """Simulate `n_neurons` neurons for `n_steps` steps; see the README for the argument forms."""
        n_steps = _count(n_steps, "n_steps", minimum=0)
        n_neurons = _count(n_neurons, "n_neurons", minimum=1)
        dtype = NUMPY_DTYPES[self.dtype]
        model = self.model
        inputs = _checked_names(inputs, model.input_names, "inputs")
        params = _checked_names(params, model.parameter_names, "params")
        initial = _checked_names(initial, model.state_names, "initial")
        record = _record_names(record, model)

        input_arrays = {n: _input_array(inputs.get(n, 0.0), n, n_steps, n_neurons, dtype)
                        for n in model.input_names}
        param_arrays = {n: _per_neuron(params.get(n, default), f"params[{n!r}]", n_neurons, dtype)
                        for n, default in model.defaults.items()}
        states = {n: np.array(np.broadcast_to(
            _per_neuron(initial.get(n, value), f"initial[{n!r}]", n_neurons, dtype)[0], n_neurons),
            dtype=dtype) for n, value in model.initial_values.items()}
        traces = {n: np.empty((n_steps, n_neurons), dtype) for n in record}
        spikes = np.zeros((n_steps, n_neurons), np.uint8)

        ffi = self.kernel.ffi
        pointer = lambda array: ffi.from_buffer("lg_real[]", array)  # noqa: E731
        args = [n_steps, n_neurons]
        args += [pointer(states[n]) for n in model.state_names]
        for n in model.parameter_names:
            array, stride = param_arrays[n]
            args += [pointer(array), stride]
        for n in model.input_names:
            array, time_stride, neuron_stride = input_arrays[n]
            args += [pointer(array), time_stride, neuron_stride]
        args += [pointer(traces[n]) if n in traces else ffi.NULL for n in model.state_names]
        args.append(ffi.from_buffer("uint8_t[]", spikes))
        getattr(self.kernel.lib, self.kernel_source.function)(*args)

        threshold = param_arrays.get("threshold", (None,))[0]
        return Result(spikes=spikes.view(bool), traces=traces, state=states, dt=self.dt,
                      model=model.name, threshold=threshold,
                      inputs={n: _as_grid(*input_arrays[n], n_steps, n_neurons)
                              for n in model.input_names})


def compile(model, method=None, dt=None, dtype="float64", reset=None, reset_timing=None):
    """Compile `model` (a Model, library name or file path) into a Simulator; builds are cached on disk."""
    model = load_model(model)
    if dtype not in NUMPY_DTYPES:
        raise InputError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    step_map = discretize(model, method=method, dt=dt, reset=reset, reset_timing=reset_timing)
    source = render(step_map, dtype)
    return Simulator(source, build(source.c_source, source.cdef))


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


def _input_array(value, name, n_steps, n_neurons, dtype):
    """An input as (array, time stride, neuron stride) over a contiguous array."""
    what = f"inputs[{name!r}]"
    if isinstance(value, WAVEFORMS):
        return _finite_array(value.values(n_steps), what, dtype), 1, 0
    if isinstance(value, Real) or np.ndim(value) < 2:
        array, stride = _per_neuron(value, what, n_neurons, dtype)
        return array, 0, stride
    array = _finite_array(value, what, dtype)
    if array.shape == (n_steps, n_neurons):
        return array, n_neurons, 1
    if array.shape == (n_steps, 1):
        return array, 1, 0
    raise InputError(f"{what} must be a scalar, a waveform, or have shape ({n_neurons},), "
                     f"({n_steps}, {n_neurons}) or ({n_steps}, 1); got {array.shape}")


def _as_grid(array, time_stride, neuron_stride, n_steps, n_neurons):
    """The input array reshaped so that it broadcasts to (T, N)."""
    rows = n_steps if time_stride else 1
    columns = n_neurons if neuron_stride else 1
    return array.reshape(rows, columns)
