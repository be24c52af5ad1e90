"""NIR's neuron nodes as lifgen populations: for each node type, a converter from the node (its
per-neuron parameter arrays) to the model file in models/nir/ written from its equations and the
population's parameters and options, under a convention ("nir": NIR's continuous time at dt, any
method; "snntorch": snnTorch 1.0's import_from_nir, its discrete maps and rounding; "sinabs":
Sinabs 3.1's from_nir, its IF and LIF as IAFSqueeze and LIFSqueeze with their default
MultiSpike, floor(v/threshold) spikes per step, and LI as ExpLeakSqueeze, tau in steps;
"sinabs_single": the same with SingleSpike, one spike per step)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import ConventionWarning, InputError
from ..frontend.library import resource_dir

CONVENTIONS = ("nir", "snntorch", "sinabs", "sinabs_single", "norse")
# a step is a step: the network has no dt, and no method applies
DISCRETE_CONVENTIONS = ("snntorch", "sinabs", "sinabs_single", "norse")
SINABS_CONVENTIONS = ("sinabs", "sinabs_single")
SNNTORCH_DT = 1e-4  # snnTorch's import_from_nir fixes dt at 0.1 ms
NORSE_DT = 1e-3  # Norse's from_nir's default dt


@dataclass
class NeuronSpec:
    """A population made from a neuron node: its model file, size, per-neuron parameters and
    compile options, the synapse type its inputs arrive at, the state a non-spiking node
    emits (None: it emits spikes) and initial states other than the model's."""

    model: Path
    n: int
    params: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    synapse: str = "I"
    emits: str | None = None
    initial: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Importing:
    """What a tool's node converter needs besides the node: the convention, the time step in
    seconds and whether the node is the neuron of an snnTorch RLeaky/RSynaptic pattern."""

    convention: str
    dt: float
    recurrent: bool = False


def model_path(name: str) -> Path:
    """A NIR model file of the library (models/nir/NAME.toml)."""
    return resource_dir("models") / "nir" / f"{name}.toml"


