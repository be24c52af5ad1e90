"""Simulator: a compiled model that runs populations on NumPy arrays, through its target.

A run is four steps: its arguments are checked and laid out (`prepare.py`), the kernel variant
for them is picked (built once), the target's runner advances it in chunks (with progress and
events), and the arrays are assembled into a Result.
"""

from __future__ import annotations


import dataclasses
import functools
import os
from pathlib import Path
import threading
import time
import warnings
from numbers import Real
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt
import sympy

from . import continuation
from . import footprint
from . import memory
from . import plasticity
from . import prepare
from ..ir import written
from ..codegen.compiler import built, checked_flag, checked_semantics, dt_in_model_unit, variant_source
from ..errors import InputError, ModelError, NumericalWarning
from ..numerics.discretize import StepMap
from ..numerics.methods import ORDERS
from ..ir.model import Model
from ..ir.kinds import WeightKind
from ..codegen.options import Semantics, Schedule, Variant
from .plasticity import Synapses
from ..results.continuation import Pending, State
from ..results.result import Result
from ..codegen.run_arrays import RunArrays, SynapseArrays
from .progress import ProgressBar
from .shards import sharded_run
from .coupled_run import CoupledRunner, coupled_plan
from ..codegen.network import lower_network
from ..numerics.stability import growth_per_set, stability_warning
from ..ir.symbols import ADAPTIVE_STATE, symbol
from ..targets import get_target
from ..targets.base import NetworkTarget, Runner, Target
from ..frontend.library import read_once
from ..frontend.units import UnitError, is_quantity_text, parse_unit, to_unit
from .waveforms import WAVEFORMS, in_units

NUMPY_DTYPES = {"float64": np.float64, "float32": np.float32}
SPIKE_MODES = ("raster", "count", "events")
OUTPUTS = ("host", "device")  # where a Result's arrays are: NumPy, or the target's device
RASTER_LIMIT = 10**9  # entries; larger rasters are refused in favour of counts or events
MAX_COUNT = 2**48  # steps or neurons: more cannot be indexed, let alone allocated
CHUNK_ENTRIES = 1 << 22  # neuron-steps per chunk when spikes are collected as events
PROGRESS_SECONDS = 0.5  # the length of a kernel call between progress-bar updates
MAX_TRACED_NONFINITE = 4096  # neurons traced to find where a state first became non-finite
STABILITY_SETS = 8  # distinct parameter sets of a run checked for the method's stability


@dataclasses.dataclass
class _Request:
    """A run's checked arguments: its arrays, and what the Result and a rerun need."""

    arrays: RunArrays
    record: dict[str, Any]
    spikes: str
    connected: bool
    given: dict[str, Any]
    max_events: int = 0  # spike events the memory limit leaves room for (spikes="events")
    carried: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # for a next run


