"""Sweeps: many runs of one model over a grid of parameters and inputs, returned as an
xarray.Dataset. Uncoupled neurons are packed, many grid points to one population with
per-neuron parameters (the fastest sweep); networks run one grid point per task. Tasks run in
this process, on a concurrent.futures executor or on a Dask cluster, and give the same numbers
on all: neuron k of grid point p draws its noise as neuron p * n_neurons + k.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Mapping, Sequence, Union

import numpy as np
import numpy.typing as npt

from ..runtime import executors
from ..version import __version__
from ..errors import InputError
from ..runtime.progress import ProgressBar
from ..runtime.simulate import Simulator, compile as compile_model
from ..frontend.units import parse_unit, to_unit
from ..ir.model import Model
from .sweep_grid import (COMPILE_OPTIONS, TASK_SECONDS, Axis, Grid, Task, check_assembly,
                         check_dataset_names, check_traced_names, fixed_quantities, grid_axes,
                         seed_list, xarray_module)

if TYPE_CHECKING:  # xarray is an optional extra
    import xarray

    from ..runtime.network import Network
    from ..runtime.network_run import NetworkSimulator

@dataclass(frozen=True)
class Plan:
    """What every task of a sweep shares (it travels to the workers once per task)."""

    axes: tuple[Axis, ...]
    n_steps: int
    n_neurons: int
    inputs: Mapping[str, Any]
    params: Mapping[str, Any]
    initial: Mapping[str, Any]
    connections: Mapping[str, Any] | None
    drives: Mapping[str, Any] | None
    record: Mapping[str, Any]
    traced: np.ndarray  # the neurons of each grid point whose states are traced
    spikes: str

    @property
    def n_points(self) -> int:
        return math.prod(len(a) for a in self.axes)

    def point_values(self, first: int, count: int) -> dict[str, np.ndarray]:
        """Each grid quantity's value at points first .. first + count (flat, C order)."""
        shape = tuple(len(a) for a in self.axes)
        where = np.unravel_index(np.arange(first, first + count), shape)
        return {name: values[index] for axis, index in zip(self.axes, where)
                for name, values in zip(axis.names, axis.values)}


Record = Union[str, Sequence[str], Mapping[str, Any], None]  # as run's record= (None: no traces)


