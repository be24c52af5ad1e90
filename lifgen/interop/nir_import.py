"""A NIR graph (nir.NIRGraph or a .nir file) as a lifgen.Network: subgraphs flattened, neuron
nodes as populations (nir_models), each path of edge nodes (Affine, Linear, Scale, Flatten,
Delay, Conv1d, Conv2d, SumPool2d, AvgPool2d) between two of them composed into one projection,
Input nodes as sources filled at run time (run_nir), Output nodes read back from what feeds them.

Edge nodes are a table from node type to a converter (EDGE_NODES) into a linear map: a dense
matrix, or a SciPy sparse one for the structured nodes (a convolution's or a pool's entries
generated from its geometry); a path whose composed map is sparse becomes a lifgen.Sparse
projection (delay 0 unless a Delay node says otherwise). A node type without a converter is an
InputError that names it and lists those supported."""

from __future__ import annotations

import copy
import math
import re
from numbers import Integral, Real
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import InputError, ModelError
from ..ir.names import check_name
from ..frontend.units import UnitError, parse_unit, to_unit
from ..ir.method_names import METHOD_CHOICES
from ..runtime.connectivity import Sparse
from ..runtime.convolution import Convolution, after_pool, channels_last_order
from ..runtime import memory
from ..runtime.network import Network
from ..runtime.populations import MAX_DELAY, SpikeRaster
from ..runtime.sources import Bernoulli
from .nir_tool_reads import as_norse_reads, executor_late_edges
from .nir_models import (CONVENTIONS, DISCRETE_CONVENTIONS, NIR_NODES, NORSE_DT,
                         SINABS_CONVENTIONS, SNNTORCH_DT, Importing, NeuronSpec, neuron_spec,
                         real_values)


DENSE_FROM = 0.5  # a composed sparse map at least this dense is delivered as dense weights


def _scipy_sparse() -> Any:
    try:
        import scipy.sparse
    except ImportError:  # pragma: no cover - scipy comes with the nir extra
        raise InputError("convolutions, pools and identities of a NIR graph need scipy "
                         "(pip install lifgen[nir])") from None
    return scipy.sparse


def dense(matrix: Any) -> np.ndarray:
    """A map's matrix as a NumPy array."""
    return matrix if isinstance(matrix, np.ndarray) else np.asarray(matrix.toarray())


@dataclass
class LinearMap:
    """What a chain of edge nodes does to a vector: x -> matrix @ x + bias, `delay` steps later
    (`diagonal`: only scales, so a one-to-one projection). The matrix is a NumPy array or a
    SciPy CSR matrix (a structured node's, or a product with one)."""

    matrix: Any
    bias: np.ndarray
    delay: int = 0
    diagonal: bool = True
    shape: tuple[int, ...] = ()  # the shape of its output values, () if not known
    # per-element delays in steps (added to `delay`): of each input ("pre", a Delay node before
    # any mixing map) or of each output ("post", a Delay node after one, only scales after it)
    delays: np.ndarray | None = None
    delay_axis: str = "pre"
    identity: bool = False  # x -> x (a Flatten, a subgraph's pass-through, a uniform Delay)
    conv: Convolution | None = None  # the map is this convolution (no other map on the path)
    # the map is a pool (no other map on the path): its input shape, window and scale, which a
    # convolution after it takes into its own kernel (after_pool)
    pool: tuple[tuple[int, int, int], tuple[int, int], float] | None = None
    # parts of `bias` that crossed late edges (an executor's edge read a step late): held[j]
    # crossed j + 1 of them, so reaches the output from step j + 1 on (convention "norse")
    held: tuple[np.ndarray, ...] = ()

    def then(self, other: "LinearMap") -> "LinearMap":
        if isinstance(self.matrix, np.ndarray) and isinstance(other.matrix, np.ndarray):
            matrix = other.matrix @ self.matrix
        else:
            sparse = _scipy_sparse()
            matrix = sparse.csr_matrix(other.matrix) @ sparse.csr_matrix(self.matrix)
        delays, axis = _delays_then(self, other)
        conv = self.conv if other.identity else other.conv if self.identity else None
        pool = self.pool if other.identity else other.pool if self.identity else None
        if self.pool is not None and other.conv is not None:
            conv = after_pool(other.conv, *self.pool)
        return LinearMap(matrix, np.asarray(other.matrix @ self.bias).reshape(-1) + other.bias,
                         self.delay + other.delay, self.diagonal and other.diagonal,
                         other.shape, delays, axis, self.identity and other.identity, conv, pool,
                         tuple(np.asarray(other.matrix @ part).reshape(-1) for part in self.held))

    def late(self) -> "LinearMap":
        """This map a step later, as an edge an executor reads a step late delivers it: its
        bias so far held back a step more (nothing arrives at the first step)."""
        later = self.then(_identity(self.matrix.shape[0], 1, self.shape))
        return replace(later, held=(later.bias - sum(later.held, np.zeros_like(later.bias)),
                                    *later.held))


def _delays_then(first: LinearMap, then: LinearMap) -> tuple[np.ndarray | None, str]:
    """The per-element delays of `first` followed by `then`: by input while every map before
    them only scales, by output after a mixing map, which only scales may follow."""
    if then.delays is None:
        if first.delays is not None and first.delay_axis == "post" and not then.diagonal:
            raise InputError("per-element delays followed by a map that mixes elements are not "
                             "supported: give the Delay node one delay (a scalar, or equal "
                             "delays), or put it before the Affine/Conv")
        return first.delays, first.delay_axis
    if first.delays is None:
        return then.delays, "pre" if first.diagonal else "post"
    if first.diagonal:
        return first.delays + then.delays, first.delay_axis
    raise InputError("two Delay nodes with per-element delays around a map that mixes elements "
                     "are not supported")


