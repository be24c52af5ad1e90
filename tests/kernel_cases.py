"""Kernels to render for tests that look at every schedule: the library's models and the test
models, each with the options and variants that switch a schedule's parts on (float32,
inhibition, graded spikes, quantisation, precise spikes, noise, exact propagators, streamed,
per-step and held inputs, shared parameters, connections, plastic synapses from connections or
drives, flushed denormals, threads, dt at run time). Rendering needs no compiler."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import lifgen
from lifgen.codegen.options import Schedule, Semantics, Variant
from lifgen.codegen.plasticity import Plastic
from lifgen.frontend.library import list_models, load_model
from lifgen.frontend.modelfile import model_from_document
from lifgen.frontend.synapse_model import load_synapse_model
from lifgen.numerics.discretize import StepMap, discretize

TEST_MODELS = Path(__file__).parent / "models"
DOCUMENTS = {  # models no file holds: noise (OU) and an exact propagator computed numerically
    "ou": {"model": {"name": "ou"}, "parameters": {"tau": 10.0, "sigma": 0.5, "theta": 0.3},
           "states": {"V": 0.0}, "equations": {"laws": ["dV/dt = -V/tau + sigma*xi"]},
           "spike": {"condition": "V > theta"}, "reset": {"mechanism": "subtract"},
           "simulation": {"dt": 0.1}},
    "resonator": {"model": {"name": "resonator"},
                  "parameters": {"tau": 10.0, "tau_w": 50.0, "k": 20.0, "theta": 1.0},
                  "states": {"V": 1.0, "w": 0.0}, "inputs": {"I": {}},
                  "equations": {"laws": ["dV/dt = (I - V - k*w)/tau", "dw/dt = (V - w)/tau_w"]},
                  "spike": {"condition": "V > theta"}, "reset": {"mechanism": "zero"},
                  "simulation": {"dt": 0.1, "method": "exact"}},
}
MODELS = (list_models() + sorted(p.stem for p in TEST_MODELS.glob("*.toml")) + sorted(DOCUMENTS))
# Options on top of the defaults, per model (every model also gets {} and float32).
OPTIONS: dict[str, list[dict]] = {
    "leaky": [{"inhibition": True}, {"reset_delay": False}, {"graded_spikes": 0.5},
              {"state_quant": (0.0, 0.5, 1.0, 1.5, 2.0), "reset": "none"},
              {"reset": "zero", "reset_timing": "same_step"}],
    "rleaky": [{"inhibition": True}, {"inhibition": True, "dtype": "float32"},
               {"graded_spikes": 0.5, "dtype": "float32"}],
    "rsynaptic": [{"inhibition": True, "reset_delay": False}],
    "lapicque": [{"method": "exact", "precise": True, "reset_timing": "same_step"},
                 {"method": "euler", "inhibition": True}],
    "resonator": [{"precise": True, "reset_timing": "same_step"}],
    "lif_cuba": [{"method": "exact"}, {"method": "euler", "dtype": "float32"}],
    "synaptic": [{"inhibition": True}, {"reset_delay": False}],
    "hodgkin_huxley": [{"method": "rk4"}, {"method": "exponential_euler"}],
    "adaptive_lif": [{"method": "exact"}, {"method": "rk4"}],
    "ou": [{"inhibition": True}],
    "alpha": [{"state_quant": (0.0, 1.0)}],
}
SCHEDULES = {"default": Schedule(), "flush": Schedule(flush_denormals=True, threads=2),
             "runtime_dt": Schedule(runtime_dt=True)}
SYNAPSE_MODELS = ("stdp", "stdp_multiplicative", "stdp_triplet", "tsodyks_markram")
PLASTIC_MODELS = ("lif_cuba", "song2000", "adaptive_lif", "synaptic")  # with plastic synapses


class Bound(NamedTuple):
    """A synapse model bound to a synapse type: where its spikes come from, and whether every
    synapse shares its parameters (read once, not per synapse)."""

    synapse_type: str
    model: str
    source: str  # "connections" or "drive"
    shared: bool

    def plastic(self) -> Plastic:
        model = load_synapse_model(self.model)
        factor = 0.5 if self.model == "stdp_triplet" else 1.0  # one of another time unit
        return Plastic(self.synapse_type, model, factor, self.source,
                       model.parameter_names if self.shared else ())


@dataclass(frozen=True)
class Case:
    """One kernel: a model, its options, how it is scheduled and which variant."""

    model: str
    options: tuple[tuple[str, object], ...]
    schedule: str
    variant: str  # a key of VARIANTS
    plastic: tuple[Bound, ...] = ()

    @property
    def id(self) -> str:
        options = "-".join(f"{k}={v}" for k, v in self.options) or "defaults"
        plastic = "-".join(f"{b.synapse_type}:{b.model}:{b.source}{':shared' * b.shared}"
                           for b in self.plastic)
        return "-".join(filter(None, [self.model, options, self.schedule, self.variant, plastic]))


@functools.lru_cache(maxsize=None)
def model_of(name: str) -> lifgen.Model:
    if name in DOCUMENTS:
        return model_from_document(DOCUMENTS[name], f"{name}.toml")
    path = TEST_MODELS / f"{name}.toml"
    return load_model(str(path) if path.exists() else name)


def semantics_of(case: Case) -> Semantics:
    return Semantics(**dict(case.options))


@functools.lru_cache(maxsize=None)
def step_map_of(name: str, options: tuple[tuple[str, object], ...]) -> StepMap:
    s = Semantics(**dict(options))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return discretize(model_of(name), method=s.method, dt=s.dt, reset=s.reset,
                          reset_timing=s.reset_timing, reset_delay=s.reset_delay,
                          precise=s.precise)


# variant -> (the layout of input i, which parameters every neuron shares, connected)
VARIANTS = {
    "shared": (lambda i: "held", lambda names: names, False),  # compile's first kernel
    "per_neuron": (lambda i: "streamed", lambda names: (), False),
    "mixed": (lambda i: ("time", "held", "streamed")[i % 3], lambda names: names[::2], False),
    "connected": (lambda i: "held", lambda names: names[1::2], True),
}


def variant_of(case: Case) -> Variant:
    model = model_of(case.model)
    layout, shared, connected = VARIANTS[case.variant]
    return Variant.of({u: layout(i) for i, u in enumerate(model.input_names)},
                      shared(model.parameter_names), connected,
                      [bound.plastic() for bound in case.plastic])


def _plastic_sets(name: str) -> list[tuple[Bound, ...]]:
    """Plastic synapse sets for a model whose synapse types add to a state: each synapse model
    on the first such type, from connections and from a drive; two types at once."""
    targets = [y.name for y in model_of(name).synapses if y.target]
    if not targets:
        return []
    first = targets[0]
    sets = [(Bound(first, m, "connections", False),) for m in SYNAPSE_MODELS]
    sets += [(Bound(first, "stdp", "drive", True),),
             (Bound(first, "tsodyks_markram", "drive", False),)]
    if len(targets) > 1:
        sets.append((Bound(first, "stdp", "connections", True),
                     Bound(targets[1], "stdp_triplet", "drive", False)))
    return sets


def cases() -> list[Case]:
    """Every kernel the schedule tests render (a few hundred; no compiler runs)."""
    found = []
    for name in MODELS:
        model = model_of(name)
        for options in [{}, {"dtype": "float32"}, *OPTIONS.get(name, [])]:
            key = tuple(sorted(options.items()))
            for variant in ("shared", "per_neuron", "mixed"):
                found.append(Case(name, key, "default", variant))
            if model.synapses and not options.get("precise"):
                found.append(Case(name, key, "default", "connected"))
            if not options:
                found += [Case(name, key, schedule, "per_neuron")
                          for schedule in ("flush", "runtime_dt")]
        plastic = _plastic_sets(name) if name in PLASTIC_MODELS else []
        for bound in plastic:
            found += [Case(name, key, "default", "connected", bound)
                      for key in ((), (("dtype", "float32"),))]
        if plastic:
            found += [Case(name, (), "flush", "connected", plastic[0]),
                      Case(name, (), "runtime_dt", "connected", plastic[-1])]
    return found
