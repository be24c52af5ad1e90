"""Argument preparation for Simulator.run: every array checked (names, shapes, dtypes, units,
finiteness) and laid out as the kernels take it, before any kernel runs.

`allow_nan` is passed explicitly: NaN or infinite values are refused unless it is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real
from typing import Any, Sequence

import numpy as np
import numpy.typing as npt

from .connectivity import Sparse
from ..errors import InputError
from ..ir.kinds import DriveKind, WeightKind
from ..ir.symbols import DT, symbol
from ..codegen.run_arrays import InputArray
from ..ir.model import Model, Quantity
from .sources import SOURCES, SpikeTrain, strides as table_strides
from ..frontend.units import UnitError, parse_unit, to_unit
from .waveforms import WAVEFORMS, Waveform
from ..ir.written import Assignments, evaluate, to_text

Float = type  # the kernel's NumPy float type: np.float64 or np.float32


def derive(name: str, value: object, derived: Assignments, dt: float | None,
           values: Mapping[str, npt.ArrayLike], dtype: Float, allow_nan: bool = False
           ) -> dict[str, Any]:  # NumPy arrays or scalars, as written.evaluate gives them
    """Parameters computed from another parameterization, e.g. Lapicque's R and C from beta."""
    scope = {symbol(k): v for k, v in values.items()}
    scope.update({symbol(name): finite_array(value, f"params[{name!r}]", dtype, allow_nan), DT: dt or 1.0})
    result = {}
    for parameter, tree in derived:
        result[parameter.name] = scope[parameter] = evaluate(tree, scope, dtype)
        if not np.all(np.isfinite(result[parameter.name])):
            raise InputError(f"params[{name!r}] = {value!r} gives a non-finite {parameter.name}")
    return result


def check_constraints(model: Model, arrays: Mapping[str, np.ndarray], dtype: Float) -> None:
    scope = {symbol(n): a for n, a in arrays.items()}
    for tree in model.constraints:
        if not np.all(evaluate(tree, scope, dtype)):
            raise InputError(f"model {model.name} requires {to_text(tree)}")