@dataclass
class Interface:
    """How a network made by from_nir meets the graph: its Input nodes (source name, shape),
    its Output nodes (shape, and the (population, map) paths that feed them), the population
    of each neuron node key, what each population emits, and the graph itself (to_nir)."""

    graph: Any
    convention: str
    dt: float
    method: str | None
    batch: int | None
    inputs: dict[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)
    outputs: dict[str, tuple[tuple[int, ...], list[tuple[str, LinearMap]]]] = field(default_factory=dict)
    populations: dict[str, str] = field(default_factory=dict)  # node key -> population
    emits: dict[str, str | None] = field(default_factory=dict)  # population -> state or spikes
    # run_nir's compiled networks: (target, dtype, source kinds) -> (fingerprint, simulator)
    simulators: dict[tuple, tuple[Any, Any]] = field(default_factory=dict, repr=False)
    # the populations fed only by convolutions, numbered channels-last: population -> its
    # (channels, rows, columns)
    channels_last: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # each population's parameters as from_nir made them (to_nir refuses changes it cannot
    # write back)
    imported: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    projections: list[int] = field(default_factory=list, repr=False)  # their ids, as made
    # the neuron nodes whose parameters were broadcast to their input: node key -> its shape
    broadcast: dict[str, tuple[int, ...]] = field(default_factory=dict)
    _nir_orders: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @property
    def from_cache(self) -> bool:
        """Whether every program run_nir has run for this network so far was loaded from the
        kernel cache (no C compiler ran for it); True before any run."""
        return all(simulator.from_cache for _, simulator in self.simulators.values())

    def in_nir_order(self, population: str, array: np.ndarray) -> np.ndarray:
        """A population's values along their last axis (its neurons) in NIR's C order of
        (channel, row, column): a population numbered channels-last is put back."""
        shape = self.channels_last.get(population)
        if shape is None or np.ndim(array) == 0 or np.shape(array)[-1] != math.prod(shape):
            return array
        order = self._nir_orders.get(population)
        if order is None:  # NIR's neuron i is the channels-last neuron order[i]
            order = self._nir_orders[population] = np.argsort(channels_last_order(shape))
        return np.take(array, order, axis=-1)


def _identity(n: int, delay: int = 0, shape: tuple[int, ...] = ()) -> LinearMap:
    return LinearMap(_scipy_sparse().identity(n, format="csr"), np.zeros(n), delay,
                     shape=shape or (n,), identity=True)


def _affine(node: Any, dt: float, arriving: tuple[int, ...]) -> LinearMap:
    weight = real_values(node.weight, "its weight")
    if weight.ndim != 2:
        raise InputError(f"an Affine/Linear weight is 2-D; got shape {weight.shape}")
    bias = real_values(getattr(node, "bias", np.zeros(weight.shape[0])), "its bias").reshape(-1)
    if bias.size != weight.shape[0]:
        raise InputError(f"its bias has {bias.size} values for {weight.shape[0]} outputs")
    return LinearMap(weight, bias, 0, False, (weight.shape[0],))


def _scale(node: Any, dt: float, arriving: tuple[int, ...]) -> LinearMap:
    scale = real_values(node.scale, "its scale").reshape(-1)
    return LinearMap(_scipy_sparse().diags(scale, format="csr"), np.zeros(scale.size),
                     shape=arriving if int(np.prod(arriving)) == scale.size else (scale.size,))


def _flatten(node: Any, dt: float, arriving: tuple[int, ...]) -> LinearMap:
    n = int(np.prod(_in_shape(node, arriving)))
    return _identity(n, shape=(n,))


def _delay(node: Any, dt: float, arriving: tuple[int, ...]) -> LinearMap:
    delay = real_values(node.delay, "its delay").reshape(-1)
    steps = delay / dt
    if np.any(np.abs(steps - np.round(steps)) > 1e-6) or np.any(steps < -1e-6):
        raise InputError(f"a Delay node's delays must be whole numbers of steps of dt = {dt:g} s; "
                         f"got {np.unique(delay)} s")
    if np.any(steps > MAX_DELAY):
        raise InputError(f"a Delay node's delays are at most {MAX_DELAY} steps of dt = {dt:g} s; "
                         f"got {delay.max():g} s")
    whole = np.round(steps).astype(np.int64)
    if delay.size == 1 and arriving:  # one delay for every element that arrives
        return _identity(math.prod(arriving), int(whole[0]), arriving)
    if np.unique(whole).size == 1:
        return _identity(delay.size, int(whole[0]), arriving)
    identity = _identity(delay.size, 0, arriving)
    identity.delays = whole  # per element: the projection becomes a lifgen.Sparse
    return identity


def _geometry(value: Any, dims: int, what: str) -> tuple[int, ...]:
    array = np.asarray(value).reshape(-1)
    if array.size == 1:
        array = np.repeat(array, dims)
    if array.size != dims or np.any(array % 1) or np.any(array < 0):
        raise InputError(f"{what} must be {dims} whole numbers >= 0; got {value!r}")
    return tuple(int(x) for x in array)


def _padding(node: Any, kernel: tuple[int, ...], dilation: tuple[int, ...],
             stride: tuple[int, ...]) -> tuple[int, ...]:
    padding = getattr(node, "padding", 0)
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * len(kernel)
        if padding == "same" and all(s == 1 for s in stride) \
                and all(d * (k - 1) % 2 == 0 for k, d in zip(kernel, dilation)):
            return tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))
        raise InputError(f"padding {padding!r}: lifgen takes whole numbers, valid, or same "
                         "with stride 1 and an even total")
    return _geometry(padding, len(kernel), "padding")


