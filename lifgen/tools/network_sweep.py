"""Sweeps of a network: every grid point (and seed) is one run of the whole network, its
connections as built, the swept quantities set for that run only (NetworkSimulator.run's
`params` and `inputs`, no compiling again). Grid names are "population.parameter" (or an
input of the population's model) and "source.rate" ("source.p" of a Bernoulli). Points run in
this process or on an executor, a few to a task; a NetworkSimulator pickles as its description
and is compiled once per worker process and network content, from the kernel cache when it is
warm. One network run is never split over workers (its populations exchange spikes every
min-delay); its grid points are.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from ..errors import InputError
from ..frontend.units import parse_unit, to_unit
from ..runtime import executors, prepare
from ..runtime.network import Network
from ..runtime.network_run import NetworkSimulator, _source_time
from ..runtime.populations import COMPILE_OPTIONS as POPULATION_OPTIONS
from ..runtime.populations import Population, SourcePopulation
from ..runtime.progress import ProgressBar
from ..runtime.sources import Bernoulli, Poisson, PoissonInput
from ..version import __version__
from .sweep_grid import (COMPILE_OPTIONS, TASK_SECONDS, Axis, Grid, Task, check_assembly,
                         check_dataset_names, check_traced_names, fixed_quantities, grid_axes,
                         seed_list, xarray_module)

if TYPE_CHECKING:  # xarray is an optional extra
    import xarray


@dataclass(frozen=True)
class NetworkPlan:
    """What every task of a network sweep shares (it travels to the workers with the task)."""

    axes: tuple[Axis, ...]
    targets: Mapping[str, tuple[str, str, str]]  # grid name -> (population, name, params|inputs)
    n_steps: int
    inputs: Mapping[str, Mapping[str, Any]]
    params: Mapping[str, Mapping[str, Any]]
    record: Mapping[str, Any]
    spikes: str

    @property
    def n_points(self) -> int:
        return math.prod(len(a) for a in self.axes)

    def point(self, index: int) -> dict[str, Any]:
        """NetworkSimulator.run's params and inputs at grid point `index` (flat, C order)."""
        where = np.unravel_index(index, tuple(len(a) for a in self.axes))
        arguments: dict[str, dict[str, dict[str, Any]]] = {
            "params": {p: dict(v) for p, v in self.params.items()},
            "inputs": {p: dict(v) for p, v in self.inputs.items()}}
        for axis, k in zip(self.axes, where):
            for name, values in zip(axis.names, axis.values):
                population, quantity, kind = self.targets[name]
                arguments[kind].setdefault(population, {})[quantity] = float(values[k])
        return arguments


def network_sweep(network: Network | NetworkSimulator, grid: Grid, *, n_steps: int,
                  inputs: Mapping[str, Any] | None = None,
                  params: Mapping[str, Any] | None = None, seeds: npt.ArrayLike | None = None,
                  record: Mapping[str, Any] | None = None, spikes: str = "count",
                  executor: Any = None, pack: int | str = "auto",
                  progress: bool = False, max_memory: float | None = None) -> xarray.Dataset:
    """lifgen.sweep of a Network (compiled here with its defaults) or a NetworkSimulator."""
    simulator = network if isinstance(network, NetworkSimulator) else network.compile()
    xarray = xarray_module()
    plan, seeds_run = _plan(simulator, grid, n_steps, inputs, params, seeds, record, spikes)
    check_assembly(_assembly(simulator, plan, len(seeds_run), seeds is not None), max_memory)
    client, cluster = executors.resolve(executor)
    try:
        size = _points_per_task(simulator, plan, pack, client)
        tasks = [Task(seed, first, min(size, plan.n_points - first))
                 for seed in seeds_run for first in range(0, plan.n_points, size)]
        outputs = executors.run_all(client, run_network_task, (simulator, plan),
                                    [(t,) for t in tasks], progress and client is not None,
                                    ProgressBar)
    finally:
        executors.close(client, cluster)
    return _dataset(xarray, simulator, plan, seeds, seeds_run, tasks, outputs)