def real_values(value: Any, what: str) -> np.ndarray:
    """A NIR array as float64, refused (InputError) unless it holds finite real numbers."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise InputError(f"{what} must hold real numbers; got {array.dtype} values")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise InputError(f"{what} holds NaN or infinite values")
    return array


def _array(node: Any, attribute: str, n: int | None = None, default: float | None = None,
           unit: str = "seconds") -> np.ndarray:
    value = getattr(node, attribute, None)
    if value is None:
        if default is None:
            raise InputError(f"NIR node {type(node).__name__} has no {attribute}")
        value = default
    array = real_values(value, f"its {attribute}").reshape(-1)
    if attribute.startswith("tau") and np.any(array <= 0):
        raise InputError(f"its {attribute} must be positive (a time constant, in {unit}); "
                         f"got {float(array[array <= 0][0])!r}")
    if n is not None and array.size == 1 and n > 1:
        array = np.full(n, array[0])
    return array


def _size(node: Any, *attributes: str) -> int:
    return max(np.asarray(getattr(node, a)).size for a in attributes if getattr(node, a, None) is not None)


def _params(node: Any, names: tuple[str, ...], defaults: dict[str, float] | None = None) -> tuple[int, dict[str, np.ndarray]]:
    defaults = defaults or {}
    n = _size(node, *names)
    return n, {name: _array(node, name, n, defaults.get(name)) for name in names}


# -- convention "nir": the node's own equations --------------------------------------------------

def _nir_spec(model: str, names: tuple[str, ...], synapse: str = "I", emits: str | None = None,
              defaults: dict[str, float] | None = None) -> Callable[..., NeuronSpec]:
    def convert(node: Any, method: str | None) -> NeuronSpec:
        n, params = _params(node, names, defaults)
        options = {"method": method} if method is not None and model != "threshold" else {}
        return NeuronSpec(model_path(model), n, params, options, synapse, emits)
    return convert


NIR_NODES: dict[str, Callable[..., NeuronSpec]] = {
    "LIF": _nir_spec("lif", ("tau", "r", "v_leak", "v_threshold", "v_reset"),
                     defaults={"v_reset": 0.0}),
    "CubaLIF": _nir_spec("cubalif", ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold",
                                     "v_reset", "w_in"), "S",
                         defaults={"v_reset": 0.0, "w_in": 1.0}),
    "LI": _nir_spec("li", ("tau", "r", "v_leak"), emits="v"),
    "CubaLI": _nir_spec("cubali", ("tau_syn", "tau_mem", "r", "v_leak", "w_in"), "S", emits="v",
                        defaults={"w_in": 1.0}),
    "IF": _nir_spec("if", ("r", "v_threshold", "v_reset"), defaults={"v_reset": 0.0}),
    "I": _nir_spec("i", ("r",), emits="v"),
    "Threshold": _nir_spec("threshold", ("threshold",)),
}


def nir_parameters(spec_type: str, params: dict[str, Any]) -> dict[str, np.ndarray]:
    """The NIR node's parameters back from a population's (convention "nir": the same names)."""
    return {name: np.asarray(value, np.float32) for name, value in params.items() if name != "b"}


# -- convention "snntorch": snnTorch 1.0's import_from_nir, number for number -------------------

def _f32(node: Any, attribute: str) -> np.ndarray:
    return _array(node, attribute).astype(np.float32)


def _one(values: np.ndarray, what: str, key: str) -> float:
    unique = np.unique(values)
    if unique.size != 1:
        raise InputError(f"node {key!r}: snnTorch's import takes one {what} shared by all the "
                         f"node's neurons (convention='snntorch'; snnTorch 1.0's import_from_nir "
                         f"asserts it too); it has {unique.size} different values. "
                         "convention='nir' takes one per neuron, but runs NIR's continuous-time "
                         "equations, not snnTorch's steps: its numbers differ from snnTorch's")
    return float(unique[0])


def _no_leak(node: Any, key: str) -> None:
    if not np.allclose(np.asarray(node.v_leak), 0.0):
        raise InputError(f"node {key!r}: snnTorch's import supports v_leak = 0 only "
                         "(convention='snntorch'); use convention='nir'")


def _snntorch_lif(node: Any, key: str, how: Importing) -> NeuronSpec:
    """snn.Leaky(beta=1 - dt/tau, threshold=v_threshold / (r dt/tau) unless that scale is
    close to 1, reset_mechanism="zero", reset_delay=False), as snnTorch computes them in float32;
    the neuron of a 2-cycle with an Affine an snn.RLeaky (its zero reset a step later, of the
    whole new membrane)."""
    _no_leak(node, key)
    _unread(node, key, "v_reset", 0.0, how)
    tau = _f32(node, "tau")
    beta = (1 - (SNNTORCH_DT / tau)).astype(np.float32)
    vthr = _f32(node, "v_threshold")
    w_scale = _f32(node, "r") * SNNTORCH_DT / tau
    if not np.allclose(w_scale, 1.0):
        vthr = vthr / np.unique(w_scale)[0]
    n = max(tau.size, vthr.size)
    params = {"beta": np.broadcast_to(beta.astype(np.float64), (n,)).copy(),
              "threshold": _one(vthr, "threshold", key)}
    return NeuronSpec(model_path("snntorch_rleaky" if how.recurrent else "snntorch_leaky"), n,
                      params, {"reset": "zero", "reset_delay": how.recurrent}, "I")


def _snntorch_cubalif(node: Any, key: str, how: Importing) -> NeuronSpec:
    """snn.Synaptic(alpha=1 - dt/tau_syn, beta=1 - dt/tau_mem, threshold=v_threshold /
    (w_in dt/tau_syn) unless that scale is close to 1, reset_mechanism="zero",
    reset_delay=False); an RSynaptic (the node in a 2-cycle with an Affine or Linear) ignores
    reset_delay=False in snnTorch 1.0, so its reset comes a step later."""
    _no_leak(node, key)
    _unread(node, key, "v_reset", 0.0, how)
    tau_syn, tau_mem = _f32(node, "tau_syn"), _f32(node, "tau_mem")
    if not np.allclose(_f32(node, "r"), tau_mem / SNNTORCH_DT):
        raise InputError(f"node {key!r}: snnTorch's import needs r = tau_mem/dt "
                         "(convention='snntorch'); use convention='nir'")
    alpha = (1 - (SNNTORCH_DT / tau_syn)).astype(np.float32)
    beta = (1 - (SNNTORCH_DT / tau_mem)).astype(np.float32)
    vthr = _f32(node, "v_threshold")
    w_scale = _f32(node, "w_in") * (SNNTORCH_DT / tau_syn)
    if not np.allclose(w_scale, 1.0):
        vthr = vthr / w_scale
    n = max(tau_syn.size, tau_mem.size, vthr.size)
    params: dict[str, Any] = {
        "alpha": _one(alpha, "alpha", key) if np.unique(alpha).size == 1
        else alpha.astype(np.float64),
        "beta": _one(beta, "beta", key) if np.unique(beta).size == 1
        else beta.astype(np.float64),
        "threshold": float(np.float32(_one(vthr, "threshold", key)))}
    return NeuronSpec(model_path("snntorch_synaptic"), n, params,
                      {"reset": "zero", "reset_delay": how.recurrent}, "I")


def _snntorch_if(node: Any, key: str, how: Importing) -> NeuronSpec:
    """snnTorch 1.0 imports IF as snn.Leaky(beta=0.9, threshold=v_threshold*r), resetting by
    subtraction (its default) right after the spike: reproduced as it is."""
    _unread(node, key, "v_reset", 0.0, how)
    r = _one(_f32(node, "r"), "r", key)
    if r != 1:
        raise InputError(f"node {key!r}: snnTorch's import supports IF with r = 1 only")
    vthr = _one(_f32(node, "v_threshold"), "threshold", key)
    n = _size(node, "r", "v_threshold")
    return NeuronSpec(model_path("snntorch_leaky"), n,
                      {"beta": float(np.float32(0.9)), "threshold": float(np.float32(vthr * r))},
                      {"reset": "subtract", "reset_delay": False}, "I")


SNNTORCH_NODES: dict[str, Callable[[Any, str, Importing], NeuronSpec]] = {
    "LIF": _snntorch_lif, "CubaLIF": _snntorch_cubalif, "IF": _snntorch_if}


# -- convention "sinabs": Sinabs 3.1's from_nir (its LIF and ExpLeak read tau in steps) ----------

def _sinabs_threshold(node: Any, key: str, n: int, layer: str) -> np.ndarray:
    """A Sinabs layer's spike_threshold (the node's v_threshold), refused where 0 or below:
    floor(v / threshold) is then infinite or counts down."""
    vthr = _array(node, "v_threshold", n)
    if not np.all(vthr > 0):
        raise InputError(f"node {key!r}: Sinabs's {layer} spikes floor(v / spike_threshold) "
                         f"times a step, so its v_threshold must be > 0; it has {np.min(vthr):g}")
    return vthr


def _sinabs_zero(node: Any, key: str, attribute: str, value: float, layer: str) -> None:
    """Refuse what Sinabs's import refuses (a ValueError there): v_leak other than 0, an
    ExpLeak's r other than 1."""
    values = _array(node, attribute)
    if not np.all(values == value):
        raise InputError(f"node {key!r}: Sinabs's import of {type(node).__name__} as {layer} "
                         f"requires {attribute} = {value:g} (it raises otherwise); it has "
                         f"{values[values != value][0]:g}. convention='nir' runs NIR's "
                         "continuous-time equations, whose numbers differ from Sinabs's")