class Simulator:
    """A compiled model: call `run` as often as you like; parameters change without recompiling."""

    def __init__(self, target: Target, kernel_source: Any, kernel: Any) -> None:
        self.target = target
        self.kernel_source = kernel_source
        self.kernel = kernel
        self.step_map: StepMap = kernel_source.step_map
        self.model = self.step_map.model
        self.dtype: str = kernel_source.dtype
        self.semantics: Semantics = kernel_source.semantics
        self.schedule: Schedule = kernel_source.schedule
        self._scratch: list[np.ndarray] = []  # kernel scratch, reused: fresh memory faults pages
        self._variants = {kernel_source.variant: (kernel_source, kernel)}
        self._stability: dict[tuple, str] = {}  # parameter set -> its warning ("" when stable)
        self._units = {q.name: q.unit for q in (*self.model.states, *self.model.parameters,
                                                *self.model.inputs) if q.unit}

    def variant(self, layouts: dict[str, str], shared: Iterable[str] = ()) -> tuple[Any, Any]:
        """(source, kernel) of the uncoupled population's kernel specialised for how each input
        arrives and which parameters all neurons share (built once, then cached)."""
        key = Variant.of(layouts, shared)
        if key not in self._variants:
            source = variant_source(self.kernel_source, key, self.target)
            self._variants[key] = (source, self.target.build(source))
        return self._variants[key]

    def _device(self) -> Any:
        """The target's device (a GPU) where it has one, else None."""
        return getattr(self.target, "device", None)

    def _borrow_scratch(self, size: int) -> np.ndarray:
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
    method_reason = property(lambda self: self.step_map.note or f"method {self.method}: as "
                             "given (to compile or in the model file), not chosen by auto",
                             doc="Which method integrates the model and why: with method='auto', "
                                 "the candidates' estimated errors and the tolerance.")
    dt = property(lambda self: self.step_map.dt)
    reset = property(lambda self: self.step_map.reset_mechanism)
    reset_timing = property(lambda self: self.step_map.reset_timing)
    options = property(lambda self: dict(self.kernel_source.options))
    portable = property(lambda self: self.schedule.portable)
    fma = property(lambda self: self.schedule.fma)
    precise = property(lambda self: bool(self.step_map.propagator))
    from_cache = property(lambda self: self.kernel.from_cache)

    def __reduce__(self) -> tuple[Callable[[Model, Semantics, Schedule, str], Simulator],
                                  tuple[Model, Semantics, Schedule, str]]:
        """A Simulator pickles as its model's content and its options: unpickled in another
        process (a Dask worker), it is rebuilt there once, from the cache when it is warm."""
        return (rebuilt, (self.model, self.semantics, self.schedule, self.target.name))

    def __repr__(self) -> str:
        return (f"<Simulator {self.model.name}: method={self.method}, dt={self.dt}, "
                f"dtype={self.dtype}, reset={self.reset} ({self.reset_timing})>")

    def _repr_html_(self) -> str:
        from ..results.notebook import simulator_html

        return simulator_html(self)

    def source(self, n_steps: int = 1, n_neurons: int = 1, inputs: Mapping[str, Any] | None = None,
               params: Mapping[str, Any] | None = None,
               connections: Mapping[str, Any] | None = None,
               drives: Mapping[str, Any] | None = None) -> str:
        """The generated code of the kernel that `run` with these arguments executes."""
        request = self._prepare(n_steps, n_neurons, inputs, params, None, (), connections,
                                "count", drives, 0, False)
        if self._runs_as_network(request):
            return self.network_program(coupled_plan(self, request.arrays, (), "count"))[0].text
        return self._variant_of(request)[0].c_source

    @property
    def c_source(self) -> str:
        """The generated code of the first kernel (shared parameters, held inputs), or with
        inhibition, whose every run couples the neurons, of a one-neuron run's network program;
        source(...) gives the code of a given run."""
        if self.semantics.inhibition:
            return self.source()
        return self.kernel_source.c_source

    def _made_by(self) -> str:
        """What a run's carry (Result.state.pending) names as what made it."""
        return f"model {self.model.name} (method {self.method}, dt = {self.dt})"

    def _runs_as_network(self, request: _Request) -> bool:
        """Whether a run couples the neurons (connections, drives, winner-take-all): then the
        population runs as a one-population network (coupled_run), which a target that runs no
        networks refuses."""
        if not (request.connected or self.semantics.inhibition):
            return False
        if not isinstance(self.target, NetworkTarget):
            raise InputError(f"target {self.target.name!r} runs uncoupled populations only: "
                             "connections, drives and inhibition=True need a target that runs "
                             "networks, such as 'c' or 'cuda'")
        return True

    def network_program(self, plan: Any) -> tuple[Any, Any]:
        """(source, kernel) of the network program of `plan`, built with this simulator's
        compiler flags (once per plan)."""
        if plan not in self._variants:
            target = self.target
            assert isinstance(target, NetworkTarget)
            source = target.render_network(lower_network(plan))
            self._variants[plan] = (source, target.build_network(source, self.schedule))
        return self._variants[plan]

    def run(self, n_steps: int | str | None = None, n_neurons: int = 1,
            inputs: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None,
            initial: Mapping[str, Any] | None = None,
            record: str | Sequence[str] | Mapping[str, Any] | None = None,
            connections: Mapping[str, Any] | None = None, spikes: str = "raster",
            progress: bool = False, drives: Mapping[str, Any] | None = None, seed: int = 0,
            allow_nan: bool = False, output: str = "host", first_neuron: int = 0,
            executor: Any = None, shards: int | None = None,
            duration: float | str | sympy.Basic | None = None, max_memory: float | None = None,
            record_synapses: Mapping[str, Any] | None = None) -> Result:
        """Simulate `n_neurons` neurons for `n_steps` steps, or for `duration` ("500 ms", or a
        number in the model's time unit); see the README for the argument forms.

        Inputs of shape (T, *batch, N) or initial states of shape (*batch, N) run independent
        copies of the population (batch rows) that share parameters and connections. `spikes` is
        "raster", "count" or "events"; `record` names states to trace, or maps state names to
        the neurons to trace. `progress=True` draws a progress bar; Ctrl-C then stops between
        chunks and returns what was simulated, with `Result.partial` set. `drives` maps a
        synapse type to (source, W): a Poisson, Bernoulli or SpikeTrain source and its weights.
        `seed` seeds the white noise xi of a stochastic model. NaN or infinite inputs, parameters
        and initial states are refused unless `allow_nan`. A state that becomes NaN or infinite
        is reported with a NumericalWarning naming the first step and neuron where it did.
        With target="cuda", inputs may be GPU arrays (taken without a copy), and
        `output="device"` leaves the Result's arrays on the GPU (CuPy arrays). `first_neuron`
        numbers the neurons from there for the noise draws, so that a block of a population (a
        shard) draws what those neurons draw in the whole. `shards=k` splits an uncoupled
        population into k blocks of neurons run on `executor` (a dask.distributed Client,
        "dask", a concurrent.futures Executor, or None: here, one after the other): the same
        Result, bit for bit, as one run. Every allocation is estimated first: a run needing more
        than `max_memory` bytes (default 80% of the memory available) is refused, and spike
        events beyond what fits are dropped (`Result.truncated`; counts stay complete).
        A `lifgen.Synapses` in `connections` or `drives` makes that synapse type plastic: its
        final states are `Result.synapses[type][state]`, and `record_synapses` maps a type to
        the synapses (indices in its Sparse) whose states `Result.synapse_traces` holds per step.
        """
        n_steps = self._step_count(n_steps, duration)
        output = prepare.choice(output, "output", OUTPUTS)
        progress = checked_flag(progress, "progress")
        allow_nan = checked_flag(allow_nan, "allow_nan")
        if output == "device" and self._device() is None:
            raise InputError("output='device' keeps results on the GPU: compile with "
                             "target='cuda'")
        pending = continuation.carried(initial)
        request = self._prepare(n_steps, n_neurons, inputs, params, initial, record, connections,
                                spikes, drives, seed, bool(allow_nan), max_memory,
                                record_synapses, lazy_states=self._device() is not None)
        if pending is not None:  # a rerun (to find a NaN) continues the same way
            request.given["initial"] = State(request.given["initial"], pending)
        request.arrays.clock = pending.clock if pending is not None else 0
        request.arrays.first_neuron = prepare.count(first_neuron, "first_neuron", minimum=0)
        request.given["first_neuron"] = request.arrays.first_neuron
        self._check_stability(request.arrays.params)
        arrays = request.arrays
        sharded = executor is not None or (shards is not None
                                           and _shard_count(shards, executor) != 1)
        if sharded and output == "device":
            raise InputError("output='device' is for one run on one GPU, not a sharded one")
        blocks = _shard_count(shards, executor) if sharded else 1  # checked, steps or none
        coupled = not sharded and self._runs_as_network(request)
        if sharded or coupled:  # (only the device's own runner fills states given as one value,
            prepare.fill_uniform(arrays.states, arrays.uniform)  # and makes its own outputs)
            prepare.host_outputs(arrays)
        if not coupled and not sharded:  # (in flight of a coupled run: no place in this one;
            continuation.restore(pending, {}, self._made_by())  # a sharded run's blocks take it)
        if sharded and arrays.n_steps:
            done, partial, events = sharded_run(self, request, blocks, executor, progress,
                                                bool(allow_nan))
        elif coupled:
            coupled_runner = CoupledRunner(self, arrays, tuple(request.record), request.spikes,
                                           pending)
            done, partial, events = _advance(coupled_runner, arrays, request.spikes, progress,
                                             request.max_events)
            request.carried = continuation.kept(coupled_runner.buffers)
        else:
            source, kernel = self._variant_of(request)
            arrays.work = self._borrow_scratch(max(source.work_size, 1) * arrays.n_neurons)
            if request.spikes == "events":
                arrays.event_steps = _chunk_length(
                    arrays.n_steps, arrays.rows * arrays.n_neurons, "events",
                    getattr(self.target, "event_chunk_entries", CHUNK_ENTRIES))
            try:
                runner: Runner = self.target.runner(source, kernel, arrays)
                done, partial, events = _advance(runner, arrays, request.spikes, progress,
                                                 request.max_events)
                runner.finish(output == "device")  # the run's arrays hold its results now
            finally:
                self._scratch.append(arrays.work)
        result = self._assemble(request, done, partial, events, sharded)
        if coupled and output == "device":
            _moved_to_device(result, self._device().upload)
        short = past_substep_bound(self.step_map, arrays.states.get(ADAPTIVE_STATE))
        if short:
            warnings.warn(f"{self.model.name}: {short}", NumericalWarning, stacklevel=2)
        finite = self._device().all_finite if output == "device" else _all_finite
        if not allow_nan and not all(finite(a) for a in arrays.states.values()):
            self._report_nonfinite(result, request.given, done, arrays.n_neurons)
        return result

    def _step_count(self, n_steps: Any, duration: float | str | sympy.Basic | None) -> int:
        """The number of steps of a run given as `n_steps` or as a `duration` (a time given as
        n_steps, "500 ms", counts as a duration); a duration must be whole steps of dt."""
        if is_quantity_text(n_steps) and duration is None:
            n_steps, duration = None, n_steps
        if (n_steps is None) == (duration is None):
            raise InputError("run needs n_steps or duration=, one of them"
                             + ("" if n_steps is None else ", not both"))
        if duration is None:
            return n_steps
        if self.dt is None:
            raise InputError(f"model {self.model.name} is a discrete-time map: give n_steps")
        unit = self.model.time_unit
        if isinstance(duration, str) and not unit:
            raise InputError(f"duration={duration!r}: model {self.model.name} declares no time "
                             "unit; give a number in its time unit, or n_steps")
        try:
            length = to_unit(duration, parse_unit(unit), "duration") if unit else duration
        except UnitError as error:
            raise InputError(str(error)) from None
        if isinstance(length, bool) or not isinstance(length, Real) or not float(length) >= 0 \
                or not np.isfinite(float(length)):
            raise InputError(f"duration must be a finite time >= 0, got {duration!r}")
        steps = length / self.dt
        if abs(steps - round(steps)) > 1e-6 * max(1.0, steps):
            raise InputError(f"duration={duration!r} is not a whole number of steps of dt = "
                             f"{self.dt:g} {unit}".rstrip())
        return int(round(steps))

    def _inputs_in_units(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Inputs given as quantities ("0.5 nA") or waveforms with quantities, as numbers in
        the units the model declares and times in steps."""
        units = {q.name: q.unit for q in self.model.inputs}
        converted = {}
        for name, value in inputs.items():
            what = f"inputs[{name!r}]"
            if isinstance(value, WAVEFORMS):
                value = in_units(value, units[name], self.dt, self.model.time_unit, what)
            elif isinstance(value, (str, sympy.Basic)):
                value = prepare.in_declared_units({name: value}, self.model.inputs, "inputs")[name]
            converted[name] = value
        return converted

    def _check_stability(self, params: Mapping[str, tuple[np.ndarray, int]]) -> None:
        """Warn when the method is unstable at dt with this run's parameters (compile checked
        the defaults): every distinct per-neuron set at once (growth_per_set), or up to
        STABILITY_SETS one by one where the Jacobian needs SymPy."""
        if not self.model.odes or self.step_map.method not in ORDERS or self.dt is None:
            return
        defaults = self.model.defaults
        changed = {n: values for n, (values, _) in params.items()
                   if not np.all(values == values.dtype.type(defaults[n]))}
        if not changed:
            return
        rows = _distinct_sets(changed)
        growth = growth_per_set(self.model, self.step_map.method, self.dt, list(changed),
                                rows.astype(float))
        if growth is None:
            checked = rows[:STABILITY_SETS]
        else:
            unstable = np.flatnonzero(growth > 1 + 1e-12)
            checked = rows[unstable[np.argsort(-growth[unstable])][:1]]  # the worst one
        for row in checked:
            key = tuple(zip(changed, map(float, row)))
            if key not in self._stability:
                self._stability[key] = stability_warning(self.model, self.step_map.method,
                                                         self.dt, dict(key))
                if self._stability[key]:
                    more = "" if growth is None else \
                        f" ({int(np.sum(growth > 1 + 1e-12))} of this run's {len(rows)} " \
                        "parameter sets are unstable; this one is the worst)"
                    warnings.warn(self._stability[key] + more, NumericalWarning, stacklevel=3)

    def _prepare(self, n_steps: object, n_neurons: object, inputs: object, params: object,
                 initial: object, record: object, connections: object, spikes: str,
                 drives: object, seed: object, allow_nan: bool, max_memory: float | None = None,
                 record_synapses: object = None, lazy_states: bool = False) -> _Request:
        """Every argument checked and laid out as arrays, before any kernel runs (with
        `lazy_states`, states given as one value are left for the device to fill:
        RunArrays.uniform)."""
        n_steps = prepare.count(n_steps, "n_steps", 0, MAX_COUNT)
        seed = prepare.seed(seed)
        n_neurons = prepare.count(n_neurons, "n_neurons", 1, MAX_COUNT)
        dtype = NUMPY_DTYPES[self.dtype]
        model = self.model
        inputs = self._inputs_in_units(prepare.checked_names(inputs, model.input_names, "inputs"))
        params = prepare.checked_names(params, model.parameter_names
                                       + tuple(dict(model.parameter_sets)), "params")
        state_names = self.step_map.state_names
        initial = prepare.in_declared_units(prepare.checked_names(initial, state_names, "initial"),
                                            model.states, "initial")
        connections = prepare.checked_names(connections, model.synapse_names, "connections")
        drives = prepare.checked_names(drives, model.synapse_names, "drives")
        # what a rerun needs to find where a state became NaN (the same initial state follows)
        given = dict(inputs=inputs, params=dict(params), initial=dict(initial),
                     connections=connections, drives=drives, seed=seed)
        record, recorded_neurons = prepare.record_request(record, state_names, n_neurons)
        batch = prepare.batch_shape(inputs, initial, n_steps, n_neurons)
        rows = int(np.prod(batch, dtype=np.int64))
        spikes = prepare.choice(spikes, "spikes", SPIKE_MODES)
        if spikes == "raster" and n_steps * rows * n_neurons >= RASTER_LIMIT:
            raise InputError(f"a spike raster of {n_steps * rows * n_neurons:.3g} entries is too "
                             "large; run with spikes='count' (counts per neuron) or "
                             "spikes='events' (step and neuron of each spike)")
        parts = self._footprint(n_steps, rows, n_neurons, record,
                                prepare.recorded_count(recorded_neurons, n_neurons), spikes,
                                inputs)
        parts.update(footprint.synapse_parts(
            self.model, len(self.step_map.constants), bool(self.semantics.inhibition),
            np.dtype(dtype).itemsize, n_steps, rows, n_neurons, connections, drives,
            record_synapses))
        if self._device() is not None:  # what surely goes to the GPU, before the host's check
            cells = rows * n_neurons
            self._device().reserve(len(state_names) * cells * np.dtype(dtype).itemsize
                                   + cells * 8 + parts["traces"] + parts["raster"]
                                   + parts["spike offsets"])
        room = memory.check(parts, max_memory)
        input_arrays = {n: prepare.input_array(inputs.get(n, 0.0), n, n_steps, batch, n_neurons,
                                               dtype, allow_nan, self._device())
                        for n in model.input_names}
        param_values = self._parameters(params, n_neurons, dtype, allow_nan)
        uniform: dict[str, Any] | None = {} if lazy_states else None
        states = prepare.initial_states(model, initial, param_values, batch, n_neurons, dtype,
                                        allow_nan, uniform, self._device())
        states.update({n: prepare.state_array(initial.get(n, 0.0), n, batch, n_neurons, dtype,
                                              allow_nan, uniform, self._device())
                       for n in state_names if n not in states})
        synapses = {n: self._synapse(connections.get(n), drives.get(n), n, n_neurons, n_steps,
                                     rows, dtype, allow_nan) for n in model.synapse_names}
        plasticity.record(synapses, prepare.checked_names(record_synapses, model.synapse_names,
                                                          "record_synapses"), n_steps, dtype)
        index = prepare.recorded_index(recorded_neurons, n_neurons)
        grid, device = (rows, n_neurons), self._device()
        arrays = RunArrays(
            n_steps=n_steps, n_neurons=n_neurons, batch=batch, seed=seed, states=states,
            params=param_values, inputs=input_arrays, synapses=synapses, index=index,
            traces={n: np.empty((n_steps, rows, index.size), dtype) for n in record},
            raster=prepare.output_array((n_steps, *grid), np.uint8, 0, device)
            if spikes == "raster" else None,
            offsets=prepare.output_array((n_steps, *grid), dtype, np.nan, device)
            if self.precise else None,
            counts=prepare.output_array(grid, np.int64, 0, device),  # (a continued run's too)
            fired=prepare.output_array(grid, np.uint8, 0, device), work=np.empty(0, dtype),
            dt=float(self.dt or 0.0), uniform=uniform or {})
        connected = any(s.weight_kind for s in synapses.values()) or bool(drives)
        return _Request(arrays, record, spikes, connected, given,
                        room // memory.EVENT_PEAK_BYTES)

    def run_arrays(self, n_steps: int, n_neurons: int, inputs: Any, params: Any, initial: Any,
                   record: Any, seed: int, allow_nan: bool,
                   max_memory: Any = None) -> tuple[RunArrays, dict[str, Any]]:
        """A run's checked arrays and traced states, as `run` lays them out, without running
        (a network lays out each of its populations so)."""
        request = self._prepare(n_steps, n_neurons, inputs, params, initial, record, None,
                                "count", None, seed, allow_nan, max_memory)
        prepare.host_outputs(request.arrays)  # a network's program writes them where it runs
        return request.arrays, request.record

    def _footprint(self, n_steps: int, rows: int, n_neurons: int,
                   record: Mapping[str, np.ndarray | None], recorded: int, spikes: str,
                   inputs: Mapping[str, Any]) -> dict[str, int]:
        """What a run will allocate, by what it is for, in bytes (before any is allocated):
        the neurons' arrays, traces, raster, events and the inputs' conversions."""
        item = np.dtype(NUMPY_DTYPES[self.dtype]).itemsize
        cells = rows * n_neurons
        # states, parameters (and the threshold read from them), the kernel's scratch
        width = len(self.step_map.state_names) + len(self.model.parameter_names) + 1 \
            + max(self.kernel_source.work_size, 1)
        return {"states, parameters and scratch": width * cells * item + cells * 9,
                "traces": len(record) * n_steps * rows * recorded * item,
                "input conversions": sum(_converted_bytes(value, item)
                                         for value in inputs.values()),
                "raster": n_steps * cells if spikes == "raster" else 0,
                "spike offsets": n_steps * cells * item if self.precise else 0,
                "event buffer": min(n_steps, CHUNK_ENTRIES // max(cells, 1) + 1) * cells
                * memory.CHUNK_EVENT_BYTES if spikes == "events" else 0,
                "input waveforms": sum(n_steps * item for value in inputs.values()
                                       if isinstance(value, WAVEFORMS))}

    def _synapse(self, connection: object, drive: object, name: str, n_neurons: int,
                 n_steps: int, rows: int, dtype: prepare.Float, allow_nan: bool) -> SynapseArrays:
        if isinstance(drive, tuple) and len(drive) == 2 and isinstance(drive[1], Synapses):
            return self._plastic_drive(connection, drive, name, n_neurons, n_steps, rows, dtype,
                                       allow_nan)
        if isinstance(connection, Synapses):
            return self._plastic(connection, drive, name, n_neurons, n_steps, rows, dtype,
                                 allow_nan)
        weights = prepare.weights(connection, name, n_neurons, dtype, allow_nan)
        driven = prepare.drive(drive, name, n_neurons, n_steps, self.dt, dtype, allow_nan,
                               self.model.time_unit)
        slots = max(weights["slots"], driven["slots"])
        return SynapseArrays(
            weight_kind=weights["kind"], weights=weights["weights"], rows=weights.get("rows"),
            post=weights.get("post"), delay=weights.get("delay"), drive=driven,
            ring=np.zeros((rows, slots, n_neurons), dtype) if slots else None)

    def _plastic_drive(self, connection: object, drive: tuple[object, Synapses], name: str,
                       n_neurons: int, n_steps: int, rows: int, dtype: prepare.Float,
                       allow_nan: bool) -> SynapseArrays:
        """A synapse type whose external drive's synapses are plastic (Song et al.'s inputs)."""
        if connection is not None:
            raise InputError(f"synapse type {name!r}: plastic drive synapses and connections "
                             "of the same type are not combined; give the connections another "
                             "synapse type")
        source, synapses = drive
        driven = prepare.drive((source, synapses.sparse), name, n_neurons, n_steps, self.dt,
                               dtype, allow_nan, self.model.time_unit)
        binding = plasticity.bind(synapses, name, self.model, source="drive")
        laid = plasticity.arrays(synapses, binding, n_neurons, rows, dtype, driven["slots"])
        return SynapseArrays(weight_kind=WeightKind.PLASTIC, drive=driven, plastic=laid,
                             ring=np.zeros((rows, driven["slots"], n_neurons), dtype))

    def _plastic(self, synapses: Synapses, drive: object, name: str, n_neurons: int,
                 n_steps: int, rows: int, dtype: prepare.Float, allow_nan: bool) -> SynapseArrays:
        """A plastic synapse type's arrays: CSR, per-synapse states and the spike history (the
        delay ring only for its external drive, whose slots the history shares)."""
        weights = prepare.weights(synapses.sparse, name, n_neurons, dtype, allow_nan)
        driven = prepare.drive(drive, name, n_neurons, n_steps, self.dt, dtype, allow_nan,
                               self.model.time_unit)
        slots = max(weights["slots"], driven["slots"])
        laid = plasticity.arrays(synapses, plasticity.bind(synapses, name, self.model),
                                 n_neurons, rows, dtype, slots)
        return SynapseArrays(
            weight_kind=WeightKind.PLASTIC, rows=weights["rows"], post=weights["post"],
            delay=weights["delay"], drive=driven, plastic=laid,
            ring=np.zeros((rows, slots, n_neurons), dtype))  # the GPU adds the arrivals there

    def _variant_of(self, request: _Request) -> tuple[Any, Any]:
        arrays = request.arrays
        return self.variant({n: a.layout for n, a in arrays.inputs.items()},
                            [n for n, (_, stride) in arrays.params.items() if stride == 0])

    def _assemble(self, request: _Request, done: int, partial: bool,
                  events: list[tuple[np.ndarray, np.ndarray]], sharded: bool = False) -> Result:
        """The Result of a run that simulated `done` steps (`sharded`: its blocks ran as runs
        of their own, each under its own memory limit)."""
        a = request.arrays
        batch, n_neurons = a.batch, a.n_neurons
        if not done and isinstance(a.counts, np.ndarray) and not a.counts.flags.writeable:
            a.counts = np.zeros(a.counts.shape, np.int64)  # (a view the host never made)
        elif not done:
            a.counts.fill(0)  # on the host, or the device's (output='device')
        shape = (done, *batch, n_neurons)
        threshold_state, threshold = self._threshold(a.params, n_neurons)
        spike_events, truncated = None, False
        if request.spikes == "events":
            spike_events = _joined_events(events)
            kept = spike_events[0].size
            # a run drops events only once max_events are kept (no sum of the counts before);
            # a sharded run's blocks may have dropped some under their own limits
            total = int(a.counts.sum()) if sharded or kept >= request.max_events else kept
            truncated = kept < total
            if truncated:
                warnings.warn(f"{self.model.name}: kept the first {kept} of {total} spike "
                              "events, all that fit in the memory limit (Result.truncated; "
                              "spike counts are complete)", NumericalWarning, stacklevel=4)
        offsets = a.offsets
        return Result(
            spikes=None if a.raster is None else a.raster[:done].view(bool).reshape(shape),
            spike_count=a.counts.reshape(*batch, n_neurons), spike_events=spike_events,
            spike_offsets=None if offsets is None else np.where(
                offsets[:done] >= 0, offsets[:done], np.nan).reshape(shape),
            traces={n: v[:done].reshape(done, *batch, a.index.size) for n, v in a.traces.items()},
            recorded=request.record,
            state=State({n: v.reshape(*batch, n_neurons) for n, v in a.states.items()},
                        Pending(a.clock + done, request.carried, self._made_by())),
            dt=self.dt, model=self.model.name, threshold=threshold, threshold_state=threshold_state,
            partial=partial, n_steps=done,
            truncated=truncated,
            time_unit=self.model.time_unit, units=self._units,
            inputs={n: read_only(prepare.as_grid(a.inputs[n], a.n_steps, n_neurons))
                    for n in self.model.input_names},
            **plasticity.results(a.synapses, done, self.dt or 1.0, batch, a.fired, a.clock))

    def _threshold(self, params: Mapping[str, tuple[np.ndarray, int]], n_neurons: int
                   ) -> tuple[str, np.ndarray | None]:
        """(state, per-neuron threshold) when the spike condition compares a state with
        parameters (`V > V_th`), else ("", None): what a plot draws as the threshold line."""
        if self._threshold_form is None:
            return "", None
        state, tree, symbols = self._threshold_form
        scope = {s: np.asarray(_on_host(params[s.name][0])) for s in symbols}
        values = written.evaluate(tree, scope)
        return state, read_only(np.broadcast_to(np.asarray(values, float).reshape(-1),
                                                (n_neurons,)))  # one value: no N-sized copy

    @functools.cached_property
    def _threshold_form(self) -> tuple[str, Any, tuple] | None:
        """(state, the threshold as a tree, its parameters' symbols) of a spike condition that
        compares a state with parameters, else None: found once, evaluated each run."""
        spike = self.model.spike
        lhs, rhs = getattr(spike, "lhs", None), getattr(spike, "rhs", None)
        names = set(self.model.parameter_names)
        if lhs is None or rhs is None or lhs not in self.model.state_symbols or not all(
                s.name in names for s in rhs.free_symbols):
            return None
        return lhs.name, written.from_sympy(rhs), tuple(rhs.free_symbols)

    def _stabler_methods(self) -> str:
        """' or method='exact'': the unconditionally stable methods that apply to this model."""
        from ..numerics.methods import applies

        stable = [m for m in ("exact", "exponential_euler")
                  if m != self.method and applies(m, self.model)]
        return f" or method={' or '.join(map(repr, stable))}" if stable else ""

    def _report_nonfinite(self, result: Result, given: dict[str, Any], n_steps: int,
                          n_neurons: int) -> None:
        """Find where a state first became NaN or infinite (by running again, tracing the neurons
        that ended non-finite), keep it in `result.first_nonfinite` and warn."""
        state_names = self.step_map.state_names
        nonfinite = np.any([~np.isfinite(_on_host(result.state[n]).reshape(-1, n_neurons))
                            for n in state_names], axis=0)  # (rows, N)
        per_neuron = n_steps * nonfinite.shape[0] * len(state_names) * 8  # bytes of its traces
        affordable = memory.limit(None) // 2 // max(per_neuron, 1)
        traced = np.flatnonzero(nonfinite.any(axis=0))[:min(MAX_TRACED_NONFINITE, affordable)]
        first = None
        again = self.run(n_steps, n_neurons, record={n: traced for n in state_names},
                         spikes="count", allow_nan=True, **given) if traced.size else None
        traces = again.traces if again is not None else {}
        for name in state_names if again is not None else ():
            trace = traces[name].reshape(n_steps, -1, traced.size)
            where = np.argwhere(~np.isfinite(trace))
            if where.size and (first is None or where[0][0] < first[0]):
                step, row, column = where[0]
                first = (int(step), int(row * n_neurons + traced[column]), name,
                         float(trace[step, row, column]))
        total = int(nonfinite.sum())
        result.first_nonfinite = first
        place = (f"first at step {first[0]} in neuron {first[1]} ({first[2]} = {first[3]})"
                 if first else "")
        cause = ("check the inputs and parameters" if self.dt is None else
                 f"check the inputs and parameters (an extreme one does this); otherwise the "
                 f"method ({self.method}) may be unstable at dt = {self.dt}: try a smaller "
                 f"dt{self._stabler_methods()}")
        place = place or "where: too long a run to trace again"
        warnings.warn(f"{self.model.name}: states became NaN or infinite, {place}; {total} "
                      f"neuron(s) end non-finite: {cause}", NumericalWarning, stacklevel=4)

    def _parameters(self, params: dict[str, Any], n_neurons: int, dtype: prepare.Float,
                    allow_nan: bool = False) -> dict[str, tuple[np.ndarray, int]]:
        """Per-parameter (array, stride), after parameter sets and the model's constraints."""
        model = self.model
        values = dict(model.defaults)
        for name, derived in model.parameter_sets:
            if name in params:
                values.update(prepare.derive(name, params.pop(name), derived, self.dt, values, dtype,
                                            allow_nan))
        values.update(prepare.in_declared_units(params, model.parameters, "params"))
        arrays = {n: prepare.per_neuron(values[n], f"params[{n!r}]", n_neurons, dtype, allow_nan)
                  for n in model.parameter_names}
        prepare.check_constraints(model, {n: a for n, (a, _) in arrays.items()}, dtype)
        if model.refractory:
            period = written.evaluate(model.refractory[0], {symbol(n): a for n, (a, _) in
                                                            arrays.items()})
            if np.any(np.asarray(period) < 0):
                raise InputError(f"the refractory period {written.to_text(model.refractory[0])} "
                                 f"is negative ({np.min(period):g}) for these parameters")
        return arrays


_REBUILT: dict[tuple, Simulator] = {}  # this process's simulators, by model content and options
_REBUILT_LOCK = threading.Lock()


def rebuilt(model: Model, semantics: Semantics, schedule: Schedule, target: str) -> Simulator:
    """The Simulator of `model` with these options, built once per process (what an unpickled
    Simulator becomes)."""
    key = (model.content_hash(), semantics, schedule, target)
    with _REBUILT_LOCK:
        if key not in _REBUILT:
            backend = get_target(target)
            _REBUILT[key] = Simulator(backend, *built(model, semantics, schedule, backend))
        return _REBUILT[key]


MAX_SHARDS = 65536  # blocks of one run: more would only cost tasks (and memory per block)


def _distinct_sets(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """The distinct rows of parameter columns (one value, or one per neuron): a column of one
    value is not stacked, and one varying column is deduplicated alone (fast)."""
    varying = [k for k, v in enumerate(columns.values()) if v.size > 1 and np.any(v != v[0])]
    n = max(v.size for v in columns.values())
    if len(varying) <= 1:
        unique = np.unique(list(columns.values())[varying[0]]) if varying else np.zeros(1)
        rows = np.empty((unique.size, len(columns)))
        for k, v in enumerate(columns.values()):
            rows[:, k] = unique if k in varying else v.flat[0]
        return rows
    return np.unique(np.stack([np.broadcast_to(v, (n,)) for v in columns.values()], axis=1),
                     axis=0)


def _shard_count(shards: int | None, executor: Any) -> int:
    """The blocks of a sharded run: as asked, else one per Dask worker or CPU."""
    if shards is not None:
        return prepare.count(shards, "shards", minimum=1, maximum=MAX_SHARDS)
    if type(executor).__module__.startswith("distributed"):
        return max(1, len(executor.scheduler_info().get("workers", {})))
    return os.cpu_count() or 1


def read_only(array: np.ndarray) -> np.ndarray:
    """A view of an input as the kernel read it, not a copy: copying a streamed input cost three
    times the run. The view cannot be written through; it shares memory with the caller's
    array when that needed no conversion (documented on Result.inputs)."""
    view = array.view()
    if isinstance(view, np.ndarray):
        view.flags.writeable = False
    return view


def _converted_bytes(value: Any, item: int) -> int:
    """The bytes of an input's copy in the kernel's float type: none where the array is
    already contiguous in that type (it is read as it is), or a scalar or waveform."""
    if isinstance(value, WAVEFORMS) or isinstance(value, Real) or prepare.is_gpu_array(value):
        return 0
    if isinstance(value, np.ndarray) and value.dtype.itemsize == item \
            and value.dtype.kind == "f" and value.flags.c_contiguous:
        return 0
    return int(np.size(value)) * item


def _moved_to_device(result: Result, upload: Callable[[np.ndarray], Any]) -> None:
    """A coupled run's Result with its arrays on the device, as output="device" asks: its
    states, counts, raster, traces and plastic synapses' states and traces (the network's
    program copied them back each chunk; spike events stay NumPy arrays, as they are
    collected on the host)."""
    def up(array: Any) -> Any:
        return None if array is None else upload(array)
    result.spikes, result.spike_count = up(result.spikes), up(result.spike_count)
    result.spike_offsets = up(result.spike_offsets)
    result.traces = {n: up(v) for n, v in result.traces.items()}
    pending = result.state.pending if isinstance(result.state, State) else None
    result.state = State({n: up(v) for n, v in result.state.items()}, pending)
    result.synapses = {y: {n: up(v) for n, v in states.items()}
                       for y, states in result.synapses.items()}
    result.synapse_traces = {y: {n: up(v) for n, v in states.items()}
                             for y, states in result.synapse_traces.items()}


def _all_finite(array: np.ndarray) -> bool:
    """By two reductions (NaN and inf carry through min and max): no temporary as large as
    the array, which np.isfinite(array).all() makes."""
    return not array.size or bool(np.isfinite(array.min()) and np.isfinite(array.max()))


def _on_host(array: Any) -> np.ndarray:  # a NumPy or a CuPy array
    """A NumPy copy of a device array (CuPy's .get()); NumPy arrays as they are."""
    return array if isinstance(array, np.ndarray) else array.get()


MAX_THREADS = 1024  # OpenMP threads: more only exhausts memory (libgomp aborts)
MAX_TILE = 1024  # neurons per tile: the tile's arrays live on the stack (of each thread)


def past_substep_bound(step_map: StepMap, substeps: Any) -> str:
    """What an adaptive method's neurons that needed more substeps in one step than allowed
    (their rkf45_h negative: they stopped short of the step's end, so their states lag behind
    the run's time) mean for the run, or "" where none did."""
    if substeps is None or not step_map.adaptive:
        return ""
    short = np.flatnonzero(np.asarray(_on_host(substeps)).reshape(-1) < 0)
    if not short.size:
        return ""
    n = np.asarray(_on_host(substeps)).shape[-1]
    neurons = sorted({int(i) % n for i in short})
    listed = ", ".join(map(str, neurons[:10])) + (", ..." if len(neurons) > 10 else "")
    rtol, atol, limit = step_map.adaptive
    return (f"{step_map.method} needed more than {limit} substeps within one step in "
            f"{short.size} neuron(s) (neurons {listed}): their states stopped short of the "
            f"step's end there and are inaccurate from then on ({ADAPTIVE_STATE} < 0 marks "
            f"them): raise max_substeps, loosen rtol = {rtol:g} or atol = {atol:g} (float "
            f"rounding may not reach them), or check the inputs and parameters")


def compile(model: Model | str | Path, method: str | None = None, dt: float | str | None = None,
            dtype: str = "float64", reset: str | None = None, reset_timing: str | None = None,
            reset_delay: bool | None = None, graded_spikes: float = 1.0,
            inhibition: bool = False, state_quant: npt.ArrayLike | None = None,
            precise: bool = False, threads: int = 1, portable: bool = False,
            tile: int | None = None, fma: bool = False, flush_denormals: bool = False,
            target: str = "c", runtime_dt: bool = False, rtol: float | None = None,
            atol: float | None = None, max_substeps: int | None = None) -> Simulator:
    """Compile `model` (a Model, library name or file path) into a Simulator; builds are cached on disk.

    `reset_delay`, `graded_spikes`, `inhibition` and `state_quant` have snnTorch's meanings.
    `precise=True` puts spikes at their exact crossing times (linear models, method "exact").
    `threads` runs uncoupled neurons on that many OpenMP threads (identical results);
    `portable` compiles without -march=native; `tile` sets the neurons simulated together.
    `fma=True` lets the compiler fuse a*b+c (faster on some models; results differ in the last
    bits from the default unfused build, see the README). A model file compiled before with the
    same options skips all SymPy work. `flush_denormals=True` treats values below the smallest
    normal float as zero while the kernel runs (x86 FTZ/DAZ), against CPUs that slow down on them.
    `target` names where the model runs: "c" (C99 and OpenMP on this CPU) is the default.
    `runtime_dt=True` passes dt to the kernel at run time instead of writing it into the code,
    so that compiling again at another dt reuses the built kernel (verify does this).
    `rtol` is the error method="auto" accepts, relative to each state's scale over its pilot run
    (default 1e-6): it takes the cheapest method under it, and warns when none is
    (`Simulator.method_reason` says which and why). With method="rkf45", `rtol` and `atol`
    are its error control's tolerances: each substep's error estimate within atol + rtol*|x|
    per state (default 1e-10 and 1e-10; 1e-5 and 1e-5 for float32), and `max_substeps` the most
    substeps in one step (default 10000: a neuron that needs more is reported, not hidden).
    """
    try:
        backend = get_target(target)
    except ValueError as error:
        raise InputError(str(error)) from None
    snapshot = read_once(model)  # one read: the bytes compiled are those dt's unit comes from
    dt = dt_in_model_unit(snapshot, dt)
    semantics = checked_semantics(method, dt, dtype, reset, reset_timing, reset_delay, graded_spikes,
                              inhibition, state_quant, precise, rtol, atol, max_substeps)
    schedule = Schedule(threads=prepare.count(threads, "threads", 1, MAX_THREADS),
                        tile=None if tile is None else prepare.count(tile, "tile", 1, MAX_TILE),
                        portable=checked_flag(portable, "portable"),
                        fma=checked_flag(fma, "fma"),
                        flush_denormals=checked_flag(flush_denormals, "flush_denormals"),
                        runtime_dt=checked_flag(runtime_dt, "runtime_dt"))
    source, kernel = built(snapshot, semantics, schedule, backend)
    if source.step_map.model.spike_count:
        raise ModelError(f"model {source.step_map.model.name} counts its spikes per step "
                         f"([spike] count = {source.step_map.model.spike_count!r}), which a "
                         "population run alone does not: add it to a lifgen.Network, whose "
                         "projections deliver and whose counts add each step's count",
                         source.step_map.model.source, "[spike] count")
    if source.step_map.warning:
        warnings.warn(source.step_map.warning, NumericalWarning, stacklevel=2)
    return Simulator(backend, source, kernel)


def warm(model: Model | str | Path, **options: Any) -> str:
    """Compile `model` with these compile() options into this machine's kernel cache, and say
    where. Run it on every worker before a sweep, so that private per-node caches are warm too:
    client.run(lifgen.warm, "lif_cuba", dt=0.1)."""
    from ..codegen.build import cache_dir

    simulator = compile(model, **options)
    state = "was already" if simulator.from_cache else "is now"
    return f"{simulator.model.name} ({simulator.method}, dt = {simulator.dt}) {state} in {cache_dir()}"


def _advance(runner: Runner, arrays: RunArrays, spikes: str, progress: bool,
             max_events: int | None = None
             ) -> tuple[int, bool, list[tuple[np.ndarray, np.ndarray]]]:
    """Run all steps in chunks: (steps done, stopped by Ctrl-C, spike events per chunk); events
    past `max_events` are dropped (the counts stay complete).

    With a progress bar, chunks last about PROGRESS_SECONDS each, so the bar moves and the cost
    stays small; Ctrl-C then stops between chunks.
    """
    n_steps, width = arrays.n_steps, arrays.rows * arrays.n_neurons
    # a runner that compacts events itself (the cuda target, on its device) takes larger chunks
    compact = getattr(runner, "advance_events", None) if spikes == "events" else None
    limit = _chunk_length(n_steps, width, spikes,
                          getattr(runner, "event_chunk_entries", CHUNK_ENTRIES))
    chunk = max(1, min(limit, -(-n_steps // 1000))) if progress else limit
    buffer = np.zeros((limit, arrays.rows, arrays.n_neurons), np.uint8) \
        if spikes == "events" and compact is None else None
    events: list[tuple[np.ndarray, np.ndarray]] = []
    done, partial = 0, False
    bar = ProgressBar(n_steps) if progress else None
    try:
        while done < n_steps:
            steps = min(chunk, n_steps - done)
            started = time.perf_counter()
            if compact is not None:
                room = steps * width if max_events is None else max(max_events, 0)
                events.append(compact(done, steps, room))
                if max_events is not None:
                    max_events -= events[-1][0].size
            else:
                runner.advance(done, steps, buffer)
            if bar:
                rate = steps / max(time.perf_counter() - started, 1e-9)
                chunk = max(1, min(limit, int(rate * PROGRESS_SECONDS)))
            if buffer is not None and (max_events is None or max_events > 0):
                where = np.flatnonzero(buffer[:steps].view(bool))  # 1-D: fast
                if max_events is not None:
                    where, max_events = where[:max_events], max_events - min(where.size,
                                                                             max_events)
                events.append((where // width + done, where % width))
            done += steps
            if bar:
                bar.update(done)
    except KeyboardInterrupt:
        if not progress:
            raise
        partial = True
    finally:
        if bar:
            bar.close()
    return done, partial, events


def _joined_events(events: list[tuple[Any, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(steps, neurons) of the chunks' events, one column at a time, each chunk's column let go
    once joined (the peak stays within memory.EVENT_PEAK_BYTES per event)."""
    columns = []
    for column in range(2):
        parts = [chunk[column] for chunk in events]
        events[:] = [(None, chunk[1]) for chunk in events] if column == 0 else []
        columns.append(np.concatenate(parts) if parts else np.zeros(0, np.int64))
        del parts
    return columns[0], columns[1]


def _chunk_length(n_steps: int, width: int, spikes: str, entries: int = CHUNK_ENTRIES) -> int:
    """The most steps per kernel call: all at once, unless events need bounded chunks (of
    `entries` neuron-steps)."""
    chunk = max(n_steps, 1)
    if spikes == "events":
        chunk = max(1, min(chunk, entries // max(width, 1)))
    return chunk