def run_network_task(simulator: NetworkSimulator, plan: NetworkPlan, task: Task) -> list[dict]:
    """One task: its grid points run one after another, each a run of the whole network; per
    point, each population's counts, mean traces and events."""
    outputs = []
    for index in range(task.first, task.first + task.count):
        result = simulator.run(plan.n_steps, record=dict(plan.record), spikes=plan.spikes,
                               seed=task.seed, **plan.point(index))
        output: dict[str, Any] = {"counts": {}, "traces": {}, "events": {}}
        for name in result:
            population = result[name]
            output["counts"][name] = np.asarray(population.spike_count)
            output["traces"][name] = {s: mean_trace(t) for s, t in population.traces.items()}
            if population.spike_events is not None:
                output["events"][name] = population.spike_events
        outputs.append(output)
    return outputs


def mean_trace(trace: np.ndarray) -> np.ndarray:
    """A population's recorded trace, (n_steps, recorded), as a sweep keeps it: the mean over
    the recorded neurons at each step, in float64."""
    return np.asarray(trace).mean(axis=-1, dtype=np.float64)


def _plan(simulator: NetworkSimulator, grid: Grid, n_steps: int,
          inputs: Mapping[str, Any] | None, params: Mapping[str, Any] | None,
          seeds: npt.ArrayLike | None, record: Mapping[str, Any] | None,
          spikes: str) -> tuple[NetworkPlan, list[int]]:
    """The sweep's arguments checked, before any work is sent anywhere."""
    axes = grid_axes(grid, "'population.parameter' names")
    targets = {name: _target(simulator, name) for axis in axes for name in axis.names}
    n_steps = prepare.count(n_steps, "n_steps", minimum=1)
    if spikes not in ("count", "events"):
        raise InputError(f"a sweep collects spikes='count' or 'events', got {spikes!r} (a raster "
                         "of every point is rarely wanted: use 'events')")
    shared = {}
    for what, given in (("inputs", inputs), ("params", params)):
        if given is not None and not isinstance(given, Mapping):
            raise InputError(f"{what} of a network sweep maps population names to their "
                             f"{what}, e.g. {what}={{'exc': {{...}}}}; got {type(given).__name__}")
        shared[what] = {p: dict(v) if isinstance(v, Mapping) else v
                        for p, v in (given or {}).items()}
        both = sorted(n for n, (p, q, kind) in targets.items()
                      if kind == what and q in (shared[what].get(p) or {}))
        if both:
            raise InputError(f"{what} gives {both}, which the grid sweeps")
    if record is not None and not isinstance(record, Mapping):
        raise InputError("record of a network sweep maps population names to the states traced "
                         f"(their mean over the recorded neurons is kept), e.g. "
                         f"record={{'exc': ['V']}}; got {record!r}")
    seeds_run = seed_list(seeds)
    check_traced_names({f"{name}.{state}": f"{name}_{state}" for name, states in
                        (record or {}).items() for state in states},
                       _dataset_names(simulator, states=False))
    check_dataset_names(axes, _dataset_names(simulator),
                        [f"{name}_event_" for name in simulator.order])
    plan = NetworkPlan(tuple(axes), targets, n_steps, shared["inputs"], shared["params"],
                       dict(record or {}), spikes)
    # every argument checked once, on the first grid point, before anything runs (one step)
    probe = simulator.run(1, record=dict(plan.record), spikes=plan.spikes, **plan.point(0))
    batched = [name for name in probe if np.ndim(np.asarray(probe[name].spike_count)) > 1]
    if batched:
        raise InputError(f"a network sweep runs without batch rows; {batched} have some (from "
                         "their inputs, initial states or spike arrays): sweep the rows' "
                         "values as a grid axis instead")
    return plan, seeds_run


def _dataset_names(simulator: NetworkSimulator, states: bool = True) -> set[str]:
    """The dimensions and variables of a network sweep's Dataset besides the grid's (and
    besides the traced states' unless `states`)."""
    names = {"seed", "time"}
    for name in simulator.order:
        population = simulator.network.populations[name]
        model = getattr(population, "model", None)
        names |= {f"{name}_{what}" for what in ("neuron", "spike_count", "rate", "event",
                                                "event_seed", "event_step", "event_neuron",
                                                *(model.state_names if model and states
                                                  else ()))}
    return names


