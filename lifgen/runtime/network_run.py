"""A compiled network: the populations' step maps (one SymPy pass each, cached like any
compile), the program built for each way a run records (which traces, a raster or not), and
runs that lay out every population's arrays with a single population's checks, call the
program a chunk of steps at a time and assemble one Result per population."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import threading
import warnings
from dataclasses import dataclass
from typing import Any, Collection, Mapping

import numpy as np

from ..codegen.compiler import checked_flag, checked_semantics, dt_in_model_unit, kernel_source
from ..codegen.network import (COUNTED, ORIGIN, SPARSE_GATHERS, NetworkPlan, PopulationPlan,
                               ProjectionPlan, adds_directly, lower_network, raster_by_row,
                               winner_chunks)
from ..codegen.options import Schedule
from ..errors import InputError, NumericalWarning
from ..frontend.units import UnitError, parse_unit, to_unit
from ..results.continuation import Pending
from ..results.network_result import NetworkResult, projection_key
from ..results.result import Result
from . import aligned, continuation, footprint, memory, prepare
from . import laid_out, plasticity
from .populations import (PlayedBack, Population, Projection, SourcePopulation, incoming,
                          one_step_delay, presynaptic)
from .shards import refuse_network
from ..ir.canonical import canonical_text
from ..ir.symbols import ADAPTIVE_STATE
from .simulate import (MAX_COUNT, NUMPY_DTYPES, SPIKE_MODES, Simulator, past_substep_bound,
                       read_only)
from .sources import Bernoulli, Poisson, PoissonInput, SpikeTrain

CHUNK_CELLS = 1 << 22  # neuron-steps per call when spikes are kept as events


@dataclass
class _Layout:
    """One run's arrays of one population, by the program's buffer roles."""

    buffers: dict[str, np.ndarray]
    record: dict
    rows: int
    batch: tuple
    given_inputs: dict
    shared: frozenset[str] = frozenset()  # parameters with one value for every neuron
    uniform_inputs: frozenset[str] = frozenset()  # inputs with one value for every neuron
    threshold: tuple = ("", None)  # (state, per-neuron threshold): Simulator._threshold

    @property
    def variant(self) -> tuple:
        """What of this layout the program is specialised for."""
        return (tuple(self.record), tuple(sorted(self.shared)),
                tuple(sorted(self.uniform_inputs)))


class NetworkSimulator:
    """A compiled network: call `run` as often as you like (with `params=` to change
    parameters or source rates for one run). It pickles as its network's description, target
    and dtype and is compiled again where unpickled, once per process and content (a Dask
    worker loads its programs from the kernel cache when it is warm), so `lifgen.sweep` and
    Dask take it as they take a Simulator."""

    def __init__(self, network: Any, target: Any, dtype: str, threads: int = 1,
                 sparse_gather: str = "incoming"):
        prepare.choice(dtype, "dtype", tuple(NUMPY_DTYPES))
        self.network = network
        self.target = target
        self.dtype = dtype
        self.threads = threads
        self.sparse_gather = prepare.choice(sparse_gather, "sparse_gather", SPARSE_GATHERS)
        self.order = network.update_order()
        self.simulators = {name: self._population_simulator(p)
                           for name, p in network.populations.items()
                           if isinstance(p, Population)}
        self.dt = self._common_dt()
        self._one_quantisation()
        self._programs: dict[tuple, Any] = {}
        self._weights: dict[int, dict[str, np.ndarray]] = {}
        self._kept: dict[str, laid_out.Kept] = {}  # each population's last layout
        self._last: Any = None  # the source of the last run's program

    def _population_simulator(self, population: Population) -> Simulator:
        """The population's step map (through the source cache) and its run-time checks."""
        options = dict(population.options)
        # a discrete map (a step is a step) joins a timed network without a dt of its own
        dt = None if population.model.is_discrete \
            else dt_in_model_unit(population.model, self.network.dt)
        semantics = checked_semantics(options.get("method"), dt, self.dtype,
                                      options.get("reset"), options.get("reset_timing"),
                                      options.get("reset_delay"),
                                      options.get("graded_spikes", 1.0),
                                      options.get("inhibition", False),
                                      options.get("state_quant"), False, options.get("rtol"),
                                      options.get("atol"), options.get("max_substeps"))
        source = kernel_source(population.model, semantics, Schedule(), self.target)
        if source.step_map.warning:
            warnings.warn(f"population {population.name!r}: {source.step_map.warning}",
                          NumericalWarning, stacklevel=4)
        return Simulator(self.target, source, None)

    def _one_quantisation(self) -> None:
        """Populations that quantise their states share one table of levels (the program's)."""
        tables = {tuple(sorted(sim.semantics.state_quant)): name
                  for name, sim in self.simulators.items() if sim.semantics.state_quant}
        if len(tables) > 1:
            raise InputError(f"populations {sorted(tables.values())} quantise their states to "
                             "different levels; one network quantises to one table of levels")

    def _common_dt(self) -> float | None:
        """The network's dt in seconds (or in steps of unitless models): every population's
        must be the same."""
        seen: dict[str, float] = {}
        for name, sim in self.simulators.items():
            if sim.dt is None:
                continue
            unit = sim.model.time_unit
            try:
                seen[name] = to_unit(f"{sim.dt!r} {unit}", parse_unit("s"), "dt") if unit \
                    else float(sim.dt)
            except UnitError as error:
                raise InputError(f"population {name!r}: {error}") from None
        values = set(seen.values())
        if len({round(v, 15) for v in values}) > 1 or (
                values and max(values) - min(values) > 1e-12 * max(values)):
            listed = ", ".join(f"{n}: {self.simulators[n].dt} {self.simulators[n].model.time_unit}"
                               for n in seen)
            raise InputError(f"the populations' models have different dt ({listed}); give the "
                             "network one: lifgen.Network(dt=\"0.1 ms\")")
        return next(iter(values)) if values else None

    # -- the program -------------------------------------------------------------------------

    def plan(self, variants: dict[str, tuple], spikes: str,
             recorded: frozenset[int] = frozenset(),
             unrastered: frozenset[str] = frozenset()) -> NetworkPlan:
        """The plan of a run whose populations have these layout variants (traced states,
        shared parameters, uniform inputs; `_Layout.variant`), with a raster or not (none for
        the populations `unrastered`), recording the chosen synapses of the plastic projections
        `recorded` (indices in plan order)."""
        network = self.network
        index = {name: k for k, name in enumerate(self.order)}
        direct = {id(p): self._direct(p) for p in network.projections}
        slots = self._ring_slots
        populations, neuron0 = [], 0
        for name in self.order:
            population = network.populations[name]
            if isinstance(population, Population):
                sim = self.simulators[name]
                rings = tuple((y, slots[(name, y)]) for y in sim.model.synapse_names
                              if (name, y) in slots)
                traced, shared, uniform = variants.get(name, ((), (), ()))
                populations.append(PopulationPlan(
                    name, population.n, sim.step_map, rings=rings, traced=traced,
                    shared=frozenset(shared), uniform_inputs=frozenset(uniform), neuron0=neuron0,
                    inhibition=sim.semantics.inhibition,
                    levels=tuple(sorted(sim.semantics.state_quant or ())),
                    unrecorded=name in unrastered))
            else:
                populations.append(dataclasses.replace(_source_plan(population, neuron0),
                                                       unrecorded=name in unrastered))
            neuron0 += population.n
        projections = tuple(ProjectionPlan(index[p.pre], index[p.post], p.synapse, p.kind,
                                           p.delay if p.kind != "sparse" else 0,
                                           self._graded(p.pre), plastic=p.binding,
                                           recorded=j in recorded, conv=p.conv, block=p.block,
                                           direct=direct[id(p)])
                            for j, p in enumerate(self._projections_in_order))
        return NetworkPlan(tuple(populations), projections, self.dtype,
                           raster=spikes == "raster",
                           raster_by_row=getattr(self.target, "raster_by_row", False),
                           events=spikes == "events", threads=self.threads,
                           gather=getattr(self.target, "gathers", False),
                           sparse_gather=self.sparse_gather)

    def _direct(self, projection: Projection) -> bool:
        """Whether the projection's events are added straight into their target state (every
        one a step after its spike, into a synapse type that adds to a state): no ring."""
        return one_step_delay(projection) and adds_directly(
            self.simulators[projection.post].model, projection.synapse)

    @functools.cached_property
    def _ring_slots(self) -> dict[tuple[str, str], int]:
        """The delay ring of each (post population, synapse type) that receives projections
        through one: its slots (a plastic projection adds to the slot of its arrival step)."""
        slots: dict[tuple[str, str], int] = {}
        for p in self.network.projections:
            if self._direct(p):
                continue
            needed = 1 if p.kind == "plastic" else p.delay + 1
            slots[(p.post, p.synapse)] = max(slots.get((p.post, p.synapse), 1), needed)
        return slots

    def _graded(self, population: str) -> float:
        """What each spike of `population` carries (snnTorch's graded_spikes_factor; 1 for a
        source)."""
        sim = self.simulators.get(population)
        return 1.0 if sim is None else float(sim.semantics.graded_spikes)

    @functools.cached_property
    def _projections_in_order(self) -> list[Projection]:
        """Projections by the update order of their presynaptic population, then as added (the
        network is this simulator's own copy: its projections stay as they are)."""
        rank = {name: k for k, name in enumerate(self.order)}
        return sorted(self.network.projections, key=lambda p: rank[p.pre])

    def program(self, variants: dict[str, tuple], spikes: str,
                recorded: frozenset[int] = frozenset(),
                unrastered: frozenset[str] = frozenset()) -> Any:
        """(source, kernel) of the program for these layout variants, spike mode, recorded
        plastic projections and populations without a raster, built once."""
        key = (tuple(sorted(variants.items())), spikes, tuple(sorted(recorded)),
               tuple(sorted(unrastered)))
        if key not in self._programs:
            plan = self.plan(variants, spikes, recorded, unrastered)
            source = self.target.render_network(lower_network(plan))
            self._programs[key] = (source, self.target.build_network(source))
        return self._programs[key]

    def source(self, record: dict | None = None, spikes: str = "count") -> str:
        """The C of the last run's program, or (before any run, or given `record`) of the
        program that a run with this `record` and `spikes` and every parameter and input
        per neuron executes."""
        if record is None and self._last is not None:
            return self._last.text
        variants = {name: (tuple(states), (), ()) for name, states in (record or {}).items()}
        return self.program(variants, spikes)[0].text

    # -- a run -------------------------------------------------------------------------------

    def run(self, n_steps: Any = None, inputs: dict | None = None, record: dict | None = None,
            spikes: str = "count", seed: int = 0, duration: Any = None,
            allow_nan: bool = False, max_memory: Any = None,
            record_synapses: dict | None = None, params: dict | None = None,
            executor: Any = None, shards: int | None = None,
            initial: Mapping[str, Any] | None = None,
            rasters: Collection[str] | None = None) -> NetworkResult:
        """Simulate `n_steps` steps (or a `duration`, "500 ms") of the whole network. `inputs`
        maps a population to its inputs, `record` a population to the states it traces (a list,
        or a dict of state -> neurons, as `run` takes it); `spikes` is "count", "raster" or
        "events"; `seed` seeds white noise. `record_synapses` maps a plastic projection's
        (pre, post, synapse) to the synapses (indices in its Sparse) whose states are kept at
        every step's end (result.synapse_traces).

        `params` changes parameters for this run only, without compiling again: it maps a
        population to {parameter: value} (over those given to `Network.add`), or a source to
        its rate ({"rate": r} of a Poisson or PoissonInput, {"p": p} of a Bernoulli; a number
        or an array of the shape the source was given). `lifgen.sweep` runs a network's grid
        points so. `executor` and `shards` are refused: a network's populations exchange spikes
        every min-delay, so one run is not split over workers (sweep its grid points instead).

        `initial` maps a population to initial states in place of those given to `Network.add`
        ({state: value}); `initial=result.state` of an earlier run continues it: the states,
        the spikes still in flight (delay rings, the last step's spikes), the plastic
        projections' synapses and the clock of the draws, so that the two runs equal one.

        `rasters` (with spikes="raster") names the populations whose rasters the run keeps
        (None: every one); the others' Result.spikes is None, their spike counts kept: a
        population's raster costs a byte per neuron and step to write."""
        if executor is not None or shards is not None and (
                prepare.count(shards, "shards", minimum=1) != 1):
            refuse_network(self.min_delay())
        n_steps = self._step_count(n_steps, duration)
        spikes = prepare.choice(spikes, "spikes", SPIKE_MODES)
        unrastered = self._unrastered(rasters, spikes)
        allow_nan = checked_flag(allow_nan, "allow_nan")
        seed = prepare.seed(seed)
        inputs = self._per_population(inputs, "inputs")
        record = self._per_population(record, "record")
        pending = continuation.carried(initial)
        populations = self._with_initial(self.with_params(params),
                                         self._per_population(initial, "initial"))
        # (the batch rows initial states and parameters give: inputs may give more, checked
        # again below)
        given_rows = _given_rows(populations)
        parts = self._footprint(populations, n_steps, given_rows, spikes, record,
                                record_synapses)
        # the machine is asked once for the whole run, and not for a small one (memory.SMALL_RUN)
        unasked = max_memory is None and not inputs and spikes != "events"
        max_memory = memory.UNKNOWN if unasked and memory.small(parts) \
            else memory.limit(max_memory)
        room = memory.check(parts, max_memory)
        layouts = {name: self._layout(name, n_steps, inputs.get(name), record.get(name),
                                      spikes, seed, allow_nan, max_memory, populations[name])
                   for name in self.order}
        rows = _common_rows(layouts)
        if rows > 1:
            parts = self._footprint(populations, n_steps, rows, spikes, record, record_synapses)
            if max_memory == memory.UNKNOWN and not memory.small(parts):
                max_memory = memory.limit(None)
            room = memory.check(parts, max_memory)
        plastic = self._plastic(rows, n_steps, record_synapses)
        variants = {name: layout.variant for name, layout in layouts.items()}
        recorded = frozenset(j for j, laid in plastic.items() if laid["trace"] is not None)
        source, kernel = self.program(variants, spikes, recorded, unrastered)
        self._last = source
        for layout in layouts.values():
            _widen(layout, rows)
        arrays = self._arrays(source, layouts, rows, n_steps, spikes)
        arrays.update(_plastic_buffers(plastic))
        if source.program.plan.gather:  # each synapse's presynaptic neuron, for its post's thread
            arrays.update({f"lg_J{j}_pre": presynaptic(laid["rows"])
                           for j, laid in plastic.items()})
        clock = continuation.restore(pending, arrays, self._made_by())
        arrays[ORIGIN] = np.array([clock], np.int64)
        missing = [b.name for b in source.program.buffers if b.name not in arrays]
        assert not missing, f"buffers without arrays: {missing}"
        events = self._call(kernel, source, arrays, layouts, n_steps, rows, spikes, seed, clock,
                            room // memory.EVENT_PEAK_BYTES)
        result = self._result(layouts, arrays, n_steps, rows, spikes, events,
                              source.program.plan)
        result.pending = Pending(clock + n_steps, continuation.kept(arrays, own=True),
                                 self._made_by())
        self._synapse_results(result, plastic, arrays, n_steps, rows, layouts, clock)
        for name, sim in self.simulators.items():
            short = past_substep_bound(sim.step_map, result.populations[name].state.get(
                ADAPTIVE_STATE) if name in result.populations else None)
            if short:
                warnings.warn(f"population {name!r} ({sim.model.name}): {short}",
                              NumericalWarning, stacklevel=2)
        if not allow_nan:
            _warn_nonfinite(result)
        return result

    def _unrastered(self, rasters: Collection[str] | None, spikes: str) -> frozenset[str]:
        """The populations whose raster a run does not keep: those `rasters` does not name."""
        if rasters is None:
            return frozenset()
        if isinstance(rasters, str) or not isinstance(rasters, Collection):
            raise InputError("rasters names the populations whose rasters the run keeps, e.g. "
                             f"['out']; got {rasters!r}")
        unknown = [name for name in rasters if name not in self.network.populations]
        if unknown:
            raise InputError(f"rasters: no population {unknown}; the network's are "
                             f"{list(self.order)}")
        if spikes != "raster":
            raise InputError(f"rasters is for runs with spikes=\"raster\"; this one has "
                             f"spikes={spikes!r}")
        return frozenset(name for name in self.order if name not in rasters)

    def _plastic(self, rows: int, n_steps: int,
                 record_synapses: dict | None) -> dict[int, dict[str, Any]]:
        """Each plastic projection's arrays for this run (by its index in plan order), its
        synapses at their initial states in every batch row, and the recorded synapses'."""
        dtype = NUMPY_DTYPES[self.dtype]
        ordered = self._projections_in_order
        plastic = {j: _plastic_layout(p, self.network.populations[p.post].n, rows, dtype)
                   for j, p in enumerate(ordered) if p.kind == "plastic"}
        if record_synapses is not None and not isinstance(record_synapses, Mapping):
            raise InputError("record_synapses maps a plastic projection's (pre, post, synapse) "
                             "to synapse indices, e.g. {('in', 'out', 'exc'): [0, 5]}; got "
                             f"{type(record_synapses).__name__}")
        for key, indices in (record_synapses or {}).items():
            named = projection_key(key)
            j = next((j for j, p in enumerate(ordered) if p.key == named), None)
            if j is None or j not in plastic:
                known = [p.key for p in ordered if p.kind == "plastic"]
                raise InputError(f"record_synapses[{key!r}]: no plastic projection "
                                 f"{named!r}; the network's are {known or 'none'}")
            plasticity.record_chosen(plastic[j], indices, n_steps, dtype, f"record_synapses[{named!r}]")
        return plastic

    def _synapse_results(self, result: NetworkResult, plastic: dict[int, dict[str, Any]],
                         arrays: dict, n_steps: int, rows: int, layouts: dict,
                         clock: int = 0) -> None:
        """Each plastic projection's final states (with on_post of the last step's spikes and
        every synapse propagated to the end of the run) and recorded states, into `result`."""
        ordered = self._projections_in_order
        k_of = {name: k for k, name in enumerate(self.order)}
        for j, laid in plastic.items():
            projection = ordered[j]
            post, layout = projection.post, layouts[projection.post]
            batch = layout.batch if rows == layout.rows else (rows,)
            dt = self.simulators[post].dt
            fired = arrays[f"lg_P{k_of[post]}_fired"]
            final, trace = plasticity.synapse_result(laid, n_steps, 1.0 if dt is None else dt,
                                                     batch, fired, clock)
            result.synapses[projection.key] = final
            if trace is not None:
                result.synapse_traces[projection.key] = trace

    def _step_count(self, n_steps: Any, duration: Any) -> int:
        first = next(iter(self.simulators.values()))
        if duration is not None and n_steps is not None:
            raise InputError("run needs n_steps or duration=, one of them, not both")
        if duration is None and not isinstance(n_steps, str):
            return prepare.count(n_steps, "n_steps", 0, MAX_COUNT)
        text = duration if duration is not None else n_steps
        if self.dt is None:
            raise InputError("the network's models are discrete-time maps: give n_steps")
        for sim in self.simulators.values():
            if sim.dt is not None:
                first = sim
                break
        return first._step_count(None, text)

    def _made_by(self) -> str:
        """What a run's carry (NetworkResult.pending) names as what made it: this network."""
        if not hasattr(self, "_content"):
            self._content = self.content_key()
        return f"network {self._content[:16]}"

    @staticmethod
    def _with_initial(populations: dict[str, Any], initial: dict) -> dict[str, Any]:
        """The populations with the initial states `initial` gives in place of their own."""
        for name, states in initial.items():
            if not isinstance(states, Mapping):
                raise InputError(f"initial[{name!r}] maps state names to values; got "
                                 f"{type(states).__name__}")
            populations[name] = dataclasses.replace(
                populations[name], initial={**populations[name].initial, **states})
        return populations

    def _per_population(self, given: Any, what: str) -> dict:
        if given is not None and not isinstance(given, Mapping):
            raise InputError(f"{what} maps population names to their {what}, e.g. "
                             f"{what}={{'exc': ...}}; got {type(given).__name__}")
        given = dict(given or {})
        unknown = [n for n in given if n not in self.network.populations]
        if unknown:
            raise InputError(f"{what} names unknown population(s) {unknown}; the network has "
                             f"{', '.join(self.network.populations)}")
        sources = [n for n in given if not isinstance(self.network.populations[n], Population)]
        if sources:
            raise InputError(f"{what}: {sources} are spike sources, which have no {what}")
        return given

    def with_params(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """The network's populations with `params` (run's argument) in place of their own: new
        Population and source objects, the network's own left as they are."""
        populations = dict(self.network.populations)
        if params is None:
            return populations
        if not isinstance(params, Mapping):
            raise InputError("params maps population names to their parameters, e.g. "
                             f"params={{'exc': {{'tau_m': 15.0}}}}; got {type(params).__name__}")
        for name, given in params.items():
            if name not in populations:
                raise InputError(f"params names unknown population {name!r}; the network has "
                                 f"{', '.join(populations)}")
            if not isinstance(given, Mapping):
                raise InputError(f"params[{name!r}] maps parameter names to values; got "
                                 f"{type(given).__name__}")
            population = populations[name]
            if isinstance(population, Population):
                unknown = sorted(set(given) - set(population.model.parameter_names))
                if unknown:
                    raise InputError(f"params[{name!r}]: {unknown} are not parameters of "
                                     f"{population.model.name}; it has "
                                     f"{', '.join(population.model.parameter_names)}")
                populations[name] = dataclasses.replace(population,
                                                        params={**population.params, **given})
            else:
                populations[name] = _source_with(population, given)
        return populations

    def min_delay(self) -> int | None:
        """The shortest delay of the network's projections in steps (None: no projections):
        how often its populations exchange spikes."""
        delays = []
        for p in self.network.projections:
            if p.kind == "sparse" and p.runs is not None and p.runs["run_delay"].size:
                delays.append(int(p.runs["run_delay"].min()))
            elif p.kind == "plastic" and p.synapses is not None and p.synapses.sparse.delay.size:
                delays.append(int(p.synapses.sparse.delay.min()))
            elif p.kind in ("dense", "one_to_one", "conv2d"):
                delays.append(int(p.delay))
        return min(delays) if delays else None

    def _layout(self, name: str, n_steps: int, inputs: Any, record: Any, spikes: str, seed: int,
                allow_nan: bool, max_memory: Any, population: Any = None) -> _Layout:
        population = self.network.populations[name] if population is None else population
        if isinstance(population, SourcePopulation):
            return _source_layout(population, n_steps, self.simulators, self.network)
        sim = self.simulators[name]
        # a run of the same arguments lays out the same arrays while the population's values
        # stay as they were (runs given its inputs or other params= lay out afresh)
        key = (n_steps, seed, allow_nan, tuple(record or ())) if inputs is None and (
            record is None or isinstance(record, (list, tuple))
            and all(isinstance(s, str) for s in record)) \
            and population is self.network.populations[name] else None
        kept = self._kept.get(name)
        if key is not None and kept is not None and kept.matches(key, population):
            memory.check(kept.footprint, max_memory)
            return kept.fresh()
        arrays, record = sim.run_arrays(n_steps, population.n, inputs, dict(population.params),
                                        dict(population.initial),
                                        () if record is None else record, seed, allow_nan,
                                        max_memory)
        layout = self._laid_out(sim, population, arrays, record)
        if key is not None:
            self._kept[name] = laid_out.kept(key, population, layout, sim._footprint(
                n_steps, arrays.rows, population.n, record,
                prepare.recorded_count(arrays.index, population.n), "count", {}))
        return layout

    def _laid_out(self, sim: Simulator, population: Population, arrays: Any,
                  record: dict) -> _Layout:
        """The program's buffers of a population from its checked run arrays."""
        n = population.n
        buffers: dict[str, np.ndarray] = {}
        for state, values in arrays.states.items():
            buffers[f"state_{state}"] = aligned.aligned(values)
        for parameter, (values, _) in arrays.params.items():
            buffers[f"param_{parameter}"] = aligned.aligned(
                np.full(n, values[0], values.dtype) if values.size == 1 else values)
        strides = []
        for u, entry in arrays.inputs.items():  # neuron stride 1, or 0: a uniform input
            buffers[f"input_{u}"] = np.asarray(entry.array).reshape(-1)
            strides += [entry.time_stride, entry.batch_stride]
        if strides:
            buffers["input_strides"] = np.array(strides, np.int64)
        dtype = NUMPY_DTYPES[self.dtype]
        buffers["spiked"] = aligned.zeros(n, dtype)
        if sim.semantics.inhibition:
            buffers["margin"], buffers["was_reset"] = aligned.zeros(n, dtype), aligned.zeros(
                n, dtype)
            buffers["chunk_winner"] = np.zeros(winner_chunks(n), np.int64)
        for k, _ in sim.step_map.constants:
            buffers[f"constant_{k.name.removeprefix('lg_')}"] = aligned.empty(n, dtype)
        for y in sim.model.synapses:
            if not y.target:
                buffers[f"synapse_{y.name}"] = aligned.zeros(n, dtype)
        if record:
            buffers["record"] = arrays.index
            buffers["n_record"] = np.array([arrays.index.size], np.int64)
        given = {u: arrays.inputs[u] for u in arrays.inputs}
        shared = frozenset(p for p, (values, stride) in arrays.params.items()
                           if stride == 0 or _one_value(values))
        uniform = frozenset(u for u, entry in arrays.inputs.items() if not entry.neuron_stride)
        threshold = sim._threshold(arrays.params, n)
        return _Layout(buffers, record, arrays.rows, tuple(arrays.batch), given, shared, uniform,
                       threshold)

    def _footprint(self, populations: dict[str, Any], n_steps: int, rows: int, spikes: str,
                   record: dict, record_synapses: Any) -> dict[str, int]:
        """What a run of `rows` batch rows will allocate, by what it is for, in bytes, from its
        arguments alone (before any of it is allocated): every population's arrays, the
        raster, event buffers, traces, delay rings, projections' weights (a strided
        convolution's block taps too) and padded planes, plastic synapses and their recorded
        states, and the sources' tables."""
        item = np.dtype(NUMPY_DTYPES[self.dtype]).itemsize
        cells = sum(p.n for p in populations.values()) * rows
        chunk = _chunk_length(n_steps, cells, spikes)
        parts = dict.fromkeys(("neurons' arrays", "traces", "sources"), 0)
        for name, population in populations.items():
            n = population.n
            if not isinstance(population, Population):
                parts["sources"] += footprint.source_bytes(population.source, n, n_steps)
                continue
            sim = self.simulators[name]
            width = (len(sim.step_map.state_names) + 2 * len(sim.model.parameter_names)
                     + len(sim.step_map.constants) + len(sim.model.synapse_names) + 4)
            parts["neurons' arrays"] += width * n * rows * item + n * rows * 9 + n * 8
            states, union = prepare.record_request(() if record.get(name) is None
                                                   else record[name], sim.step_map.state_names,
                                                   n)
            parts["traces"] += len(states) * n_steps * rows * prepare.recorded_count(union, n) \
                * item
        parts["raster"] = n_steps * cells if spikes == "raster" else 0
        parts["event buffers"] = chunk * cells * 2 * 8 if spikes == "events" else 0
        parts["delay rings"] = sum(2 * populations[post].n * slots * rows * item  # and a copy
                                   for (post, _), slots in self._ring_slots.items())
        plastic = {p.key: p.synapses for p in self.network.projections
                   if p.synapses is not None}
        parts["plastic synapses"] = sum(
            footprint.plastic_bytes(p.synapses, rows, p.delay + 1, populations[p.post].n, item)
            for p in self.network.projections if p.synapses is not None)
        parts["synapse traces"] = footprint.synapse_trace_bytes(
            {projection_key(k): v for k, v in record_synapses.items()}
            if isinstance(record_synapses, Mapping) else None, plastic, n_steps, rows, item)
        parts["projections' weights"] = sum(
            (p.weights.size + (p.runs or {}).get("block_weights", np.empty(0)).size) * item
            for j, p in enumerate(self._projections_in_order)
            if j not in self._weights and p.synapses is None)
        parts["padded planes"] = sum(p.block[6] for p in self.network.projections if p.block) \
            * item * (rows if self.threads > 1 else 1)
        return parts

    def _arrays(self, source: Any, layouts: dict, rows: int, n_steps: int,
                spikes: str) -> dict[str, np.ndarray]:
        """Every buffer of the program, by its name, for the whole run."""
        dtype = NUMPY_DTYPES[self.dtype]
        plan = source.program.plan
        arrays: dict[str, np.ndarray] = {}
        chunk = _chunk_length(n_steps, sum(p.n for p in plan.populations) * rows, spikes)
        for k, population in enumerate(plan.populations):
            layout = layouts[population.name]
            n = population.n
            prefix = f"lg_P{k}_"
            for role, array in layout.buffers.items():
                arrays[prefix + role] = np.ascontiguousarray(array, dtype) \
                    if population.source == "values" and role == "values" else array
            arrays[prefix + "fired"] = aligned.zeros((rows, n), np.uint8)
            arrays[prefix + "spike_list"] = aligned.zeros(n, np.int64)
            if population.source in COUNTED:
                arrays[prefix + "events"] = np.zeros(n, dtype)
            arrays[prefix + "counts"] = aligned.zeros((rows, n), np.int64)
            arrays[prefix + "spike_total"] = np.zeros(1, np.int64)
            if plan.raster and not population.unrecorded:
                arrays[prefix + "raster"] = aligned.zeros(
                    (rows, n_steps, n) if raster_by_row(population, plan) else (n_steps, rows, n),
                    np.uint8)
            if plan.events and population.step_map is not None:  # every neuron-step of a chunk
                arrays[prefix + "event_steps"] = np.empty(chunk * rows * n, np.int64)
                arrays[prefix + "event_neurons"] = np.empty(chunk * rows * n, np.int64)
                arrays[prefix + "event_count"] = np.zeros(1 + rows, np.int64)
                arrays[prefix + "event_count"][0] = chunk * n  # each row's room
            for synapse, slots in population.rings:
                arrays[f"{prefix}ring_{synapse}"] = aligned.zeros((rows, slots, n), dtype)
            for state in population.traced:
                count = layout.buffers["record"].size
                arrays[f"{prefix}trace_{state}"] = aligned.empty((n_steps, rows, count), dtype)
        planes = {b.name for b in source.program.buffers if b.name.endswith("_block")}
        for j, projection in enumerate(self._projections_in_order):
            if projection.kind == "plastic":  # laid out for each run (_plastic)
                continue
            if j not in self._weights:  # laid out once: runs share the projections' arrays
                self._weights[j] = _projection_arrays(projection, dtype, plan.gather and (
                    plan.populations[plan.projections[j].post].n))
            arrays.update({f"lg_J{j}_{role}": array for role, array in self._weights[j].items()})
            if f"lg_J{j}_block" in planes:  # a convolution's padded plane (scratch)
                arrays[f"lg_J{j}_block"] = aligned.zeros(projection.block[6], dtype)
        if plan.threads > 1:  # batch rows run at once: each its own scratch
            for buffer in source.program.buffers:
                if buffer.scratch:
                    arrays[buffer.name] = aligned.zeros(rows * buffer.scratch,
                                                        arrays[buffer.name].dtype)
        return arrays

    def _call(self, kernel: Any, source: Any, arrays: dict, layouts: dict, n_steps: int,
              rows: int, spikes: str, seed: int, clock: int = 0,
              max_events: int | None = None) -> list:
        """Run the program in chunks (one, unless events are collected); return the events,
        those past `max_events` (all populations together) dropped, as a single population's
        run drops them (the counts stay complete)."""
        plan = source.program.plan
        chunk = _chunk_length(n_steps, sum(p.n for p in plan.populations) * rows, spikes)
        events: list = []
        done = 0
        while done < n_steps:
            steps = min(chunk, n_steps - done)
            buffers = [_chunked(b.name, arrays[b.name], done, spikes)
                       for b in source.program.buffers]
            self.target.call_network(kernel, source, buffers, clock + done, steps, rows, seed)
            if spikes == "events":  # each population's (steps, neurons, events found)
                room = n_steps * rows * sum(p.n for p in plan.populations) \
                    if max_events is None else max(max_events, 0)
                found = [(steps_[:room], neurons[:room], steps_.size)
                         for steps_, neurons in _chunk_events(arrays, plan, rows)]
                if max_events is not None:
                    max_events -= sum(part[0].size for part in found)
                events.append(found)
            done += steps
        return events

    def _result(self, layouts: dict, arrays: dict, n_steps: int, rows: int, spikes: str,
                events: list, plan: NetworkPlan | None = None) -> NetworkResult:
        results = {}
        for k, name in enumerate(self.order):
            population = self.network.populations[name]
            layout, prefix = layouts[name], f"lg_P{k}_"
            batch, n = (layout.batch if rows == layout.rows else (rows,)), population.n
            shape = (n_steps, *batch, n)
            raster = arrays.get(prefix + "raster") if spikes == "raster" else None
            spike_events = _joined(events, k) if spikes == "events" else None
            counts = arrays[prefix + "counts"]
            if raster is not None and plan is not None \
                    and raster_by_row(plan.populations[k], plan):  # (T, batch, n), as a view
                raster = raster.transpose(1, 0, 2)
            common = dict(
                spikes=None if raster is None else raster.view(bool).reshape(shape),
                spike_count=counts.reshape(*batch, n), spike_events=spike_events,
                n_steps=n_steps)
            if isinstance(population, SourcePopulation):  # counts, and a raster when asked
                dt, unit = _source_time(self.simulators, self.network, name)
                results[name] = Result(traces={}, state={}, dt=dt, time_unit=unit,
                                       model=type(population.source).__name__,
                                       **{**common, "spike_events": None})
                continue
            sim = self.simulators[name]
            state_names = sim.step_map.state_names
            # (events found: one per neuron-step that spiked, whatever the step's count)
            kept, found = (-1, -1) if spike_events is None else (
                spike_events[0].size, sum(chunk[k][2] for chunk in events))
            common["truncated"] = 0 <= kept < found
            if common["truncated"]:
                warnings.warn(f"population {name!r}: kept the first {kept} of {found} spike "
                              "events, all that fit in the memory limit (Result.truncated; "
                              "spike counts are complete)", NumericalWarning, stacklevel=4)
            threshold_state, threshold = layout.threshold
            results[name] = Result(
                traces={s: arrays[prefix + f"trace_{s}"].reshape(
                    n_steps, *batch, layout.buffers["record"].size) for s in layout.record},
                recorded=layout.record,
                state={s: arrays[prefix + f"state_{s}"].reshape(*batch, n) for s in state_names},
                inputs={u: read_only(prepare.as_grid(entry, n_steps, n))
                        for u, entry in layout.given_inputs.items()},
                dt=sim.dt, model=sim.model.name, threshold=threshold,
                threshold_state=threshold_state, time_unit=sim.model.time_unit,
                units=sim._units, **common)
        return NetworkResult(results, order=tuple(self.order))

    @property
    def from_cache(self) -> bool:
        """Whether every program this simulator has run so far was loaded from the kernel cache
        (no C compiler ran for it); True before any run."""
        return all(getattr(kernel, "from_cache", True) for _, kernel in self._programs.values())

    def content_key(self) -> str:
        """A digest of what was compiled (the network's description, target, dtype and
        options): equal for equal networks, whichever process computes it."""
        digest = hashlib.sha256(f"{self.target.name} {self.dtype} {self.threads} "
                                f"{self.sparse_gather} {self.network.dt!r}".encode())
        _digest(self.network.populations, digest)
        _digest(self.network.projections, digest)
        return digest.hexdigest()

    def __reduce__(self) -> tuple:
        """A compiled network pickles as its description, target, dtype, threads and sparse
        gather: unpickled in another process (a Dask worker) it is compiled there once per
        content, its programs loaded from the kernel cache when it is warm, and every later
        unpickling of the same content in that process returns the same NetworkSimulator."""
        return (_compiled, (self.network, self.target.name, self.dtype, self.content_key(),
                            self.threads, self.sparse_gather))

    def __repr__(self) -> str:
        return (f"<NetworkSimulator: {len(self.order)} populations in order "
                f"{' -> '.join(self.order)}, dtype={self.dtype}"
                + (f", threads={self.threads}" if self.threads > 1 else "")
                + (f", sparse_gather={self.sparse_gather!r}"
                   if self.sparse_gather != "incoming" else "") + ">")


def _warn_nonfinite(result: NetworkResult) -> None:
    """A NumericalWarning for each population whose states ended NaN or infinite."""
    for name, population in result.populations.items():
        # (a finite sum, the common case, proves every value finite without a mask)
        bad = [(state, int(np.count_nonzero(~np.isfinite(values)))) for state, values in
               population.state.items() if not math.isfinite(values.sum())
               and not np.isfinite(values).all()]
        if bad:
            listed = ", ".join(f"{state} in {count} neurons" for state, count in bad)
            warnings.warn(f"population {name!r} ({population.model}): states became NaN or "
                          f"infinite ({listed}); record them to see where, or choose a smaller "
                          "dt or a stabler method", NumericalWarning, stacklevel=3)


_REBUILT: dict[str, NetworkSimulator] = {}  # this process's networks, by content
_REBUILT_LOCK = threading.Lock()


def _compiled(network: Any, target: str = "c", dtype: str = "float64",
              key: str | None = None, threads: int = 1,
              sparse_gather: str = "incoming") -> NetworkSimulator:
    """What an unpickled NetworkSimulator becomes: compiled once per content in this process."""
    options = dict(target=target, dtype=dtype, threads=threads, sparse_gather=sparse_gather)
    if key is None:
        return network.compile(**options)
    with _REBUILT_LOCK:
        if key not in _REBUILT:
            _REBUILT[key] = network.compile(**options)
        return _REBUILT[key]


def _digest(value: Any, digest: Any) -> None:
    """Feed a network's description into `digest` by content: models by their content hash,
    arrays by dtype, shape and bytes, containers and objects field by field (pickled bytes are
    not canonical: equal descriptions can pickle differently)."""
    update = digest.update
    if hasattr(value, "content_hash"):
        update(f"<model {value.content_hash()}>".encode())
    elif isinstance(value, np.ndarray):
        update(f"<array {value.dtype.str} {value.shape}>".encode())
        update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, Mapping):
        update(f"<{type(value).__name__} {len(value)}>".encode())
        for key, item in value.items():
            _digest(key, digest)
            _digest(item, digest)
    elif isinstance(value, (list, tuple)):
        update(f"<{type(value).__name__} {len(value)}>".encode())
        for item in value:
            _digest(item, digest)
    elif isinstance(value, (set, frozenset)):
        update(f"<set {sorted(map(_exact_text, value))}>".encode())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        update(f"<{type(value).__qualname__}>".encode())
        for field in dataclasses.fields(value):
            update(field.name.encode())
            _digest(getattr(value, field.name), digest)
    elif hasattr(value, "__dict__") and not callable(value):
        update(f"<{type(value).__qualname__}>".encode())
        _digest(vars(value), digest)
    else:
        update(f"<{type(value).__qualname__} {_exact_text(value)}>".encode())


def _exact_text(value: Any) -> str:
    """A value's exact text (SymPy's repr rounds its Floats to 15 digits; ir/canonical.py
    writes every float exactly); repr for what has no canonical text (functions, enums)."""
    try:
        return canonical_text(value)
    except TypeError:
        return repr(value)


def _source_with(population: SourcePopulation, given: Mapping[str, Any]) -> SourcePopulation:
    """A source population with its rate (or probability) replaced, of the shape it had (the
    program reads a scalar, an (n,) or a (T, n) table with the strides it was compiled for)."""
    source = population.source
    field_name = "p" if isinstance(source, Bernoulli) else "rate"
    if not isinstance(source, (Poisson, PoissonInput, Bernoulli)) or set(given) != {field_name}:
        takes = f"{{{field_name!r}: value}}" if isinstance(source, (Poisson, PoissonInput,
                                                                      Bernoulli)) else "nothing"
        raise InputError(f"params[{population.name!r}]: the source "
                         f"({type(source).__name__}) takes {takes}; got {sorted(given)}")
    value, old = given[field_name], getattr(source, field_name)
    if not isinstance(old, str) and np.ndim(old) > 0 and not isinstance(value, str):
        try:
            value = np.broadcast_to(np.asarray(value, float), np.shape(old))
        except ValueError:
            raise InputError(f"params[{population.name!r}][{field_name!r}]: a value of shape "
                             f"{np.shape(value)} for a source given shape "
                             f"{np.shape(old)}") from None
    elif np.ndim(value) > 0:
        raise InputError(f"params[{population.name!r}][{field_name!r}]: the source was given "
                         "one value for every neuron, so give one number (its program reads "
                         "a scalar)")
    return dataclasses.replace(population, source=dataclasses.replace(source,
                                                                       **{field_name: value}))


def _source_plan(population: SourcePopulation, neuron0: int) -> PopulationPlan:
    source = population.source
    if isinstance(source, SpikeTrain):
        return PopulationPlan(population.name, population.n, source="train", neuron0=neuron0)
    if isinstance(source, PlayedBack):
        strides = (source.rows * source.n, source.n if source.rows > 1 else 0)
        return PopulationPlan(population.name, population.n, source=source.kind,
                              raster_strides=strides, neuron0=neuron0)
    table: Any = source.p if isinstance(source, Bernoulli) else source.rate
    ndim = 0 if isinstance(table, str) else np.ndim(table)
    strides = {0: (0, 0), 1: (0, 1), 2: (population.n, 1)}[ndim]
    kind = "counts" if isinstance(source, PoissonInput) else "random"
    return PopulationPlan(population.name, population.n, source=kind,
                          probability_strides=strides, neuron0=neuron0)


def _source_layout(population: SourcePopulation, n_steps: int, simulators: dict,
                   network: Any) -> _Layout:
    source = population.source
    if isinstance(source, SpikeTrain):
        start, played = source.events(n_steps)
        return _Layout({"train_start": start, "train_source": played}, {}, 1, (), {})
    if isinstance(source, PlayedBack):  # read at the strides of its shape
        table = np.ascontiguousarray(source.table)
        if table.shape[0] < n_steps:
            raise InputError(f"source {population.name!r}: its {source.role} cover "
                             f"{table.shape[0]} steps, the run {n_steps}")
        return _Layout({source.role: table}, {}, source.rows,
                       (source.rows,) if table.ndim == 3 else (), {})
    dt, unit = _source_time(simulators, network, population.name)
    table = source.probabilities(n_steps, dt, unit)
    if table.ndim == 2 and table.shape[0] < n_steps:
        raise InputError(f"source {population.name!r}: its table has {table.shape[0]} steps, "
                         f"the run {n_steps}")
    return _Layout({"probability": np.ascontiguousarray(table, np.float64).reshape(-1),
                    "seed": np.array([prepare.seed(source.seed, f"source {population.name!r}: seed")],
                                     np.uint64)},
                   {}, 1, (), {})


def _source_time(simulators: dict, network: Any, name: str) -> tuple[float | None, str]:
    """The dt and time unit a source's rates are read in: those of the populations it drives."""
    targets = [p.post for p in network.projections if p.pre == name]
    for target in targets + list(simulators):
        sim = simulators[target]
        return sim.dt, sim.model.time_unit
    return None, ""


def _given_rows(populations: Mapping[str, Any]) -> int:
    """The most batch rows a population's initial states or parameters give, from their shapes
    alone (nothing is converted before the memory check): a (rows, n) array gives rows."""
    rows = [np.shape(value)[0] for population in populations.values()
            if isinstance(population, Population)
            for value in (*population.initial.values(), *population.params.values())
            if not isinstance(value, (str, int, float)) and np.ndim(value) > 1]
    return max(rows, default=1)


def _one_value(values: np.ndarray) -> bool:
    """Whether a per-neuron parameter holds one value, bit for bit (so -0.0 is not 0.0 and NaNs
    differ): the program then reads it once, as a parameter given as a number (NIR graphs give
    every parameter per neuron, the same in every neuron of a layer)."""
    bits = values.view(f"u{values.dtype.itemsize}")
    return bool(np.all(bits == bits[0]))


def _common_rows(layouts: dict) -> int:
    rows = {layout.rows for layout in layouts.values() if layout.rows != 1}
    if len(rows) > 1:
        raise InputError(f"the populations' inputs and initial states give different batch "
                         f"sizes: {sorted(rows)}")
    return rows.pop() if rows else 1


def _widen(layout: _Layout, rows: int) -> None:
    """States of a population without batch rows of its own, copied to every row."""
    if layout.rows == rows:
        return
    for role, array in layout.buffers.items():
        if role.startswith("state_"):
            layout.buffers[role] = aligned.copy(np.broadcast_to(array, (rows, array.shape[-1])))


def _plastic_layout(projection: Projection, n_post: int, rows: int,
                    dtype: Any) -> dict[str, Any]:
    """A plastic projection's arrays for one run, as a single population's run lays them out
    (plasticity.arrays), with its synapses' CSR rows and delays."""
    assert projection.synapses is not None and projection.binding is not None
    sparse = projection.synapses.sparse
    laid = plasticity.arrays(projection.synapses, projection.binding, n_post, rows, dtype,
                  projection.delay + 1)
    starts, _, _, delays = sparse.csr(dtype)
    laid.update(rows=np.ascontiguousarray(starts, np.int64),
                delay=np.ascontiguousarray(delays, np.int64))
    return laid


def _plastic_buffers(plastic: dict[int, dict[str, Any]]) -> dict[str, np.ndarray]:
    """The program's buffers of the plastic projections, by name."""
    roles = {"rows": "rows", "post": "post", "delay": "delay", "cols": "cols", "index": "index",
             "states": "states", "history": "history", "params": "params",
             "record": "record", "trace": "recorded_states"}
    out = {f"lg_J{j}_{role}": laid[key] for j, laid in plastic.items()
           for key, role in roles.items() if laid[key] is not None}
    out.update({f"lg_J{j}_n_record": np.array([laid["record"].size], np.int64)
                for j, laid in plastic.items()})
    return out


def _projection_arrays(projection: Projection, dtype: Any,
                       gather_into: int = 0) -> dict[str, np.ndarray]:
    """A projection's weights as its delivery reads them (dense: a presynaptic neuron's row);
    a sparse one's index by target too where the program gathers into `gather_into` neurons."""
    if projection.kind == "dense":
        return {"weights": aligned.copy(projection.weights.T, dtype)}
    if projection.kind == "one_to_one":
        return {"weights": aligned.aligned(projection.weights, dtype)}
    assert projection.runs is not None  # (a convolution's: its tables)
    by_target = incoming(projection.runs, gather_into) if gather_into and (
        projection.kind == "sparse") else {}
    return {"weights": aligned.aligned(projection.weights, dtype),
            **{role: aligned.aligned(table, dtype) if table.dtype.kind == "f" else table
               for role, table in projection.runs.items()}, **by_target}


def _chunk_length(n_steps: int, cells: int, spikes: str) -> int:
    if spikes != "events":
        return max(n_steps, 1)
    return max(1, min(max(n_steps, 1), CHUNK_CELLS // max(cells, 1)))


def _chunked(name: str, array: np.ndarray, done: int, spikes: str) -> np.ndarray:
    """A per-step buffer from this chunk's first step on (traces, a whole-run raster)."""
    per_step = "_trace_" in name  # (a run that keeps a raster is one call)
    return array[done:] if per_step else array


def _chunk_events(arrays: dict, plan: NetworkPlan,
                  rows: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(steps, flat neurons) of each population's spikes in a chunk, sorted by step (each batch
    row writes its own part of the event buffers), and the event buffers emptied for the next."""
    out = []
    for k, population in enumerate(plan.populations):
        if population.step_map is None:  # a source's events are not kept
            out.append((np.zeros(0, np.int64), np.zeros(0, np.int64)))
            continue
        count = arrays[f"lg_P{k}_event_count"]  # [0] each row's room, [1 + row] its events
        room = int(count[0])
        parts = [slice(b * room, b * room + int(count[1 + b])) for b in range(rows)]
        steps = np.concatenate([arrays[f"lg_P{k}_event_steps"][part] for part in parts])
        neurons = np.concatenate([arrays[f"lg_P{k}_event_neurons"][part] for part in parts])
        count[1:] = 0
        if rows > 1:
            order = np.argsort(steps, kind="stable")
            steps, neurons = steps[order], neurons[order]
        out.append((steps, neurons))
    return out


def _joined(events: list, k: int) -> tuple[np.ndarray, np.ndarray]:
    parts = [chunk[k] for chunk in events]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