def count(value: object, name: str, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum \
            or maximum is not None and value > maximum:
        bound = f"in {minimum}..{maximum}" if maximum is not None else f">= {minimum}"
        raise InputError(f"{name} must be an integer {bound}, got {value!r}")
    return int(value)


SEED_MAX = 2**64 - 1  # the counter-based generator's key is 64 bits


def seed(value: object, name: str = "seed") -> int:
    """A seed of the generator: an integer in 0..2**64 - 1 (a larger one would wrap onto
    another seed's draws)."""
    return count(value, name, 0, SEED_MAX)


def choice(value: object, name: str, options: Sequence[str]) -> str:
    """One of a fixed set of names (an array or a list given instead is an InputError, not
    NumPy's ambiguous truth value)."""
    if not isinstance(value, str) or value not in options:
        raise InputError(f"{name} must be one of {tuple(options)}, got {value!r}")
    return value


def checked_names(mapping: object, known: Sequence[str], what: str) -> dict[str, Any]:
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


def record_request(record: object, state_names: Sequence[str], n_neurons: int
                   ) -> tuple[dict[str, np.ndarray | None], np.ndarray | None]:
    """(state -> None for every neuron or the traced neuron indices, indices the kernel records,
    None for every neuron: an index of every neuron is made only once the run's memory is
    checked, see `recorded_index`).

    The kernel records one set of neurons for every traced state: the union of those asked for.
    """
    if record is None:
        record = ("V",) if "V" in state_names else state_names[:1]
    if isinstance(record, str):
        record = (record,)
    if not isinstance(record, (Mapping, list, tuple)):
        raise InputError(f"record must be a state name, a list of them or a dict of state -> "
                         f"neuron indices, got {type(record).__name__}")
    names = list(record)
    unknown = [n for n in names if not isinstance(n, str) or n not in state_names]
    if unknown:
        raise InputError(f"record has unknown state(s) {unknown}; states are {state_names}")
    requests = dict(record) if isinstance(record, Mapping) else {name: None for name in record}
    unknown = [n for n in requests if n not in state_names]
    if unknown:
        raise InputError(f"record has unknown state(s) {unknown}; states are {state_names}")
    if not requests:
        return {}, np.zeros(0, np.int64)
    if any(neurons is None for neurons in requests.values()):
        return {name: None for name in requests}, None
    chosen = set()
    for name, neurons in requests.items():
        neurons = np.asarray(neurons)
        if neurons.ndim != 1 or not np.issubdtype(neurons.dtype, np.integer) \
                or np.any((neurons < 0) | (neurons >= n_neurons)):
            raise InputError(f"record[{name!r}] must list neuron indices in 0..{n_neurons - 1}")
        chosen |= set(neurons.tolist())
    union = np.array(sorted(chosen), dtype=np.int64)
    return {name: union for name in requests}, union


def recorded_index(union: np.ndarray | None, n_neurons: int) -> np.ndarray:
    """The neurons a kernel records (int64), from `record_request`'s union (None: all)."""
    return np.arange(n_neurons, dtype=np.int64) if union is None \
        else np.ascontiguousarray(union, dtype=np.int64)


def recorded_count(union: np.ndarray | None, n_neurons: int) -> int:
    return n_neurons if union is None else int(union.size)


def numbers(value: object, what: str, dtype: Float) -> np.ndarray:
    """`value` as a contiguous array of `dtype`, or an InputError naming `what`."""
    if is_gpu_array(value):
        raise InputError(f"{what} is a GPU array; only inputs are taken on the GPU: give it as a "
                         "NumPy array (CuPy: .get(), torch: .cpu().numpy())")
    if isinstance(value, np.ma.MaskedArray):
        raise InputError(f"{what} is a masked array, whose mask lifgen would ignore: give "
                         "value.filled(...) with the value masked entries should have")
    kind = "b" if isinstance(value, bool) else "f" if isinstance(value, (int, float)) \
        else np.asarray(value).dtype.kind
    if kind in REFUSED_KINDS:
        raise InputError(f"{what} must be real numbers, got {REFUSED_KINDS[kind]} "
                         "(convert it with .astype(float) if that is what you mean)")
    try:
        array: np.ndarray = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be numbers, got {type(value).__name__}") from None
    except OverflowError:
        raise InputError(f"{what} holds a number too large for a {np.dtype(dtype).name}") from None
    return np.ascontiguousarray(array) if array.ndim else array


# NumPy kinds that are no real numbers, though NumPy converts some of them without a word
REFUSED_KINDS = {"b": "booleans", "c": "complex numbers (the imaginary part would be dropped)",
                 "M": "dates", "m": "time deltas", "S": "bytes", "U": "text", "V": "a structured "
                 "array"}


def finite_array(value: object, what: str, dtype: Float, allow_nan: bool = False) -> np.ndarray:
    array = numbers(value, what, dtype)
    if not allow_nan and not np.isfinite(array).all():
        raise InputError(f"{what} contains NaN or infinite values (run(..., allow_nan=True) "
                         "accepts them)")
    return array


def per_neuron(value: object, what: str, n_neurons: int, dtype: Float, allow_nan: bool = False
               ) -> tuple[np.ndarray, int]:
    """A scalar or an (N,) array as (array, stride): stride 0 shares one value among all neurons."""
    array = finite_array(value, what, dtype, allow_nan)
    if array.ndim == 0:
        return array.reshape(1), 0
    if array.shape == (n_neurons,):
        return array, 1
    raise InputError(f"{what} must be a scalar or have shape ({n_neurons},), got {array.shape}")


def batch_shape(inputs: Mapping[str, npt.ArrayLike | Waveform],
                initial: Mapping[str, npt.ArrayLike], n_steps: int,
                n_neurons: int) -> tuple[int, ...]:
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


def input_array(value: npt.ArrayLike | Waveform, name: str, n_steps: int, batch: tuple[int, ...],
                n_neurons: int, dtype: Float, allow_nan: bool = False, device: Any = None
                ) -> InputArray:
    """An input as (array, time stride, batch stride, neuron stride) over a contiguous array.

    Streamed inputs are not scanned for NaN (a pass over them would cost as much as the
    simulation); a NaN input gives NaN states, as in NumPy. A GPU array (CuPy, a torch CUDA
    tensor: anything with __cuda_array_interface__ or CUDA DLPack) stays on the GPU, taken by
    `device` without a copy when its dtype is the kernel's; only the cuda target has one.
    """
    what = f"inputs[{name!r}]"
    if is_gpu_array(value):
        if device is None:
            raise InputError(f"{what} is a GPU array; run it with target='cuda', or pass a NumPy "
                             "array")
        check_gpu_input(value, what, device.id)
        return _laid_out(device.adopt(value, dtype), what, n_steps, batch, n_neurons)
    if isinstance(value, WAVEFORMS):
        return InputArray(finite_array(value.values(n_steps), what, dtype, allow_nan), 1, 0, 0)
    if n_neurons == 1 and n_steps > 1 and np.ndim(value) == 1 and np.shape(value) == (n_steps,):
        return _laid_out(numbers(value, what, dtype).reshape(n_steps, 1), what, n_steps, batch, 1)
    if np.ndim(value) == 1 and np.shape(value) == (n_steps,) and n_steps != n_neurons:
        raise InputError(f"{what} has {n_steps} values, one per step: give it shape "
                         f"({n_steps}, 1) for every neuron alike, or ({n_steps}, {n_neurons}) "
                         "for one value per neuron and step")
    if isinstance(value, Real) or np.ndim(value) < 2:
        array, stride = per_neuron(value, what, n_neurons, dtype, allow_nan)
        return InputArray(array, 0, 0, stride)
    return _laid_out(numbers(value, what, dtype), what, n_steps, batch, n_neurons)


def check_gpu_input(value: Any, what: str, device_id: int) -> None:
    """Refuse a GPU input lifgen cannot read as it is: a torch tensor that requires grad (the
    kernels compute no gradients) or an array on another GPU than the run's."""
    if getattr(value, "requires_grad", False):
        raise InputError(f"{what} requires grad, and lifgen's kernels compute no gradients: "
                         "pass tensor.detach()")
    try:
        kind, index = value.__dlpack_device__()
    except (AttributeError, TypeError, ValueError):
        return
    if int(index) != device_id:
        raise InputError(f"{what} is on GPU {int(index)}, and this run is on GPU {device_id}: "
                         f"move it (tensor.to('cuda:{device_id}'), or CuPy's "
                         f"cupy.cuda.Device({device_id})) or run there")


def on_host(value: Any, what: str, device: Any) -> Any:
    """An initial state given as a GPU array (a Result of output="device" continued) as a NumPy
    array copied from `device`; other values as they are. Without a device, GPU arrays stay
    refused (`numbers` says so)."""
    if device is None or not is_gpu_array(value):
        return value
    check_gpu_input(value, what, device.id)
    return device.to_host(value)


def is_gpu_array(value: Any) -> bool:  # anything: probed for a GPU array's interfaces
    """Whether `value` lives in a CUDA GPU's memory (NumPy's DLPack device is the CPU's)."""
    if type(value) in (float, int, np.ndarray) or isinstance(value, np.generic):  # answered fast
        return False
    if hasattr(value, "__cuda_array_interface__"):
        return True
    try:
        return value.__dlpack_device__()[0] in (2, 13)  # kDLCUDA, kDLCUDAManaged
    except (AttributeError, TypeError, ValueError):
        return False


def _laid_out(array: np.ndarray, what: str, n_steps: int, batch: tuple[int, ...],
              n_neurons: int) -> InputArray:
    """The strides of a contiguous input array of one of the accepted shapes."""
    rows = int(np.prod(batch, dtype=np.int64))
    shape = tuple(array.shape)
    if shape in ((), (1,)):
        return InputArray(array.reshape(1), 0, 0, 0)
    if shape == (n_neurons,):
        return InputArray(array, 0, 0, 1)
    if shape == (n_steps, n_neurons):
        return InputArray(array, n_neurons, 0, 1)
    if shape == (n_steps, 1):
        return InputArray(array, 1, 0, 0)
    if shape == (n_steps, *batch, n_neurons) and batch:
        return InputArray(array, rows * n_neurons, n_neurons, 1)
    raise InputError(f"{what} must be a scalar, a waveform, or have shape ({n_neurons},), "
                     f"({n_steps}, {n_neurons}), ({n_steps}, 1) or ({n_steps}, *batch, "
                     f"{n_neurons}); got {shape}")


def in_declared_units(values: Mapping[str, object], quantities: Sequence[Quantity], what: str
                      ) -> dict[str, Any]:  # numbers, arrays or waveforms, as given
    """Values given as quantities ("20 ms", a SymPy quantity) as numbers in the units the model
    declares; plain numbers already are."""
    units = {q.name: q.unit for q in quantities}
    try:
        return {name: to_unit(value, parse_unit(units.get(name, "")), f"{what}[{name!r}]")
                for name, value in values.items()}
    except UnitError as error:
        raise InputError(str(error)) from None


def initial_states(model: Model, initial: Mapping[str, object],
                   param_values: Mapping[str, tuple[np.ndarray, int]], batch: tuple[int, ...],
                   n_neurons: int, dtype: Float, allow_nan: bool = False,
                   uniform: dict[str, Any] | None = None, device: Any = None
                   ) -> dict[str, np.ndarray]:
    """Initial state arrays (rows, N): given, a number, or a formula of parameters and states
    (with `uniform`, see `state_array`)."""
    scope = None  # built only when a formula needs it: most runs start from numbers
    states: dict[str, np.ndarray] = {}  # state name -> (rows, N)
    for q in model.states:
        if q.name in initial or q.formula is None:
            value = initial.get(q.name, q.value)
        else:
            if scope is None:
                fill_uniform(states, uniform)  # a formula reads the states before it
                scope = {symbol(n): np.broadcast_to(array if stride else array[0], (n_neurons,))
                         for n, (array, stride) in param_values.items()}
                scope.update({symbol(n): a.reshape(*batch, n_neurons) for n, a in states.items()})
            value = evaluate(q.formula, scope, dtype)
        states[q.name] = state_array(value, q.name, batch, n_neurons, dtype, allow_nan,
                                     None if scope is not None else uniform, device)
        if scope is not None:
            scope[q.symbol] = states[q.name].reshape(*batch, n_neurons)
    return states


def state_array(value: object, name: str, batch: tuple[int, ...], n_neurons: int, dtype: Float,
                allow_nan: bool = False, uniform: dict[str, Any] | None = None,
                device: Any = None) -> np.ndarray:
    """An initial state laid out (rows, N). With `uniform`, a single value is not written out:
    the array is a view of zero that the host never allocates (`output_array`), and
    `uniform[name]` holds the value for a device to fill in its own memory (or `fill_uniform` to
    write, where the host runs)."""
    what = f"initial[{name!r}]"
    array = finite_array(on_host(value, what, device), what, dtype, allow_nan)
    if array.shape not in ((), (n_neurons,), (*batch, n_neurons)):
        raise InputError(f"{what} must be a scalar or have shape ({n_neurons},) or "
                         f"(*batch, {n_neurons}); got {array.shape}")
    rows = int(np.prod(batch, dtype=np.int64))
    if uniform is not None and array.ndim == 0:
        uniform[name] = array[()]
        return output_array((rows, n_neurons), dtype, 0, device)
    laid: np.ndarray = np.empty((rows, n_neurons), dtype)
    laid.reshape(*batch, n_neurons)[...] = array  # broadcast over the rows
    return laid


def output_array(shape: tuple[int, ...], dtype: Any, start: float, device: Any) -> np.ndarray:
    """An output array of a run that starts at `start` (counts, flags, a raster at 0, spike
    offsets at NaN): on the host; for a run on a device, which makes its own there, a read-only
    view of one value that allocates nothing (the device's results replace it, or a host array
    is made when they are copied back)."""
    if device is None:
        return np.full(shape, start, dtype) if start else np.zeros(shape, dtype)
    return np.broadcast_to(np.array(start, dtype), shape)


def host_outputs(arrays: Any) -> None:
    """Make real host arrays of the outputs `output_array` left as views (a run whose host
    writes them: sharded, or coupled)."""
    for name in ("raster", "offsets", "counts", "fired"):
        array = getattr(arrays, name)
        if array is not None and not array.flags.writeable:
            setattr(arrays, name, np.array(array))


def fill_uniform(states: dict[str, np.ndarray], uniform: dict[str, Any] | None) -> None:
    """Write out the single values `state_array` left to fill (and forget them)."""
    for name, value in (uniform or {}).items():
        if value or not states[name].flags.writeable:
            states[name] = np.full(states[name].shape, value, states[name].dtype)
    if uniform:
        uniform.clear()


def weights(value: object, name: str, n_neurons: int, dtype: Float, allow_nan: bool = False
            ) -> dict[str, Any]:
    """Synapse weights for the kernel (see WeightKind): none, one-to-one (N,), dense stored
    [pre][post], or a Sparse in CSR by presynaptic neuron with a delay ring of `slots` steps."""
    if value is None:
        return {"weights": None, "kind": WeightKind.NONE, "slots": 0}
    what = f"connections[{name!r}]"
    if isinstance(value, Sparse):
        if (value.n_pre, value.n_post) != (n_neurons, n_neurons):
            raise InputError(f"{what} connects {value.n_pre} to {value.n_post} neurons; the "
                             f"population has {n_neurons}")
        at_least_one_step(value, what)
        rows, post, weight, delay = value.csr(dtype)
        return {"weights": weight, "kind": WeightKind.SPARSE, "rows": rows, "post": post, "delay": delay,
                "slots": value.max_delay + 1}
    array = finite_array(value, what, dtype, allow_nan)
    if array.shape == (n_neurons,):
        return {"weights": array, "kind": WeightKind.ONE_TO_ONE, "slots": 0}
    if array.shape == (n_neurons, n_neurons):  # W[i, j] is from j to i; the kernel reads by j
        return {"weights": np.ascontiguousarray(array.T), "kind": WeightKind.DENSE, "slots": 0}
    raise InputError(f"{what} must have shape ({n_neurons},) (one-to-one), "
                     f"({n_neurons}, {n_neurons}) (dense, W[i, j] from j to i) or be a "
                     f"lifgen.Sparse; got {array.shape}")


def drive(value: object, name: str, n_neurons: int, n_steps: int, dt: float | None, dtype: Float,
          allow_nan: bool = False, time_unit: str = "") -> dict[str, Any]:
    """An external drive (source, W) as the kernel takes it (see DriveKind): random (a spike
    probability per step and source) or playback (events in CSR by step); W in CSR by source."""
    if value is None:
        return {"kind": DriveKind.NONE, "slots": 0}
    what = f"drives[{name!r}]"
    if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], SOURCES)):
        raise InputError(f"{what} must be (source, W) with a lifgen.Poisson, Bernoulli or "
                         "SpikeTrain source")
    source, weights = value
    sparse = drive_synapses(weights, source.n, n_neurons, what, dtype, allow_nan)
    rows, post, weight, delay = sparse.csr(dtype)
    entry = {"n": source.n, "rows": rows, "post": post, "delay": delay, "weights": weight,
             "slots": sparse.max_delay + 1}
    if isinstance(source, SpikeTrain):
        start, sources = source.events(n_steps)
        return dict(entry, kind=DriveKind.PLAYBACK, start=start, sources=sources)
    p = source.probabilities(n_steps, dt, time_unit)
    time_stride, source_stride = table_strides(p)
    return dict(entry, kind=DriveKind.RANDOM, p=np.ascontiguousarray(p.reshape(-1), dtype),
                time_stride=time_stride,
                source_stride=source_stride, seed=seed(source.seed, "a drive's source: seed"))