def _assembly(simulator: NetworkSimulator, plan: NetworkPlan, n_seeds: int,
              seeded: bool) -> dict[str, int]:
    """The bytes the Dataset takes as it is assembled: each point's output, the stacked arrays
    and the rates (and the copy that drops the seed axis when there is none)."""
    rows, copies = n_seeds * plan.n_points, 3 if seeded else 4
    neurons = sum(simulator.network.populations[name].n for name in simulator.order)
    states = sum(len(plan.record.get(name) or ()) if not isinstance(plan.record.get(name), str)
                 else 1 for name in plan.record)
    return {"spike counts and rates": rows * neurons * 8 * (copies + 1),
            "mean traces": rows * plan.n_steps * 8 * states * copies}


def _target(simulator: NetworkSimulator, name: str) -> tuple[str, str, str]:
    """(population, quantity, "params" or "inputs") that grid name "population.quantity" sets."""
    populations = simulator.network.populations
    if name in COMPILE_OPTIONS or name in POPULATION_OPTIONS:
        raise InputError(f"grid: {name} is a compile-time option; compile one network per value "
                         "and sweep each")
    if name.count(".") != 1:
        raise InputError(f"grid: {name!r} does not name a population's quantity; a network's "
                         "grid names are 'population.parameter' (or an input) or 'source.rate', "
                         f"with populations {', '.join(populations)}")
    population_name, quantity = name.split(".")
    if population_name not in populations:
        raise InputError(f"grid: {name!r} names no population of the network: no population "
                         f"{population_name!r}; the network has {', '.join(populations)}")
    population = populations[population_name]
    if isinstance(population, SourcePopulation):
        source = population.source
        field = "p" if isinstance(source, Bernoulli) else "rate"
        if not isinstance(source, (Poisson, PoissonInput, Bernoulli)):
            raise InputError(f"grid: {name!r}: source {population_name!r} "
                             f"({type(source).__name__}) plays given spikes; only a Poisson's or "
                             "PoissonInput's rate and a Bernoulli's p are swept")
        if quantity != field:
            raise InputError(f"grid: {name!r}: source {population_name!r} "
                             f"({type(source).__name__}) has {field!r} to sweep "
                             f"('{population_name}.{field}'), not {quantity!r}")
        return population_name, quantity, "params"
    assert isinstance(population, Population)
    model = population.model
    if quantity in COMPILE_OPTIONS or quantity in POPULATION_OPTIONS:
        raise InputError(f"grid: {name!r} is a compile-time option; compile one network per "
                         "value and sweep each")
    if quantity in model.parameter_names:
        return population_name, quantity, "params"
    if quantity in model.input_names:
        return population_name, quantity, "inputs"
    raise InputError(f"grid: {name!r}: {quantity!r} is not a parameter or input of "
                     f"{model.name} (population {population_name!r}); parameters: "
                     f"{', '.join(model.parameter_names)}; inputs: "
                     f"{', '.join(model.input_names) or 'none'}")


def _points_per_task(simulator: NetworkSimulator, plan: NetworkPlan, pack: int | str,
                     client: Any) -> int:
    """Grid points per task: all of them in this process; on an executor tasks of about
    TASK_SECONDS, but at least one per worker."""
    if pack != "auto":
        if isinstance(pack, bool) or not isinstance(pack, int) or pack < 1:
            raise InputError(f"pack must be 'auto' or a number of grid points >= 1, got {pack!r}")
        return pack
    if client is None:
        return plan.n_points
    steps = min(plan.n_steps, 200)
    started = time.perf_counter()
    simulator.run(steps, record=dict(plan.record), spikes=plan.spikes, **plan.point(0))
    per_point = (time.perf_counter() - started) * plan.n_steps / steps
    spread = math.ceil(plan.n_points / _workers(client))
    return max(1, min(spread, math.ceil(TASK_SECONDS / max(per_point, 1e-9))))