def _sinabs_if(node: Any, key: str, how: Importing) -> NeuronSpec:
    """sl.IAFSqueeze(spike_threshold=v_threshold, min_v_mem=-v_threshold): r and v_reset are
    not read, as Sinabs's import does not read them. With MultiSpike (convention "sinabs",
    Sinabs's default) its spikes are counts, which it emits to an Output node as they are."""
    n = _size(node, "r", "v_threshold")
    vthr = _sinabs_threshold(node, key, n, "IAF")
    params = {"threshold": vthr, "v_min": -vthr}
    if how.convention == "sinabs":
        return NeuronSpec(model_path("sinabs_iaf_multi"), n, params, {}, "I", emits="spikes")
    return NeuronSpec(model_path("sinabs_iaf"), n, params, {}, "I")


def _sinabs_lif(node: Any, key: str, how: Importing) -> NeuronSpec:
    """sl.LIFSqueeze(tau_mem=tau, spike_threshold=v_threshold, norm_input=False): tau in
    steps, no floor on v; r and v_reset are not read, as Sinabs's import does not read them."""
    _sinabs_zero(node, key, "v_leak", 0.0, "LIFSqueeze")
    n = _size(node, "tau", "r", "v_threshold")
    params = {"tau": _array(node, "tau", n, unit="steps"),
              "threshold": _sinabs_threshold(node, key, n, "LIF")}
    if how.convention == "sinabs":
        return NeuronSpec(model_path("sinabs_lif_multi"), n, params, {}, "I", emits="spikes")
    return NeuronSpec(model_path("sinabs_lif"), n, params, {}, "I")


def _sinabs_li(node: Any, key: str, how: Importing) -> NeuronSpec:
    """sl.ExpLeakSqueeze(tau_mem=tau, norm_input=False): v <- exp(-1/tau) v + I, tau in steps;
    its output is v."""
    _sinabs_zero(node, key, "v_leak", 0.0, "ExpLeakSqueeze")
    _sinabs_zero(node, key, "r", 1.0, "ExpLeakSqueeze")
    n = _size(node, "tau", "r", "v_leak")
    return NeuronSpec(model_path("sinabs_expleak"), n, {"tau": _array(node, "tau", n,
                                                                      unit="steps")}, {}, "I",
                      emits="v")


SINABS_NODES: dict[str, Callable[[Any, str, Importing], NeuronSpec]] = {
    "IF": _sinabs_if, "LIF": _sinabs_lif, "LI": _sinabs_li}


# -- convention "norse": Norse 1.1.0's from_nir (forward Euler at its dt, reset to 0) -----------

