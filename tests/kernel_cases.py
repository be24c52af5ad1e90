"""Kernels to render for tests that look at every schedule of a single population's kernel: the
library's models and the test models, each with the options and variants that switch a
schedule's parts on (float32, quantisation, precise spikes, noise, exact propagators, streamed,
per-step and held inputs, shared parameters, synapse inputs with and without a bias, flushed
denormals, threads, dt at run time). Rendering needs no compiler. (Coupled runs are network
programs, which tests/test_network*.py render.)"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

import lifgen
from lifgen.codegen.options import Schedule, Semantics, Variant
from lifgen.frontend.library import list_models, load_model
from lifgen.frontend.modelfile import model_from_document
from lifgen.numerics.discretize import StepMap, discretize

# A phase that winds through many turns and a voltage that reads its sine and cosine: lifgen's
# sin, cos and pow across their range (its drive I sweeps the frequency)
PHASE = {"model": {"name": "phase"}, "parameters": {"tau": 10.0, "omega": 40.0, "theta": 0.5},
         "states": {"V": 0.0, "phi": 0.0}, "inputs": {"I": {}},
         "equations": {"laws": ["dV/dt = (I*(1 + sin(phi)) + cos(3*phi) + 0.05*abs(V)**1.5 - V)/tau",
                                "dphi/dt = omega*(1 + V*V) + 100*I"]},
         "spike": {"condition": "V > theta"}, "reset": {"mechanism": "subtract"},
         "simulation": {"dt": 0.1}}
TEST_MODELS = Path(__file__).parent / "models"
DOCUMENTS = {  # models no file holds: noise (OU), an exact propagator computed numerically, max
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
    "floored": {"model": {"name": "floored"}, "parameters": {"beta": 0.9, "floor": -0.5},
                "states": {"V": 0.0}, "inputs": {"I": {}},
                "equations": {"update": {"V": "max(beta*V + I, floor)"}},  # max in the step
                "spike": {"condition": "V > 1"}, "reset": {"mechanism": "subtract"}},
}
MODELS = (list_models() + sorted(p.stem for p in TEST_MODELS.glob("*.toml")) + sorted(DOCUMENTS))
# Options on top of the defaults, per model (every model also gets {} and float32).
OPTIONS: dict[str, list[dict]] = {
    "leaky": [{"reset_delay": False}, {"state_quant": (0.0, 0.5, 1.0, 1.5, 2.0), "reset": "none"},
              {"reset": "zero", "reset_timing": "same_step"}],
    "rleaky": [{"reset_delay": False, "dtype": "float32"}],
    "rsynaptic": [{"reset_delay": False}],
    "lapicque": [{"method": "exact", "precise": True, "reset_timing": "same_step"},
                 {"method": "euler"}],
    "resonator": [{"precise": True, "reset_timing": "same_step"}],
    "lif_cuba": [{"method": "exact"}, {"method": "euler", "dtype": "float32"}],
    "synaptic": [{"reset_delay": False}],
    "hodgkin_huxley": [{"method": "rk4"}, {"method": "exponential_euler"}],
    "adaptive_lif": [{"method": "exact"}, {"method": "rk4"}],
    "alpha": [{"state_quant": (0.0, 1.0)}],
}
SCHEDULES = {"default": Schedule(), "flush": Schedule(flush_denormals=True, threads=2),
             "runtime_dt": Schedule(runtime_dt=True)}


@dataclass(frozen=True)
class Case:
    """One kernel: a model, its options, how it is scheduled and which variant."""

    model: str
    options: tuple[tuple[str, object], ...]
    schedule: str
    variant: str  # a key of VARIANTS

    @property
    def id(self) -> str:
        options = "-".join(f"{k}={v}" for k, v in self.options) or "defaults"
        return "-".join([self.model, options, self.schedule, self.variant])


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


# variant -> (the layout of input i, which parameters every neuron shares)
VARIANTS = {
    "shared": (lambda i: "held", lambda names: names),  # compile's first kernel
    "per_neuron": (lambda i: "streamed", lambda names: ()),
    "mixed": (lambda i: ("time", "held", "streamed")[i % 3], lambda names: names[::2]),
}


def variant_of(case: Case) -> Variant:
    model = model_of(case.model)
    layout, shared = VARIANTS[case.variant]
    return Variant.of({u: layout(i) for i, u in enumerate(model.input_names)},
                      shared(model.parameter_names))


def cases() -> list[Case]:
    """Every kernel the schedule tests render (a few hundred; no compiler runs)."""
    found = []
    for name in MODELS:
        for options in [{}, {"dtype": "float32"}, *OPTIONS.get(name, [])]:
            key = tuple(sorted(options.items()))
            for variant in ("shared", "per_neuron", "mixed"):
                found.append(Case(name, key, "default", variant))
            if not options:
                found += [Case(name, key, schedule, "per_neuron")
                          for schedule in ("flush", "runtime_dt")]
    return found