def _workers(client: Any) -> int:
    if type(client).__module__.startswith("distributed"):
        return max(1, len(client.scheduler_info().get("workers", {})))
    return max(1, int(getattr(client, "_max_workers", 0) or os.cpu_count() or 1))


def _dataset(xarray: Any, simulator: NetworkSimulator, plan: NetworkPlan,
             seeds: npt.ArrayLike | None, seeds_run: list[int], tasks: Sequence[Task],
             outputs: Sequence[list[dict[str, Any]]]) -> xarray.Dataset:
    """The Dataset of all points' outputs, in grid order."""
    network = simulator.network
    shape = tuple(len(a) for a in plan.axes)
    dims = [a.dim for a in plan.axes] + (["seed"] if seeds is not None else [])
    n_seeds = len(seeds_run)
    by_point: dict[tuple[int, int], dict[str, Any]] = {}
    for task, output in zip(tasks, outputs):
        for offset, point in enumerate(output):
            by_point[(seeds_run.index(task.seed), task.first + offset)] = point

    def gathered(get: Any) -> np.ndarray:  # (seed, point, ...) -> (*axes, [seed], ...)
        array = np.stack([np.stack([get(by_point[(row, p)]) for p in range(plan.n_points)])
                          for row in range(n_seeds)])
        array = np.moveaxis(array.reshape(n_seeds, *shape, *array.shape[2:]), 0, len(shape))
        return array if seeds is not None else np.take(array, 0, axis=len(shape))

    first = next(simulator.simulators[n] for n in simulator.order if n in simulator.simulators)
    dt, unit = first.dt, first.model.time_unit
    seconds = plan.n_steps * dt * (to_unit(f"1 {unit}", parse_unit("s"), "dt") if unit else 1.0) \
        if dt is not None else plan.n_steps
    rate_unit = "Hz" if (dt is not None and unit) else ("1/time unit" if dt is not None
                                                        else "spikes per step")
    coords: dict[str, Any] = {}
    for axis in plan.axes:
        for name, values in zip(axis.names, axis.values):
            coords[name] = (axis.dim, values, {"units": _unit_of(simulator, plan, name)})
    if seeds is not None:
        coords["seed"] = np.asarray(seeds_run)
    variables: dict[str, Any] = {}
    for name in simulator.order:
        population = network.populations[name]
        neuron = f"{name}_neuron"
        coords[neuron] = np.arange(population.n)
        counts = gathered(lambda point: point["counts"][name])
        kind = "source" if isinstance(population, SourcePopulation) else "population"
        variables[f"{name}_spike_count"] = ((*dims, neuron), counts,
                                            {"units": "spikes", "description": f"{kind} {name}"})
        variables[f"{name}_rate"] = ((*dims, neuron), counts / seconds,
                                     {"units": rate_unit, "description": f"{kind} {name}"})
        states = list(by_point[(0, 0)]["traces"].get(name, {}))
        model = getattr(population, "model", None)
        for state in states:
            traced = gathered(lambda point: point["traces"][name][state])
            variables[f"{name}_{state}"] = (
                (*dims, "time"), traced,
                {"units": _quantity_unit(model, state),
                 "description": f"{state} of population {name}, the mean over its recorded "
                                "neurons at each step's end"})
        if plan.spikes == "events" and isinstance(population, Population):
            _events(variables, name, plan, seeds_run, seeds, by_point, n_seeds, shape)
    if any(by_point[(0, 0)]["traces"].get(name) for name in simulator.order):
        times = np.arange(1, plan.n_steps + 1) * (dt if dt is not None else 1)
        coords["time"] = ("time", times, {"units": unit if dt is not None else "steps"})
    models = [f"{name}: {network.populations[name].model.name}" for name in simulator.order
              if isinstance(network.populations[name], Population)]
    sources = [f"{name}: {type(network.populations[name].source).__name__}"
               for name in simulator.order
               if isinstance(network.populations[name], SourcePopulation)]
    attrs = {"network": ", ".join(f"{name} ({network.populations[name].n})"
                                  for name in simulator.order),
             "models": models, "sources": sources or "none",
             "model_hash": [network.populations[name].model.content_hash()
                            for name in simulator.order
                            if isinstance(network.populations[name], Population)],
             "network_hash": simulator.content_key(), "lifgen": __version__,
             "methods": [f"{name}: {simulator.simulators[name].method}"
                         for name in simulator.order if name in simulator.simulators],
             "dt": dt if dt is not None else "none (a discrete map)", "time_unit": unit,
             "dtype": simulator.dtype, "n_steps": plan.n_steps, "seeds": list(seeds_run),
             "noise": "each grid point and seed is one run of the whole network: white noise "
                      "draws with the seed, sources with their own seeds",
             **_fixed(network, plan)}
    return xarray.Dataset(variables, coords=coords, attrs=attrs)


