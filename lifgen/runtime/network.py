"""Networks: populations of different models, spike sources and the projections between them,
compiled as one program (codegen/network.py lowers it; the target prints and builds it).

`Network` holds the description (it pickles, so sweeps and Dask take it as they take a
Simulator); `Network.compile` returns a `NetworkSimulator` (network_run.py), whose `run` lays out
every population's arrays with the checks a single population's run makes, calls the program a
chunk of steps at a time and returns a `NetworkResult`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..codegen.compiler import dt_in_model_unit
from ..errors import InputError, ModelError
from ..frontend.library import load_model
from ..ir.names import check_name
from ..targets import get_target
from . import prepare
from .network_run import NetworkSimulator
from .plasticity import Synapses
from .populations import (COMPILE_OPTIONS, Population, Projection, SourcePopulation,
                          SpikeRaster, Values, plastic_projection, projection, raster_source,
                          update_order, zero_delay)
from .simulate import MAX_COUNT
from .sources import Bernoulli, Poisson, PoissonInput, SpikeTrain


class Network:
    """Populations and the projections between them; `compile` builds them into one program."""

    def __init__(self, dt: Any = None):
        self.dt = dt
        self.populations: dict[str, Population | SourcePopulation] = {}
        self.projections: list[Projection] = []

    def add(self, name: str, model: Any, n: int, params: dict | None = None,
            initial: dict | None = None, **options: Any) -> Population:
        """A population of `n` neurons of `model` (a name, a path or a Model); `params` and
        `initial` as `run` takes them; `options` as `compile` takes them (method=, reset=, ...)."""
        self._check_new(name)
        unknown = set(options) - COMPILE_OPTIONS
        if unknown:
            raise InputError(f"population {name!r}: unknown option(s) {sorted(unknown)}; "
                             f"known: {sorted(COMPILE_OPTIONS)}")
        population = Population(name, load_model(model), prepare.count(n, "n", 1, MAX_COUNT),
                                 _named_values(params, name, "params"),
                                 _named_values(initial, name, "initial"), options)
        self.populations[name] = population
        return population

    def add_source(self, name: str, source: Any) -> SourcePopulation:
        """A population of spike sources: lifgen.Poisson, PoissonInput (a Poisson number of
        events per step), Bernoulli, SpikeTrain, or an array of
        spikes played back (True or 1 where a source spikes): (T, n) for every batch row, or
        (T, batch, n), one raster per row; or lifgen.Values(array), real values whose nonzero
        entries are events carrying value x weight (NIR's input currents)."""
        self._check_new(name)
        if isinstance(source, (np.ndarray, list)):
            source = raster_source(np.asarray(source), name)
        if not isinstance(source, (Poisson, PoissonInput, Bernoulli, SpikeTrain, SpikeRaster,
                                   Values)):
            raise InputError(f"source {name!r}: give lifgen.Poisson, PoissonInput, Bernoulli, "
                             "SpikeTrain, Values or a "
                             f"(T, n) or (T, batch, n) array of spikes, not "
                             f"{type(source).__name__}")
        population = SourcePopulation(name, source, prepare.count(source.n, "n", 1, MAX_COUNT))
        self.populations[name] = population
        return population

    def connect(self, pre: Any, post: Any, synapse: str, weights: Any,
                delay: Any = 1) -> Projection:
        """A projection from `pre` into synapse type `synapse` of `post` (populations or their
        names). `weights`: (n_post, n_pre) dense, (n,) or "one_to_one" with a scalar, a
        lifgen.Sparse with its own delays, a lifgen.Convolution (its kernel and geometry,
        delivered without a per-synapse index), or a lifgen.Synapses (a Sparse whose synapses follow
        a synapse model such as "stdp"; its delays >= 1 step), whose final states come back as
        `result.synapses[(pre, post, synapse)]`. `delay` in steps or as a time ("1.5 ms")."""
        pre_population, post_population = self._population(pre), self._population(post)
        if not isinstance(post_population, Population):
            raise InputError(f"connect: {post_population.name!r} is a source; projections end "
                             "at neuron populations")
        names = post_population.model.synapse_names
        if not isinstance(synapse, str) or synapse not in names:
            raise InputError(f"connect: model {post_population.model.name} of population "
                             f"{post_population.name!r} has no synapse type {synapse!r}; it has "
                             f"{', '.join(names) or 'none'}")
        if isinstance(weights, Synapses):
            made = plastic_projection(pre_population, post_population, synapse, weights, delay)
        else:
            made = projection(pre_population, post_population, synapse, weights, delay,
                              self._dt_for_delay(post_population))
        self.projections.append(made)
        return made

    def compile(self, target: str = "c", threads: int = 1, dtype: str = "float64",
                sparse_gather: str = "incoming") -> NetworkSimulator:
        """One program for the whole network, built (or taken from the kernel cache). With
        `threads` > 1 the C target runs batch rows on that many threads at once (OpenMP), each
        row's numbers those of one thread; a single row runs on one. `sparse_gather` (the cuda
        target's): how each target finds its events through a sparse projection, by reading
        all its incoming synapses ("incoming") or by looking up the step's spiking presynaptic
        neurons among them ("spikes": faster when few spike per step); the numbers are the
        same."""
        if not any(isinstance(p, Population) for p in self.populations.values()):
            raise InputError("the network has no neuron population: add one with net.add")
        threads = prepare.count(threads, "threads", 1, 1024)
        try:
            backend = get_target(target)
        except ValueError as error:
            raise InputError(str(error)) from None
        if not hasattr(backend, "render_network"):
            raise InputError(f"target {target!r} does not compile networks yet; use target='c'")
        if threads > 1 and backend.name == "cuda":
            raise InputError("threads is for the C target: the cuda target runs every batch row "
                             "and neuron at once; give threads=1")
        return NetworkSimulator(self.snapshot(), backend, dtype, threads, sparse_gather)

    def snapshot(self) -> "Network":
        """A copy of the description as it is now (the populations and projections themselves
        are not changed after they are made): a compiled network keeps running what was
        compiled, whatever is added to this one later."""
        return _rebuilt_network(self.dt, dict(self.populations), list(self.projections))

    def update_order(self) -> list[str]:
        """The populations in the order one step updates them: a topological order of the
        zero-delay projections (insertion order otherwise). A zero-delay cycle is an error."""
        return update_order(list(self.populations), [(p.pre, p.post) for p in self.projections
                                                     if zero_delay(p)])

    def _check_new(self, name: str) -> None:
        try:
            check_name(name)
        except ModelError as error:
            raise InputError(f"population name: {error}") from None
        if name in self.populations:
            raise InputError(f"the network already has a population {name!r}")

    def _population(self, given: Any) -> Population | SourcePopulation:
        name = given.name if isinstance(given, (Population, SourcePopulation)) else given
        if not isinstance(name, str) or name not in self.populations:
            raise InputError(f"connect: no population {name!r}; the network has "
                             f"{', '.join(self.populations) or 'none'}")
        return self.populations[name]

    def _dt_for_delay(self, post: Population) -> float | None:
        """The network's dt in the post model's time unit (delays given as times need it; a
        discrete map's delays are whole steps)."""
        if post.model.is_discrete:
            return None
        if self.dt is not None:
            return dt_in_model_unit(post.model, self.dt)
        return post.model.dt

    def __reduce__(self) -> tuple:
        """A network pickles as its description (models by content, arrays, options)."""
        return (_rebuilt_network, (self.dt, self.populations, self.projections))

    def __repr__(self) -> str:
        return (f"<Network: {len(self.populations)} populations "
                f"({', '.join(self.populations)}), {len(self.projections)} projections>")




def _rebuilt_network(dt: Any, populations: dict, projections: list) -> Network:
    network = Network(dt)
    network.populations.update(populations)
    network.projections.extend(projections)
    return network


def _named_values(values: Any, population: str, what: str) -> dict:
    """A population's `params` or `initial`: a dict of name -> value (or None for none)."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise InputError(f"population {population!r}: {what} must be a dict of name -> value, "
                         f"got {type(values).__name__}")
    return dict(values)