def _norse_dt_over(node: Any, attribute: str, n: int, dt: float) -> np.ndarray:
    """dt * tau_mem_inv as Norse computes it: 1/tau in float32, times dt in float32."""
    tau = _array(node, attribute, n).astype(np.float32)
    return (np.float32(dt) * (np.float32(1) / tau)).astype(np.float64)


def _unread(node: Any, key: str, attribute: str, value: float, how: Importing) -> None:
    """Warn where a tool's import does not read a field that differs from what it assumes
    (Norse's r = 1, which it warns for where not np.allclose, as tested here; v_reset = 0,
    which Norse and snnTorch do not mention): the convention follows the tool."""
    values = getattr(node, attribute, None)
    if values is None:
        return
    values = np.asarray(values, np.float64).reshape(-1)
    if not np.allclose(values, value):
        other = values[~np.isclose(values, value)]
        warnings.warn(f"node {key!r}: {TOOLS[how.convention][0]} does not read "
                      f"{type(node).__name__}'s {attribute} (it assumes {value:g}; the node has "
                      f"{other[0]:g}" + (f" and {other.size - 1} more values" if other.size > 1
                                         else "")
                      + f"); convention={how.convention!r} follows it, convention='nir' reads "
                      "it", ConventionWarning, stacklevel=5)


def _norse_lif(node: Any, key: str, how: Importing) -> NeuronSpec:
    """LIFBoxCell(tau_mem_inv=1/tau, v_th=v_threshold, v_leak=v_leak), Euler at dt, v starting
    at v_leak; r and v_reset are not read (reset to 0)."""
    _unread(node, key, "r", 1.0, how)
    _unread(node, key, "v_reset", 0.0, how)
    n = _size(node, "tau", "r", "v_leak", "v_threshold")
    v_leak = _array(node, "v_leak", n)
    return NeuronSpec(model_path("norse_lif_box"), n, {
        "dt_over_tau": _norse_dt_over(node, "tau", n, how.dt),
        "v_leak": v_leak, "v_threshold": _array(node, "v_threshold", n)},
        initial={"v": v_leak})


def _norse_cubalif(node: Any, key: str, how: Importing) -> NeuronSpec:
    """w_in, an LIBoxCell(1/tau_syn, v_leak), r, an LIFBoxCell(1/tau_mem, v_threshold,
    v_leak), Euler at dt, both starting at v_leak; v_reset is not read (reset to 0)."""
    _unread(node, key, "v_reset", 0.0, how)
    n = _size(node, "tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "w_in")
    v_leak = _array(node, "v_leak", n)
    return NeuronSpec(model_path("norse_cubalif"), n, {
        "dt_over_tau_syn": _norse_dt_over(node, "tau_syn", n, how.dt),
        "dt_over_tau_mem": _norse_dt_over(node, "tau_mem", n, how.dt),
        "r": _array(node, "r", n), "w_in": _array(node, "w_in", n, 1.0),
        "v_leak": v_leak, "v_threshold": _array(node, "v_threshold", n)},
        synapse="S", initial={"I_syn": v_leak, "v": v_leak})


def _norse_if(node: Any, key: str, how: Importing) -> NeuronSpec:
    """IAFCell(v_th=v_threshold): v += I, no dt; r and v_reset are not read (reset to 0)."""
    _unread(node, key, "r", 1.0, how)
    _unread(node, key, "v_reset", 0.0, how)
    n = _size(node, "r", "v_threshold")
    return NeuronSpec(model_path("norse_iaf"), n, {"v_threshold": _array(node, "v_threshold", n)})


NORSE_NODES: dict[str, Callable[[Any, str, Importing], NeuronSpec]] = {
    "LIF": _norse_lif, "CubaLIF": _norse_cubalif, "IF": _norse_if}

# convention -> the import it follows and its node converters
TOOLS: dict[str, tuple[str, dict[str, Callable[[Any, str, Importing], NeuronSpec]]]] = {
    "snntorch": ("snnTorch's import_from_nir", SNNTORCH_NODES),
    "sinabs": ("Sinabs's from_nir", SINABS_NODES),
    "sinabs_single": ("Sinabs's from_nir", SINABS_NODES),
    "norse": ("Norse's from_nir", NORSE_NODES)}


def neuron_spec(node: Any, key: str, method: str | None, how: Importing) -> NeuronSpec:
    """The population of neuron node `key` under `how.convention`."""
    kind = type(node).__name__
    if how.convention not in TOOLS:
        return NIR_NODES[kind](node, method)
    tool, converters = TOOLS[how.convention]
    if kind not in converters:
        raise InputError(f"node {key!r}: {tool} has no {kind}; with convention="
                         f"{how.convention!r} the neuron nodes are {', '.join(converters)} "
                         f"(convention='nir' runs {', '.join(NIR_NODES)} by NIR's "
                         "continuous-time equations, whose numbers differ from the tool's)")
    return converters[kind](node, key, how)