def _fixed(network: Network, plan: NetworkPlan) -> dict[str, Any]:
    """The attributes that say what the sweep held fixed: the grid's names, and every
    population's parameters and inputs not swept (given or the model's default)."""
    lines: dict[str, list[str]] = {"params": [], "inputs": []}
    numbers: dict[str, Any] = {}
    for name, population in network.populations.items():
        if not isinstance(population, Population):
            continue
        swept = [q for n, (p, q, _) in plan.targets.items() if p == name]
        for what, quantities, kind in (("params", population.model.parameters, "param"),
                                       ("inputs", population.model.inputs, "input")):
            given = {**getattr(population, what, {}), **getattr(plan, what).get(name, {})}
            found, values = fixed_quantities(quantities, given, swept, f"{name}.", kind)
            lines[what] += found
            numbers.update(values)
    return {"grid": ", ".join(plan.targets), "fixed_parameters": "; ".join(lines["params"]),
            "fixed_inputs": "; ".join(lines["inputs"]) or "none", **numbers}


def _events(variables: dict[str, Any], name: str, plan: NetworkPlan, seed_list: list[int],
            seeds: npt.ArrayLike | None, by_point: dict, n_seeds: int,
            shape: tuple[int, ...]) -> None:
    """Population `name`'s spike events of every point, one table along `{name}_event`."""
    columns: list[list[np.ndarray]] = [[], [], [], []]
    for row in range(n_seeds):
        for p in range(plan.n_points):
            steps, neurons = by_point[(row, p)]["events"].get(
                name, (np.zeros(0, np.int64), np.zeros(0, np.int64)))
            for column, values in zip(columns, (np.full(len(steps), row), np.full(len(steps), p),
                                                steps, neurons)):
                column.append(np.asarray(values, np.int64))
    seed_rows, points, steps, neurons = (np.concatenate(c) if c else np.zeros(0, np.int64)
                                         for c in columns)
    order = np.lexsort((neurons, steps, points, seed_rows))
    dim = f"{name}_event"
    for axis, index in zip(plan.axes, np.unravel_index(points[order], shape)):
        variables[f"{name}_event_{axis.dim}"] = (dim, index,
                                                 {"description": f"index along {axis.dim}"})
    if seeds is not None:
        variables[f"{name}_event_seed"] = (dim, np.asarray(seed_list)[seed_rows[order]])
    variables[f"{name}_event_step"] = (dim, steps[order])
    variables[f"{name}_event_neuron"] = (dim, neurons[order])


def _unit_of(simulator: NetworkSimulator, plan: NetworkPlan, name: str) -> str:
    population_name, quantity, _ = plan.targets[name]
    population = simulator.network.populations[population_name]
    if isinstance(population, SourcePopulation):
        if quantity == "p":
            return ""
        _, unit = _source_time(simulator.simulators, simulator.network, population_name)
        return f"1/{unit}" if unit else "1/step"
    return _quantity_unit(population.model, quantity)


def _quantity_unit(model: Any, name: str) -> str:
    for q in (*model.parameters, *model.states, *model.inputs):
        if q.name == name:
            return str(q.unit)
    return ""