def sweep(sim_or_model: Simulator | Model | str | Path | Network | NetworkSimulator,
          grid: Grid, *, n_steps: int,
          n_neurons: int = 1, inputs: Mapping[str, Any] | None = None,
          params: Mapping[str, Any] | None = None, seeds: npt.ArrayLike | None = None,
          record: Record = None, spikes: str = "count", executor: Any = None,
          pack: int | str = "auto", progress: bool | None = None,
          initial: Mapping[str, Any] | None = None, connections: Mapping[str, Any] | None = None,
          drives: Mapping[str, Any] | None = None,
          max_memory: float | None = None) -> xarray.Dataset:
    """Run `sim_or_model` (a Simulator, or a model to compile with its defaults) at every point
    of `grid` and return an xarray.Dataset.

    `grid` maps parameter or input names to 1-D values (a Cartesian product), or to
    `zip_grid(...)` for values that go together; `inputs` and `params` hold what every point
    shares. Dimensions: one per grid axis, `seed` when `seeds` is given, `neuron`, and `time`
    for the traces of `record` (None: no traces). `spikes` is "count" or "events". `executor`
    is None (this process, packed into one population), a dask.distributed Client, "dask" (a
    LocalCluster on this machine), "processes" (a process pool on this machine) or a
    concurrent.futures Executor. `pack` is "auto" (tasks of about 0.5 s on an executor), or the
    number of grid points per task. Before any work the sweep checks its arguments, that no grid
    name is a name its Dataset uses (`neuron`, `seed`, `time`, `rate`, ...), and that the
    assembled Dataset fits in `max_memory` bytes (default: 80% of the memory available); Ctrl-C
    (KeyboardInterrupt) stops it, also during progress=True, without returning partial counts.

    A `lifgen.Network` (compiled with its defaults) or a compiled NetworkSimulator is swept one
    run of the whole network per grid point and seed, its connections as built: `grid` names
    "population.parameter" (or an input of the population's model, e.g. "exc.I") and
    "source.rate" (a Poisson's or PoissonInput's rate, a number per unit of the model's time as
    Poisson takes it; "source.p" of a Bernoulli), set for that run only, without compiling
    again. `inputs` and `params` map populations to what every point shares ({"exc": {"I":
    5.0}}), `record` populations to the states traced ({"exc": ["V"]}: their mean over the
    recorded neurons is kept). Variables: `{population}_spike_count` and `{population}_rate`
    over the grid axes, `seed` and `{population}_neuron` (sources too), `{population}_{state}`
    over the grid axes, `seed` and `time`, and with spikes="events" a table per population
    along `{population}_event`. n_neurons, initial, connections and drives are the network's
    own (set them on it). The network pickles as its description: each worker process compiles
    it once per content, from the kernel cache when it is warm; one run is never split over
    workers (its populations exchange spikes every min-delay), its grid points are.
    """
    from ..runtime.network import Network
    from ..runtime.network_run import NetworkSimulator

    if isinstance(sim_or_model, (Network, NetworkSimulator)):
        for given, what, empty in ((n_neurons, "n_neurons", 1), (initial, "initial", None),
                                   (connections, "connections", None), (drives, "drives", None)):
            if given != empty:
                raise InputError(f"sweep of a network: {what} is the network's own; set it "
                                 "with Network.add and Network.connect")
        if record is not None and not isinstance(record, Mapping):
            raise InputError("sweep of a network: record maps population names to the states "
                             f"traced, e.g. record={{'exc': ['V']}}; got {record!r}")
        from .network_sweep import network_sweep

        return network_sweep(sim_or_model, grid, n_steps=n_steps, inputs=inputs, params=params,
                             seeds=seeds, record=record, spikes=spikes, executor=executor,
                             pack=pack, progress=sys.stderr.isatty() if progress is None
                             else bool(progress), max_memory=max_memory)
    simulator = sim_or_model if isinstance(sim_or_model, Simulator) else compile_model(sim_or_model)
    xarray = xarray_module()
    plan, seeds_run = _plan(simulator, grid, n_steps, n_neurons, inputs, params, seeds, record,
                            spikes, initial, connections, drives)
    check_assembly(_assembly(simulator, plan, len(seeds_run), seeds is not None), max_memory)
    coupled = _coupled(simulator, plan)
    progress = sys.stderr.isatty() if progress is None else bool(progress)
    client, cluster = executors.resolve(executor)
    try:
        size = 1 if coupled else _points_per_task(simulator, plan, pack, client)
        tasks = [Task(seed, first, min(size, plan.n_points - first))
                 for seed in seeds_run for first in range(0, plan.n_points, size)]
        outputs = executors.run_all(client, run_task, (simulator, plan),
                                    [(t, progress and client is None) for t in tasks],
                                    progress and client is not None, ProgressBar)
    finally:
        executors.close(client, cluster)
    return _dataset(xarray, simulator, plan, seeds, seeds_run, tasks, outputs)