def window_map(in_shape: tuple[int, ...], weight: np.ndarray, stride: tuple[int, ...],
               padding: tuple[int, ...], dilation: tuple[int, ...], groups: int,
               what: str) -> tuple[Any, tuple[int, ...]]:
    """The sparse matrix of a convolution (PyTorch's cross-correlation, zero padding) of an
    input (channels, *spatial) with weight (out channels, in channels / groups, *kernel): one
    entry per (output, input) pair that a kernel element joins, zero weights too (the geometry
    decides), rows and columns in C order of (channel, *spatial); and the output shape."""
    dims = weight.ndim - 2
    if len(in_shape) != dims + 1:
        raise InputError(f"{what} takes (channels, {dims} spatial) inputs; got shape {in_shape}")
    out_c, in_per_group = weight.shape[:2]
    kernel = weight.shape[2:]
    channels, spatial = in_shape[0], in_shape[1:]
    if groups < 1 or channels % groups or out_c % groups or channels // groups != in_per_group:
        raise InputError(f"{what}: {channels} input channels in {groups} groups do not fit a "
                         f"weight of shape {weight.shape}")
    if min(stride) < 1 or min(dilation) < 1:
        raise InputError(f"{what}: stride and dilation are at least 1")
    out_spatial = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, p, d, k, s
                        in zip(spatial, padding, dilation, kernel, stride))
    if min(out_spatial) < 1:
        raise InputError(f"{what}: the kernel does not fit the input {in_shape}")
    # every (out channel, in channel of its group, kernel element, output position): its
    # grids, indices and the sparse matrix's arrays take about 100 bytes each
    pairs = out_c * in_per_group * math.prod(kernel) * math.prod(out_spatial)
    memory.check_copy(pairs * 100, f"{what}'s map of {pairs:.3g} (output, input) pairs")
    grids = np.meshgrid(np.arange(out_c), np.arange(in_per_group), *map(np.arange, kernel),
                        *map(np.arange, out_spatial), indexing="ij")
    oc, ic, ks, outs = grids[0], grids[1], grids[2:2 + dims], grids[2 + dims:]
    ins = [o * s - p + k * d for o, k, s, p, d in zip(outs, ks, stride, padding, dilation)]
    inside = np.ones(oc.shape, bool)
    for position, n in zip(ins, spatial):
        inside &= (position >= 0) & (position < n)
    row = oc
    for o, n in zip(outs, out_spatial):
        row = row * n + o
    column = (oc // (out_c // groups)) * in_per_group + ic
    for position, n in zip(ins, spatial):
        column = column * n + position
    values = weight[tuple([oc, ic, *ks])]
    shape = (out_c * int(np.prod(out_spatial)), channels * int(np.prod(spatial)))
    matrix = _scipy_sparse().csr_matrix(
        (values[inside], (row[inside], column[inside])), shape=shape)
    return matrix, (out_c, *out_spatial)


def _in_shape(node: Any, arriving: tuple[int, ...]) -> tuple[int, ...]:
    """The node's input shape: its input_type, or the shape of what arrives (a graph read
    without nir's type check has no input_type for pools)."""
    given = next(iter((getattr(node, "input_type", None) or {}).values()), None)
    if given is None or np.asarray(given).dtype == object:
        if not arriving:
            raise InputError("the shape of its input is not known")
        return arriving
    return tuple(int(n) for n in np.asarray(given).reshape(-1))


def _conv(dims: int) -> Callable[[Any, float, tuple[int, ...]], LinearMap]:
    def convert(node: Any, dt: float, arriving: tuple[int, ...]) -> LinearMap:
        what = f"a Conv{dims}d"
        weight = real_values(node.weight, "its weight")
        if weight.ndim != dims + 2:
            raise InputError(f"{what} weight has {dims + 2} axes; got shape {weight.shape}")
        kernel = weight.shape[2:]
        stride = _geometry(getattr(node, "stride", 1), dims, "stride")
        dilation = _geometry(getattr(node, "dilation", 1), dims, "dilation")
        padding = _padding(node, kernel, dilation, stride)
        groups = int(np.asarray(getattr(node, "groups", 1)).reshape(-1)[0])
        # the input's channels from the weight and groups (nir 1.0.8 infers a grouped one's
        # input_type as weight.shape[1] channels), its extent from input_shape
        spatial = tuple(int(n) for n in np.asarray(
            getattr(node, "input_shape", None) if getattr(node, "input_shape", None) is not None
            else _in_shape(node, arriving)[1:]).reshape(-1))
        in_shape = (weight.shape[1] * groups, *spatial)
        matrix, out_shape = window_map(in_shape, weight, stride, padding, dilation, groups, what)
        bias = real_values(getattr(node, "bias", 0.0), "its bias").reshape(-1)
        if bias.size not in (1, out_shape[0]):
            raise InputError(f"its bias has {bias.size} values for {out_shape[0]} channels")
        bias = np.repeat(np.broadcast_to(bias, (out_shape[0],)), int(np.prod(out_shape[1:])))
        if dims == 1:  # a Conv1d is a Conv2d of height 1
            conv = Convolution(weight[:, :, None, :], (in_shape[0], 1, in_shape[1]),
                               (1, stride[0]), (0, padding[0]), (1, dilation[0]), groups)
        else:
            conv = Convolution(weight, (in_shape[0], in_shape[1], in_shape[2]),
                               (stride[0], stride[1]), (padding[0], padding[1]),
                               (dilation[0], dilation[1]), groups)
        return LinearMap(matrix, bias, 0, False, out_shape, conv=conv)
    return convert


def _pool(average: bool) -> Callable[[Any, float, tuple[int, ...]], LinearMap]:
    def convert(node: Any, dt: float, arriving: tuple[int, ...]) -> LinearMap:
        what = "an AvgPool2d" if average else "a SumPool2d"
        kernel = _geometry(node.kernel_size, 2, "kernel_size")
        stride = getattr(node, "stride", None)
        stride = _geometry(kernel if stride is None else stride, 2, "stride")
        padding = _geometry(getattr(node, "padding", 0), 2, "padding")
        in_shape = _in_shape(node, arriving)
        # a pool is a convolution of one group per channel, its weights 1 (or 1 / the window:
        # PyTorch's AvgPool2d, padding counted)
        weight = np.full((in_shape[0], 1, *kernel),
                         1.0 / (kernel[0] * kernel[1]) if average else 1.0)
        matrix, out_shape = window_map(in_shape, weight, stride, padding, (1, 1), in_shape[0],
                                       what)
        # (a convolution after it delivers from one kernel over its input, after_pool)
        pool = ((in_shape[0], in_shape[1], in_shape[2]), (kernel[0], kernel[1]),
                float(weight.flat[0])) \
            if stride == kernel and padding == (0, 0) and len(in_shape) == 3 else None
        return LinearMap(matrix, np.zeros(matrix.shape[0]), 0, False, out_shape, pool=pool)
    return convert


# Edge nodes: type name -> converter (node, dt, the shape of what arrives) -> LinearMap.
EDGE_NODES: dict[str, Callable[[Any, float, tuple[int, ...]], LinearMap]] = {
    "Affine": _affine, "Linear": _affine, "Scale": _scale, "Flatten": _flatten, "Delay": _delay,
    "Conv1d": _conv(1), "Conv2d": _conv(2), "SumPool2d": _pool(False), "AvgPool2d": _pool(True)}
PASS_THROUGH = "PassThrough"  # a subgraph's own Input and Output nodes, once flattened


def supported() -> str:
    return ", ".join(["Input", "Output", "NIRGraph (subgraphs)", *NIR_NODES, *EDGE_NODES])


def read_graph(graph_or_path: Any) -> Any:
    import nir  # the optional dependency: pip install lifgen[nir]

    if isinstance(graph_or_path, (str, Path)):
        path = Path(graph_or_path)
        if not path.is_file():
            raise InputError(f"{str(path)!r} is not a regular file (a .nir graph): a FIFO, "
                             "device or folder" if path.exists() else f"no NIR file {str(path)!r}")
        _check_sizes(path)
        try:
            try:
                return nir.read(str(path))
            except Exception as error:
                if "type" not in str(error).lower():
                    raise
                # nir 1.0.8 infers a grouped Conv's input channels as weight.shape[1]; the
                # paths' maps check every shape themselves
                return nir.read(str(path), type_check=False)
        except Exception as error:  # h5py and nir raise many kinds
            reason = str(error) or (f"{type(error).__name__} with no message: a node type "
                                    f"nir {getattr(nir, '__version__', '')} does not know?")
            raise InputError(f"{str(path)!r} is not a NIR file nir can read: {reason}") from None
    if not isinstance(graph_or_path, nir.NIRGraph):
        raise InputError(f"from_nir takes a nir.NIRGraph or a path to a .nir file, not "
                         f"{type(graph_or_path).__name__}")
    return graph_or_path


def _check_sizes(path: Path) -> None:
    """Refuse a .nir file whose arrays would take far more memory than the file (HDF5 stores a
    dataset of one repeated value, or a compressed one, in a few bytes: a 30 KB file held 2.4 GB
    of parameters), before nir reads them; and one that does not fit in memory."""
    import h5py

    sizes: list[int] = []

    def visit(_: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            sizes.append(int(np.prod(item.shape, dtype=object)) * item.dtype.itemsize)
    try:
        with h5py.File(path, "r") as file:
            file.visititems(visit)
    except Exception:  # noqa: BLE001 - not HDF5: nir.read says so below
        return
    total, stored = sum(sizes), path.stat().st_size
    if total > MAX_EXPANSION * stored + 2**26:
        raise InputError(f"{str(path)!r}: its arrays would take {total / 2**20:.3g} MiB from a "
                         f"file of {stored / 2**10:.3g} KiB (repeated or compressed values); "
                         "lifgen reads NIR files whose arrays are stored as they are")
    memory.check_copy(2 * total, f"the arrays of {str(path)!r}")


MAX_EXPANSION = 64  # how much larger than its file a NIR graph's arrays may be


def flatten(graph: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The graph's leaf nodes (keys joined with '.'), a subgraph's Input and Output nodes as
    pass-throughs, and its edges; an edge to or from a subgraph goes to its Input, from its Output."""
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []

    def ends(key: str, kind: str) -> str:
        node = graph.nodes[key]
        if type(node).__name__ != "NIRGraph":
            return prefix + key
        inner = [k for k, v in node.nodes.items() if type(v).__name__ == kind]
        if len(inner) != 1:
            raise InputError(f"subgraph {prefix + key!r} needs one {kind} node; it has {len(inner)}")
        return ends_of(node, prefix + key + ".", inner[0], kind)

    for key, node in graph.nodes.items():
        if type(node).__name__ == "NIRGraph":
            inner_nodes, inner_edges = flatten(node, prefix + key + ".")
            for inner_key, inner in inner_nodes.items():
                if type(inner).__name__ in ("Input", "Output"):  # (deeper ones already are)
                    inner = (PASS_THROUGH, inner)
                nodes[inner_key] = inner
            edges += inner_edges
        else:
            nodes[prefix + key] = node
    for pre, post in graph.edges:
        for end in (pre, post):
            if end not in graph.nodes:
                raise InputError(f"edge {prefix + pre!r} -> {prefix + post!r}: the graph has no "
                                 f"node {prefix + end!r}")
        edges.append((ends(pre, "Output"), ends(post, "Input")))
    return nodes, edges


def ends_of(graph: Any, prefix: str, key: str, kind: str) -> str:
    node = graph.nodes[key]
    if type(node).__name__ != "NIRGraph":
        return prefix + key
    inner = [k for k, v in node.nodes.items() if type(v).__name__ == kind]
    return ends_of(node, prefix + key + ".", inner[0], kind)


def _kind(node: Any) -> str:
    return PASS_THROUGH if isinstance(node, tuple) else type(node).__name__


def _shape(node: Any, port: str) -> tuple[int, ...]:
    types = getattr(node, f"{port}_type", None) or {}
    shape = next(iter(types.values()), None)
    if shape is None or np.asarray(shape).dtype == object:  # (read without nir's type check)
        return ()
    return tuple(int(s) for s in np.asarray(shape).reshape(-1))


def _seconds(dt: Any) -> float | None:
    """from_nir's dt as seconds: a number of seconds or a time such as "0.1 ms"."""
    if dt is None:
        return None
    try:
        if isinstance(dt, bool) or not isinstance(dt, (Real, str)):
            raise UnitError("")
        seconds = float(to_unit(dt, parse_unit("s"), "dt"))
    except UnitError:
        seconds = math.nan
    if not (seconds > 0 and math.isfinite(seconds)):
        raise InputError(f"dt must be a positive time: a number of seconds or text such as "
                         f"'0.1 ms'; got {dt!r}")
    return seconds


def population_name(key: str, taken: set[str]) -> str:
    """A node key as a population name (a name lifgen accepts: 'lif1.lif' -> 'lif1_lif'); a key
    that is not one, as written, gets the prefix n_ ('int' -> 'n_int'); at most 50 characters."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", key)[:50]
    if not _valid_name(name):
        name = "n_" + name[:48]
    base, k = name, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _valid_name(name: str) -> bool:
    try:
        check_name(name)
    except ModelError:
        return False
    return True


def from_nir(graph_or_path: Any, dt: float | None = None, method: str | None = None,
             batch: int | None = None, convention: str = "nir",
             convolutions: str = "kernel") -> Network:
    """The NIR graph as a lifgen.Network (run it with lifgen.run_nir). `dt` in seconds or as a time
    such as "0.1 ms" (snnTorch's 1e-4 by default, and always under convention="snntorch";
    Norse's 1e-3 under convention="norse"); `method` the integration method of the continuous
    nodes ("exact" by default: NIR's continuous time; an unknown name is an InputError);
    `convention` "nir", "snntorch" (snnTorch 1.0's import_from_nir, number for number),
    "sinabs" (Sinabs 3.1's from_nir: IF and LIF as IAFSqueeze and LIFSqueeze with their default
    MultiSpike, floor(v/threshold) spikes per step, LI as ExpLeakSqueeze, tau in steps),
    "sinabs_single" (the same with SingleSpike) or "norse" (Norse 1.1's from_nir: forward
    Euler at dt, reset to 0);
    `convolutions` "kernel" (a path that is one Conv1d/Conv2d delivers from its kernel and
    geometry, projection kind "conv2d") or "sparse" (every structured path a lifgen.Sparse of
    its generated synapses: the same numbers, bit for bit); `batch` the number of samples every
    run_nir call must give (None: any)."""
    if convolutions not in ("kernel", "sparse"):
        raise InputError(f"convolutions must be 'kernel' or 'sparse', got {convolutions!r}")
    if convention not in CONVENTIONS:
        raise InputError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    if method is not None and method not in METHOD_CHOICES:
        raise InputError(f"unknown method {method!r}; the continuous nodes take one of "
                         f"{', '.join(METHOD_CHOICES)}")
    dt = _seconds(dt)
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, Integral)
                              or batch < 1):
        raise InputError(f"batch must be a whole number of samples >= 1 (or None), got {batch!r}")
    if convention in SINABS_CONVENTIONS and (dt is not None or method is not None):
        raise InputError(f"convention={convention!r} runs Sinabs's discrete layers: give no dt "
                         "and no method")
    if convention == "snntorch":
        if dt is not None and dt != SNNTORCH_DT:
            raise InputError(f"convention='snntorch' runs at snnTorch's dt = {SNNTORCH_DT} s; "
                             f"got dt={dt}")
        if method is not None:
            raise InputError("convention='snntorch' runs snnTorch's discrete maps: give no method")
    if convention == "norse" and method is not None:
        raise InputError("convention='norse' runs Norse's forward-Euler steps (of its "
                         "from_nir's dt: dt=, or --dt): give no method")
    dt = (NORSE_DT if convention == "norse" else SNNTORCH_DT) if dt is None else dt
    graph = read_graph(graph_or_path)
    nodes, edges = flatten(graph)
    late: set[tuple[str, str]] = set()
    if convention == "norse":
        nodes = as_norse_reads(nodes)
        late = {(ends_of(g, prefix, pre, "Output"), ends_of(g, prefix, post, "Input"))
                for g, prefix, pre, post in executor_late_edges(graph)}
    for key, node in nodes.items():
        kind = _kind(node)
        if kind not in NIR_NODES and kind not in EDGE_NODES \
                and kind not in ("Input", "Output", PASS_THROUGH):
            raise InputError(f"NIR node {key!r} is a {kind}, which lifgen does not support yet; "
                             f"supported: {supported()}")
    network = Network(dt=None if convention in DISCRETE_CONVENTIONS else f"{dt!r} s")
    interface = Interface(graph, convention, dt, method, batch)
    vertices = {k for k, v in nodes.items() if _kind(v) in NIR_NODES or _kind(v) == "Input"}
    nodes, interface.broadcast = _sized_by_their_input(nodes, edges, vertices, dt)
    recurrent = _snntorch_recurrent(nodes, edges) if convention == "snntorch" else set()
    taken: set[str] = set()
    specs: dict[str, NeuronSpec] = {}
    for key, node in nodes.items():  # sources first, then populations, in graph order
        if _kind(node) == "Input":
            shape = _shape(node, "input") or _shape(node, "output")
            name = population_name(key, taken)
            n = math.prod(shape)
            if n < 1:
                raise InputError(f"Input node {key!r} has shape {tuple(int(d) for d in shape)}: "
                                 "no element")
            memory.check_copy(n, f"Input node {key!r} of {n:.3g} values")  # (a placeholder)
            network.add_source(name, SpikeRaster(np.zeros((1, 1, n), np.uint8)))
            interface.inputs[key] = (name, shape)
            interface.populations[key] = name
    for key, node in nodes.items():
        if _kind(node) in NIR_NODES:
            try:
                spec = neuron_spec(node, key, method,
                                   Importing(convention, dt, key in recurrent))
            except InputError as error:
                named = str(error).startswith(f"node {key!r}")
                raise InputError(str(error) if named else f"node {key!r}: {error}") from None
            name = population_name(key, taken)
            specs[name] = spec
            interface.populations[key] = name
            interface.emits[name] = spec.emits
    if not specs:
        raise InputError("the graph has no neuron node, nothing for lifgen to simulate; its "
                         f"nodes: {sorted(_kind(v) for v in nodes.values())}; supported neuron "
                         f"nodes: {', '.join(NIR_NODES)}")
    paths = _paths(nodes, edges, vertices, dt, late=late)
    interface.channels_last = _channels_last(paths, interface.populations, specs)
    orders = {name: channels_last_order(shape) for name, shape in interface.channels_last.items()}
    back = set() if convention == "norse" else _back_edges(  # (norse: its late edges)
        list(interface.populations), paths, interface.populations)
    biases: dict[str, np.ndarray] = {}
    later_biases: dict[tuple[str, str, int], np.ndarray] = {}
    connections = []
    for pre, post, linear in paths:
        pre_name = interface.populations[pre]
        if _kind(nodes[post]) == "Output":  # (run_nir reads its values in NIR's order)
            _check_output_size(post, _shape(nodes[post], "output"), linear)
            interface.outputs.setdefault(post, (_shape(nodes[post], "output"), []))[1].append(
                (pre_name, linear))
            continue
        if _kind(nodes[pre]) in NON_SPIKING:
            raise InputError(
                f"node {pre!r} ({_kind(nodes[pre])}) emits its state, not spikes, and "
                f"feeds node {post!r}: lifgen delivers a non-spiking node's state to Output "
                "nodes only (a projection carries spikes); read it from an Output node")
        post_name = interface.populations[post]
        spec = specs[post_name]
        n_pre = linear.matrix.shape[1]
        if linear.matrix.shape[0] != spec.n:
            raise InputError(f"the edges from {pre!r} to {post!r} give {linear.matrix.shape[0]} "
                             f"values; node {post!r} has {spec.n} neurons"
                             + NEURONS_FROM_PARAMETERS)
        linear = _reordered(linear, orders.get(pre_name), orders.get(post_name))
        held = sum(linear.held, np.zeros(spec.n))
        biases[post_name] = biases.get(post_name, np.zeros(spec.n)) + (linear.bias - held)
        for j, part in enumerate(linear.held):  # (reaching post from step j + 1 on)
            at = (post_name, spec.synapse, j + 1)
            later_biases[at] = later_biases.get(at, np.zeros(spec.n)) + part
        delay = max(linear.delay, 1) if (pre, post) in back else linear.delay
        weights: Any
        if linear.delays is not None:
            weights, delay = _delayed_weights(linear, (pre, post) in back), 1
        elif linear.conv is not None and convolutions == "kernel":
            weights = linear.conv
        elif linear.diagonal and n_pre == spec.n:
            weights = ("one_to_one", np.asarray(linear.matrix.diagonal(), np.float64).copy())
        elif not isinstance(linear.matrix, np.ndarray) \
                and linear.matrix.nnz < DENSE_FROM * np.prod(linear.matrix.shape):
            weights, delay = _sparse_weights(linear.matrix, delay), 1  # (the Sparse's own)
        else:
            weights = dense(linear.matrix)
        connections.append((pre_name, post_name, spec.synapse, weights, delay))
    for name, spec in specs.items():
        params, initial = ({k: v.reshape(-1)[orders[name]] if name in orders
                            and np.size(v) == spec.n else v for k, v in values.items()}
                           for values in (spec.params, spec.initial))
        if name in biases and np.any(biases[name] != 0):
            params["b"] = biases[name]
        network.add(name, spec.model, spec.n, params=params, initial=initial or None,
                    **spec.options)
        interface.imported[name] = {k: np.array(v, copy=True) for k, v in params.items()}
    connections += _later_biases(network, later_biases, taken)
    for pre_name, post_name, synapse, weights, delay in connections:
        network.connect(pre_name, post_name, synapse, weights, delay=delay)
    for key in (k for k, v in nodes.items() if _kind(v) == "Output"):
        interface.outputs.setdefault(key, (_shape(nodes[key], "output"), []))
    interface.projections = [id(p) for p in network.projections]
    network.nir = interface  # type: ignore[attr-defined]
    return network


def _later_biases(network: Network, later: dict[tuple[str, str, int], np.ndarray],
                  taken: set[str]) -> list[tuple[str, str, str, Any, int]]:
    """Biases that reach a population only from step d on (behind edges an executor reads a
    step late), as projections with delay d from a source that spikes every step."""
    later = {key: part for key, part in later.items() if np.any(part != 0)}
    if not later:
        return []
    source = population_name("later_bias", taken)
    network.add_source(source, Bernoulli(1, 1.0))
    return [(source, post, synapse, part.reshape(-1, 1), delay)
            for (post, synapse, delay), part in later.items()]


# NIR's neuron nodes that emit their state v, not spikes
NON_SPIKING = ("LI", "CubaLI", "I")


def _check_output_size(key: str, shape: tuple[int, ...], linear: LinearMap) -> None:
    """An Output node's declared shape holds what feeds it (run_nir reshapes to it)."""
    if shape and math.prod(shape) != linear.matrix.shape[0]:
        raise InputError(f"Output node {key!r} is declared {tuple(int(d) for d in shape)} "
                         f"({math.prod(shape)} values); the edges into it give "
                         f"{linear.matrix.shape[0]}")


def _channels_last(paths: list[tuple[str, str, LinearMap]], populations: dict[str, str],
                   specs: dict[str, NeuronSpec]) -> dict[str, tuple[int, ...]]:
    """The populations to number channels-last (row, column, channel): those whose every
    incoming path is one convolution (with its pools), all of one output shape, so that its
    kernel's weights for a run of output columns add to contiguous neurons."""
    shapes: dict[str, set] = {}
    for _, post, linear in paths:
        if post in populations and populations[post] in specs:
            conv = linear.conv if linear.delays is None else None
            shapes.setdefault(populations[post], set()).add(
                conv.out_shape if conv is not None else None)
    return {name: next(iter(found)) for name, found in shapes.items()
            if len(found) == 1 and None not in found
            and int(np.prod(next(iter(found)))) == specs[name].n}


def _reordered(linear: LinearMap, pre: np.ndarray | None, post: np.ndarray | None) -> LinearMap:
    """The path's map between populations numbered channels-last where `pre` / `post` give
    the order (channels_last_order): its convolution told so, its matrix, bias and
    per-element delays permuted."""
    if pre is None and post is None:
        return linear
    rows = slice(None) if post is None else post
    columns = slice(None) if pre is None else pre
    matrix = linear.matrix[rows][:, columns] if isinstance(linear.matrix, np.ndarray) \
        else linear.matrix.tocsr()[rows][:, columns].tocsr()
    delays = linear.delays
    if delays is not None:
        delays = delays[columns] if linear.delay_axis == "pre" else delays[rows]
    held = tuple(part[rows] for part in linear.held)
    conv = None if linear.conv is None else replace(
        linear.conv, inputs_last=pre is not None, outputs_last=post is not None)
    same = pre is not None and post is not None and np.array_equal(pre, post)
    return replace(linear, matrix=matrix, bias=linear.bias[rows], delays=delays, conv=conv,
                   diagonal=linear.diagonal and same, identity=False, held=held)


def _delayed_weights(linear: LinearMap, back: bool) -> Sparse:
    """A map with per-element delays as a lifgen.Sparse, each synapse's delay that of its input
    or output element (at least one step on a path that closes a cycle)."""
    assert linear.delays is not None
    coo = _scipy_sparse().coo_matrix(linear.matrix)
    delay = linear.delay + linear.delays[coo.col if linear.delay_axis == "pre" else coo.row]
    if back:
        delay = np.maximum(delay, 1)
    return Sparse.from_arrays(coo.col, coo.row, coo.data, delay, n_pre=linear.matrix.shape[1],
                              n_post=linear.matrix.shape[0])


def _sparse_weights(matrix: Any, delay: int) -> Sparse:
    """A sparse map as a lifgen.Sparse of one delay (0: within the step); the delivery sorts
    its synapses by input neuron, stably."""
    coo = matrix.tocoo()
    return Sparse.from_arrays(coo.col, coo.row, coo.data, delay, n_pre=matrix.shape[1],
                              n_post=matrix.shape[0])


MAX_PATH_STEPS = 10_000  # edges walked while composing the paths between neuron nodes


# (a neuron node's size is its parameters': NIR gives them per neuron; Sinabs writes scalars)
NEURONS_FROM_PARAMETERS = (" (a neuron node has as many neurons as its parameters have "
                           "values; parameters that are scalars or have axes of length 1 "
                           "broadcast to the shape the edges into it deliver, as torch "
                           "broadcasts them)")


def _parameters(node: Any) -> dict[str, Any]:
    """A neuron node's parameter values by name (not its types or metadata)."""
    return {k: v for k, v in vars(node).items() if v is not None and not isinstance(v, str)
            and k not in ("input_type", "output_type", "metadata")}


def _broadcasting(node: Any) -> bool:
    """Whether a neuron node's parameters may take their shape from its input: each a scalar
    or with an axis of length 1 (Sinabs writes a layer's single tau_mem as a scalar, one per
    channel as (C, 1, 1)), which the torch tools broadcast to the layer's shape."""
    values = list(_parameters(node).values())
    return bool(values) and all(1 in np.shape(v) or np.ndim(v) == 0 for v in values)


def _broadcast(node: Any, shape: tuple[int, ...]) -> Any | None:
    """A copy of a neuron node with every parameter broadcast to `shape` (the graph's own node
    is left as it is); None where one does not broadcast to it."""
    sized = copy.copy(node)
    for key, value in _parameters(node).items():
        array = np.asarray(value)
        try:
            if np.broadcast_shapes(array.shape, shape) != shape:
                return None
        except ValueError:
            return None
        setattr(sized, key, np.broadcast_to(array, shape).copy())
    return sized


def _sized_by_their_input(nodes: dict[str, Any], edges: list[tuple[str, str]],
                          vertices: set[str], dt: float) -> tuple[dict[str, Any],
                                                                  dict[str, tuple[int, ...]]]:
    """The nodes with each neuron node whose parameters broadcast (`_broadcasting`) sized by
    the edges into it, from the Inputs on, each node's paths walked once; and the shapes given.
    One that no sized node reaches, or whose parameters do not broadcast to what arrives,
    keeps its parameters' size."""
    pending = {k for k in vertices if _kind(nodes[k]) in NIR_NODES and _broadcasting(nodes[k])}
    nodes, shapes = dict(nodes), {}
    fresh = vertices - pending  # sized, not yet walked from
    while fresh and pending:
        arriving = {post: linear for _, post, linear
                    in _paths(nodes, edges, vertices, dt, starts=fresh) if post in pending}
        for key, linear in arriving.items():
            n = linear.matrix.shape[0]
            shape = tuple(linear.shape) if math.prod(linear.shape) == n else (n,)
            sized = _broadcast(nodes[key], shape)
            if sized is not None:
                nodes[key], shapes[key] = sized, shape
            elif _neuron_count(nodes[key]) != n:
                given = sorted({np.shape(v) for v in _parameters(nodes[key]).values()})
                raise InputError(f"node {key!r}: its parameters of shape "
                                 f"{', '.join(map(str, given))} do not broadcast to the "
                                 f"{shape} values the edges into it deliver"
                                 + NEURONS_FROM_PARAMETERS)
        pending -= set(arriving)
        fresh = set(arriving)
    return nodes, shapes


def _paths(nodes: dict[str, Any], edges: list[tuple[str, str]], vertices: set[str],
           dt: float, starts: set[str] | None = None,
           late: set[tuple[str, str]] = set()) -> list[tuple[str, str, LinearMap]]:
    """Every path of edge nodes from a vertex (an Input or a neuron node; those of `starts`
    only, if given) to the next vertex or Output node, composed into one LinearMap; an edge of
    `late` delivers what crosses it a step late (LinearMap.late)."""
    after: dict[str, list[str]] = {}
    for pre, post in edges:
        after.setdefault(pre, []).append(post)
    found: list[tuple[str, str, LinearMap]] = []
    steps = [0]

    def walk(start: str, here: str, arriving: LinearMap, seen: tuple[str, ...]) -> None:
        for post in after.get(here, []):
            linear = arriving.late() if (here, post) in late else arriving
            steps[0] += 1
            if steps[0] > MAX_PATH_STEPS:  # (diamonds of edge nodes multiply the paths)
                raise InputError(f"the graph's edge nodes form more than {MAX_PATH_STEPS} steps "
                                 "of paths between its neuron nodes; lifgen composes each path")
            kind = _kind(nodes[post])
            if post in vertices or kind == "Output":
                found.append((start, post, linear))
                continue
            if post in seen:
                raise InputError(f"edge nodes {' -> '.join(seen + (post,))} form a cycle "
                                 "without a neuron node")
            if kind == PASS_THROUGH:
                step = _identity(linear.matrix.shape[0], shape=linear.shape)
            else:
                try:
                    step = EDGE_NODES[kind](nodes[post], dt, linear.shape)
                except InputError as error:
                    raise InputError(f"node {post!r}: {error}") from None
            if step.matrix.shape[1] != linear.matrix.shape[0]:
                origin = f" from node {start!r}" + (NEURONS_FROM_PARAMETERS if _kind(
                    nodes[start]) in NIR_NODES else "")
                raise InputError(f"node {post!r} ({kind}) takes {step.matrix.shape[1]} values; "
                                 f"{linear.matrix.shape[0]} arrive{origin}")
            walk(start, post, linear.then(step), seen + (post,))

    if _path_steps(after, vertices, nodes) > MAX_PATH_STEPS:
        raise InputError(f"the graph's edge nodes form more than {MAX_PATH_STEPS} steps of paths "
                         "between its neuron nodes; lifgen composes each path")
    for vertex in sorted(vertices if starts is None else starts, key=list(nodes).index):
        node = nodes[vertex]
        if _kind(node) == "Input":
            shape = _shape(node, "input") or _shape(node, "output")
            n = int(np.prod(shape))
        else:
            n = _neuron_count(node)
            shape = _shape(node, "output")
            if int(np.prod(shape or (0,))) != n:
                arrays = [np.shape(v) for v in vars(node).values()
                          if isinstance(v, np.ndarray) and np.size(v) == n]
                shape = arrays[0] if arrays else (n,)
        walk(vertex, vertex, _identity(n, shape=tuple(int(k) for k in shape)), (vertex,))
    return found


def _path_steps(after: dict[str, list[str]], vertices: set[str], nodes: dict[str, Any]) -> int:
    """How many edges composing every path from every vertex walks, counted without walking
    them (diamonds of edge nodes multiply paths: refused at once instead of after 10,000
    compositions). A cycle of edge nodes counts once here; the walk names it."""
    memo: dict[str, int] = {}

    def beyond(here: str) -> int:
        if here not in memo:
            memo[here] = 0  # (a cycle: counted once)
            memo[here] = sum(1 + (0 if post in vertices or _kind(nodes[post]) == "Output"
                                  else beyond(post)) for post in after.get(here, []))
        return memo[here]
    return sum(beyond(vertex) for vertex in vertices)


def _neuron_count(node: Any) -> int:
    sizes = [np.asarray(v).size for k, v in vars(node).items()
             if isinstance(v, np.ndarray) and k not in ("input_type", "output_type")]
    return max(sizes) if sizes else int(np.prod(_shape(node, "output")))


def _back_edges(order: list[str], paths: list[tuple[str, str, LinearMap]],
                populations: dict[str, str]) -> set[tuple[str, str]]:
    """Paths that close a cycle (found by a depth-first search from the inputs in graph order):
    NIR computes within a step along the others, and these read the last step's output."""
    after: dict[str, list[str]] = {}
    for pre, post, _ in paths:
        if post in populations:
            after.setdefault(pre, []).append(post)
    state: dict[str, int] = {}
    back: set[tuple[str, str]] = set()

    def visit(key: str) -> None:
        state[key] = 1
        for post in after.get(key, []):
            if state.get(post) == 1:
                back.add((key, post))
            elif post not in state:
                visit(post)
        state[key] = 2

    for key in order:
        if key not in state:
            visit(key)
    return back


def _snntorch_recurrent(nodes: dict[str, Any], edges: list[tuple[str, str]]) -> set[str]:
    """The LIF and CubaLIF nodes snnTorch's import turns into RLeaky/RSynaptic: in a 2-cycle
    with an Affine or Linear node that has no other edge (its _replace_rnn_subgraph rule, on
    the flattened graph: a subgraph's pass-throughs skipped)."""
    def skip(key: str, forward: bool) -> str:
        while _kind(nodes[key]) == PASS_THROUGH:
            nxt = [p for a, p in edges if a == key] if forward else [a for a, p in edges if p == key]
            if len(nxt) != 1:
                break
            key = nxt[0]
        return key
    found = set()
    for key, node in nodes.items():
        if _kind(node) not in ("Affine", "Linear"):
            continue
        outs = {skip(p, True) for a, p in edges if a == key}
        ins = {skip(a, False) for a, p in edges if p == key}
        if len(outs) == 1 and outs == ins and _kind(nodes[next(iter(outs))]) in ("LIF", "CubaLIF"):
            found.add(next(iter(outs)))
    return found