def at_least_one_step(sparse: Sparse, what: str) -> None:
    """A single population's connections and drives arrive a step or more later (delay 0 is for
    a network's projections, which deliver within the step in their update order)."""
    if sparse.delay.size and sparse.delay.min() < 1:
        raise InputError(f"{what}: delays are whole steps >= 1 here; found "
                         f"{int(sparse.delay.min())} (delay 0 is for a network's projections)")


def drive_synapses(weights: object, n_sources: int, n_neurons: int, what: str, dtype: Float,
                   allow_nan: bool = False) -> Sparse:
    """W of a drive as a Sparse from sources to neurons: (N,) one-to-one when n == N, (N, n)
    dense, or a Sparse; array forms arrive after one step."""
    if isinstance(weights, Sparse):
        if (weights.n_pre, weights.n_post) != (n_sources, n_neurons):
            raise InputError(f"{what}: W connects {weights.n_pre} sources to {weights.n_post} "
                             f"neurons; expected {n_sources} to {n_neurons}")
        at_least_one_step(weights, what)
        return weights
    array = finite_array(weights, f"{what} W", dtype, allow_nan)
    if array.shape == (n_neurons,) and n_sources == n_neurons:
        index = np.arange(n_neurons)
        return Sparse.from_arrays(index, index, array, n_pre=n_sources, n_post=n_neurons)
    if array.shape == (n_neurons, n_sources):
        post, pre = np.nonzero(array)
        return Sparse.from_arrays(pre, post, array[post, pre], n_pre=n_sources, n_post=n_neurons)
    raise InputError(f"{what}: W must be ({n_neurons},) (one-to-one, n == N), ({n_neurons}, "
                     f"{n_sources}) dense, or a lifgen.Sparse; got {array.shape}")


def as_grid(entry: InputArray, n_steps: int, n_neurons: int) -> np.ndarray:
    """The input reshaped so that it broadcasts to (T, *batch, N) through its first and last axes."""
    if entry.batch_stride:
        return entry.array
    rows = n_steps if entry.time_stride else 1
    columns = n_neurons if entry.neuron_stride else 1
    return entry.array.reshape(rows, columns)