def run_task(simulator: Simulator, plan: Plan, task: Task, progress: bool = False) -> dict:
    """One task: its grid points as one population; counts, traces and events per point."""
    n, count = plan.n_neurons, task.count
    values = plan.point_values(task.first, count)
    model = simulator.model
    params = {k: _tiled(v, n, count) for k, v in plan.params.items()}
    inputs = {k: _tiled(v, n, count) for k, v in plan.inputs.items()}
    for name, v in values.items():
        (params if name in model.parameter_names else inputs)[name] = np.repeat(v, n)
    record = {s: (np.arange(count)[:, None] * n + plan.traced).ravel() for s in plan.record}
    result = simulator.run(
        plan.n_steps, n * count, inputs=inputs, params=params,
        initial={k: _tiled(v, n, count) for k, v in plan.initial.items()}, record=record,
        connections=plan.connections, drives=plan.drives, spikes=plan.spikes, seed=task.seed,
        first_neuron=task.first * n, progress=progress)
    if result.partial:  # Ctrl-C during the progress bar: a sweep has no partial counts to keep
        raise KeyboardInterrupt
    m = plan.traced.size
    output: dict[str, Any] = {"counts": np.asarray(result.spike_count).reshape(count, n),
              "traces": {s: np.moveaxis(np.asarray(result.traces[s]).reshape(-1, count, m), 0, -1)
                         for s in plan.record}}
    if result.spike_events is not None:
        steps, neurons = result.spike_events
        output["events"] = (task.first + neurons // n, steps, neurons % n)
    return output


def _plan(simulator: Simulator, grid: Grid, n_steps: int, n_neurons: int,
          inputs: Mapping[str, Any] | None, params: Mapping[str, Any] | None,
          seeds: npt.ArrayLike | None, record: Record, spikes: str,
          initial: Mapping[str, Any] | None, connections: Mapping[str, Any] | None,
          drives: Mapping[str, Any] | None) -> tuple[Plan, list[int]]:
    """The sweep's arguments checked, before any work is sent anywhere."""
    model = simulator.model
    axes = _axes(grid, model)
    from ..runtime.prepare import count, record_request, recorded_index

    n_steps = count(n_steps, "n_steps", minimum=1)
    n_neurons = count(n_neurons, "n_neurons", minimum=1)
    if spikes not in ("count", "events"):
        raise InputError(f"a sweep collects spikes='count' or 'events', got {spikes!r} (a raster "
                         "of every point is rarely wanted: use 'events')")
    inputs, params, initial = (dict(x or {}) for x in (inputs, params, initial))
    swept = {name for axis in axes for name in axis.names}
    for what, given in (("inputs", inputs), ("params", params)):
        both = swept & set(given)
        if both:
            raise InputError(f"{what} gives {sorted(both)}, which the grid sweeps")
    traced_states, traced = ({}, np.zeros(0, np.int64)) if record is None else \
        record_request(record, simulator.step_map.state_names, n_neurons)
    traced = recorded_index(traced, n_neurons)
    seeds_run = seed_list(seeds)
    check_dataset_names(axes, DATASET_NAMES | set(simulator.step_map.state_names), ["event_"])
    check_traced_names({state: state for state in traced_states}, DATASET_NAMES)
    plan = Plan(tuple(axes), n_steps, n_neurons, inputs, params, initial, connections, drives,
                dict(traced_states), traced, spikes)
    # every argument checked once, on the first grid point, before anything runs
    simulator.source(1, n_neurons, **_probe(plan, model))
    return plan, seeds_run


# the dimensions and variables of a sweep's Dataset besides the grid's (and the traced states)
DATASET_NAMES = frozenset({"neuron", "seed", "traced_neuron", "time", "spike_count", "rate",
                           "event", "event_seed", "event_step", "event_neuron"})


def _assembly(simulator: Simulator, plan: Plan, n_seeds: int, seeded: bool) -> dict[str, int]:
    """The bytes the Dataset takes as it is assembled: the tasks' outputs, the arrays they are
    copied into and the rates (and the copy that drops the seed axis when there is none)."""
    rows = n_seeds * plan.n_points
    copies = 2 if seeded else 3
    itemsize = np.dtype(simulator.dtype).itemsize
    return {"spike counts and rates": rows * plan.n_neurons * 8 * (copies + 1),
            "traces": rows * plan.traced.size * plan.n_steps * itemsize * copies
            * len(plan.record)}


def _probe(plan: Plan, model: Model) -> dict[str, Any]:
    """run's arguments at the first grid point (for checking them)."""
    inputs, params = dict(plan.inputs), dict(plan.params)
    for name, v in plan.point_values(0, 1).items():
        (params if name in model.parameter_names else inputs)[name] = float(v[0])
    inputs = {k: (v[:1] if np.ndim(v) == 2 and len(v) == plan.n_steps else v)
              for k, v in inputs.items()}
    return dict(inputs=inputs, params=params, connections=plan.connections, drives=plan.drives)


def _axes(grid: Grid, model: Model) -> list[Axis]:
    axes = grid_axes(grid, "parameter or input names")
    known = set(model.parameter_names) | set(model.input_names)
    for name in (name for axis in axes for name in axis.names):
        if name in COMPILE_OPTIONS:
            raise InputError(f"grid: {name} is a compile-time option; compile one simulator per "
                             f"value (lifgen.compile(model, {name}=...)) and sweep each")
        if name not in known:
            raise InputError(f"grid: {name!r} is not a parameter or input of {model.name}; "
                             f"parameters: {model.parameter_names}, inputs: {model.input_names}")
    return axes


def _tiled(value: Any, n: int, count: int) -> Any:  # as run takes it: a number, array or waveform
    """A value of one grid point's population, repeated for `count` points side by side."""
    if isinstance(value, Real) or np.ndim(value) == 0 or count == 1 or not hasattr(value, "shape"):
        return value
    array = np.asarray(value)
    if array.shape[-1] != n:
        return array  # one value per step, or a waveform: the same for every point
    return np.tile(array, (1,) * (array.ndim - 1) + (count,))


def _coupled(simulator: Simulator, plan: Plan) -> bool:
    """Whether the run couples neurons (then each grid point is its own population)."""
    return bool(plan.connections or plan.drives or simulator.semantics.inhibition)


def _points_per_task(simulator: Simulator, plan: Plan, pack: int | str, client: Any) -> int:
    if pack != "auto":
        if isinstance(pack, bool) or not isinstance(pack, int) or pack < 1:
            raise InputError(f"pack must be 'auto' or a number of grid points >= 1, got {pack!r}")
        return pack
    if client is None:
        return plan.n_points  # this process: one population, the simulator's own threads
    steps = min(plan.n_steps, 200)
    probe = Plan(plan.axes, steps, plan.n_neurons, {}, plan.params, plan.initial, None, None, {},
                 np.zeros(0, np.int64), "count")
    started = time.perf_counter()
    run_task(simulator, probe, Task(0, 0, 1))
    per_point = (time.perf_counter() - started) * plan.n_steps / steps
    return max(1, min(plan.n_points, math.ceil(TASK_SECONDS / max(per_point, 1e-9))))


def _dataset(xarray: ModuleType, simulator: Simulator, plan: Plan, seeds: npt.ArrayLike | None,
             seeds_run: list[int], tasks: Sequence[Task], outputs: Sequence[dict[str, Any]]
             ) -> xarray.Dataset:
    """The Dataset of all tasks' outputs, in grid order."""
    model = simulator.model
    shape = tuple(len(a) for a in plan.axes)
    dims = [a.dim for a in plan.axes] + (["seed"] if seeds is not None else [])
    n_seeds = len(seeds_run)
    counts = np.zeros((n_seeds, plan.n_points, plan.n_neurons), np.int64)
    traces = {s: np.zeros((n_seeds, plan.n_points, plan.traced.size, plan.n_steps),
                          np.dtype(simulator.dtype)) for s in plan.record}
    events = []
    for task, output in zip(tasks, outputs):
        row = seeds_run.index(task.seed)
        counts[row, task.first:task.first + task.count] = output["counts"]
        for s in plan.record:
            traces[s][row, task.first:task.first + task.count] = output["traces"][s]
        if "events" in output:
            events.append((np.full(len(output["events"][0]), row), *output["events"]))

    def arranged(array: np.ndarray) -> np.ndarray:  # (seed, point, ...) -> (*axes, [seed], ...)
        array = np.moveaxis(array.reshape(n_seeds, *shape, *array.shape[2:]), 0, len(shape))
        return array if seeds is not None else np.take(array, 0, axis=len(shape))

    dt, unit = simulator.dt, model.time_unit
    seconds = plan.n_steps * dt * (to_unit(f"1 {unit}", parse_unit("s"), "dt") if unit else 1.0) \
        if dt is not None else plan.n_steps
    rate_unit = "Hz" if (dt is not None and unit) else ("1/time unit" if dt is not None
                                                        else "spikes per step")
    coords: dict[str, Any] = {"neuron": np.arange(plan.n_neurons)}
    for axis in plan.axes:
        for name, values in zip(axis.names, axis.values):
            coords[name] = (axis.dim, values, {"units": _unit_of(model, name)})
    if seeds is not None:
        coords["seed"] = np.asarray(seeds_run)
    variables: dict[str, Any] = {
        "spike_count": ((*dims, "neuron"), arranged(counts), {"units": "spikes"}),
        "rate": ((*dims, "neuron"), arranged(counts) / seconds, {"units": rate_unit})}
    if plan.record:
        coords["traced_neuron"] = plan.traced
        times = np.arange(1, plan.n_steps + 1) * (dt if dt is not None else 1)
        coords["time"] = ("time", times, {"units": unit if dt is not None else "steps"})
        for s, array in traces.items():
            variables[s] = ((*dims, "traced_neuron", "time"), arranged(array),
                            {"units": _unit_of(model, s)})
    if plan.spikes == "events":
        table = [np.concatenate(column) if events else np.zeros(0, np.int64)
                 for column in zip(*events)] if events else [np.zeros(0, np.int64)] * 4
        seed_rows, points, steps, neurons = table
        order = np.lexsort((neurons, steps, points, seed_rows))
        where = np.unravel_index(points[order], shape)
        for axis, index in zip(plan.axes, where):
            variables[f"event_{axis.dim}"] = ("event", index, {"description": f"index along {axis.dim}"})
        if seeds is not None:
            variables["event_seed"] = ("event", np.asarray(seeds_run)[seed_rows[order]])
        variables["event_step"] = ("event", steps[order])
        variables["event_neuron"] = ("event", neurons[order])
    attrs = {"model": model.name, "model_hash": model.content_hash(), "lifgen": __version__,
             "method": simulator.method, "dt": dt if dt is not None else "none (a discrete map)",
             "time_unit": unit, "dtype": simulator.dtype, "n_steps": plan.n_steps,
             "seeds": list(seeds_run), "n_neurons": plan.n_neurons,
             "noise": "neuron k of grid point p draws as neuron p * n_neurons + k",
             **_fixed(model, plan)}
    return xarray.Dataset(variables, coords=coords, attrs=attrs)


def _fixed(model: Model, plan: Plan) -> dict[str, Any]:
    """The attributes that say what the sweep held fixed: the grid's names, every parameter and
    input not swept (given or the model's default) as text, and their numbers."""
    swept = [name for axis in plan.axes for name in axis.names]
    params, numbers = fixed_quantities(model.parameters, plan.params, swept)
    inputs, input_numbers = fixed_quantities(model.inputs, plan.inputs, swept, kind="input")
    sets = [f"{name} (a parameter set)" for name in plan.params
            if name not in model.parameter_names]
    return {"grid": ", ".join(swept), "fixed_parameters": "; ".join(params + sets) or "none",
            "fixed_inputs": "; ".join(inputs) or "none",
            "initial": "; ".join(f"{k} given" for k in plan.initial) or "the model's",
            **numbers, **input_numbers}


def _unit_of(model: Model, name: str) -> str:
    for q in (*model.parameters, *model.states, *model.inputs):
        if q.name == name:
            return q.unit
    return ""

