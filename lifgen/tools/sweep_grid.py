"""A sweep's grid, for single populations and networks alike: its axes (a Cartesian product or
paired values), the tasks that split it, and the xarray module that holds the result."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Iterable, Mapping, Union

import numpy as np
import numpy.typing as npt

from ..errors import InputError, LifgenError
from ..ir.model import Quantity
from ..runtime import executors, memory, prepare

# compile() options: a sweep over one of them is a sweep over simulators, not over runs
COMPILE_OPTIONS = ("dt", "method", "dtype", "reset", "reset_timing", "reset_delay",
                   "graded_spikes", "inhibition", "state_quant", "precise", "threads", "tile",
                   "portable", "fma", "flush_denormals", "target")
TASK_SECONDS = 0.5  # the least a task should last on a cluster: its round trip costs ~10 ms


@dataclass(frozen=True)
class ZipGrid:
    """Axes whose values go together along one dimension, instead of a Cartesian product."""

    names: tuple[str, ...]
    values: tuple[np.ndarray, ...]


def zip_grid(**axes: npt.ArrayLike) -> ZipGrid:
    """Paired values: zip_grid(tau=[10, 20], R=[1, 2]) is two grid points, not four."""
    if not axes:
        raise InputError("zip_grid needs at least one name=values")
    values = tuple(axis_values(name, v) for name, v in axes.items())
    lengths = {name: len(v) for name, v in zip(axes, values)}
    if len(set(lengths.values())) > 1:
        raise InputError(f"zip_grid: paired values must have one length; got {lengths}")
    return ZipGrid(tuple(axes), values)


@dataclass(frozen=True)
class Axis:
    """One dimension of a sweep: the quantities set along it and their values."""

    dim: str
    names: tuple[str, ...]
    values: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return len(self.values[0])


@dataclass(frozen=True)
class Task:
    """Grid points `first` .. `first + count` at one seed: what one worker runs."""

    seed: int
    first: int  # the first grid point (flat, C order)
    count: int  # grid points packed into its population


# what a sweep runs over: names -> values (a Cartesian product), or paired values
Grid = Union[Mapping[str, Union[npt.ArrayLike, ZipGrid]], ZipGrid]


def axis_values(name: str, values: npt.ArrayLike) -> np.ndarray:
    """A grid axis's values, checked: a non-empty 1-D sequence of finite numbers."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"grid[{name!r}] must be numbers") from None
    if array.ndim != 1 or array.size == 0:
        raise InputError(f"grid[{name!r}] must be a non-empty 1-D sequence of values, got shape "
                         f"{array.shape}")
    if not np.all(np.isfinite(array)):
        raise InputError(f"grid[{name!r}] contains NaN or infinite values")
    return array


def xarray_module() -> ModuleType:
    """xarray (an optional extra), or an error saying how to install it."""
    try:
        import xarray
    except ImportError:
        raise LifgenError(f"sweep returns an xarray.Dataset: {executors.DASK_HINT} (or pip install "
                          "xarray)") from None
    return xarray


def grid_axes(grid: Grid, names: str) -> list[Axis]:
    """The axes of `grid` (one per name, or one "point" axis of paired values), each name set
    once; `names` says in the error what a grid maps ("parameter or input names")."""
    if isinstance(grid, ZipGrid):
        axes = [Axis("point", grid.names, grid.values)]
    elif isinstance(grid, Mapping) and grid:
        axes = [Axis(dim, v.names, v.values) if isinstance(v, ZipGrid)
                else Axis(dim, (dim,), (axis_values(dim, v),)) for dim, v in grid.items()]
    else:
        raise InputError(f"grid must map {names} to values (or be a lifgen.zip_grid), and name "
                         "at least one")
    named = [name for axis in axes for name in axis.names]
    repeated = sorted({n for n in named if named.count(n) > 1})
    if repeated:
        raise InputError(f"grid sets {repeated} more than once")
    return axes


def seed_list(seeds: npt.ArrayLike | None) -> list[int]:
    """The seeds of a sweep's seed dimension ([0] without one), each a whole number >= 0 and
    given once (a repeated seed filled one row twice and left another zero)."""
    if seeds is None:
        return [0]
    found = [prepare.count(s, "seeds", minimum=0) for s in
             np.atleast_1d(np.asarray(seeds, dtype=object))]
    if not found:
        raise InputError("seeds must not be empty")
    repeated = sorted({s for s in found if found.count(s) > 1})
    if repeated:
        raise InputError(f"seeds gives {repeated} more than once; each seed is one row of the "
                         "seed dimension")
    return found


def check_traced_names(traced: Mapping[str, str], taken: Iterable[str]) -> None:
    """Refuse a traced state whose variable (traced: state -> variable name) would be one the
    sweep's Dataset uses for its own dimensions or variables: it replaced them silently, or
    failed after the whole sweep."""
    for state, variable in traced.items():
        if variable in set(taken):
            raise InputError(f"record: the trace of state {state!r} would be the Dataset's "
                             f"{variable!r}, which the sweep uses for its own; a state of that "
                             "name cannot be traced in a sweep (rename it in the model file)")


def check_dataset_names(axes: Iterable[Axis], taken: Iterable[str],
                        event_prefixes: Iterable[str]) -> None:
    """Refuse a grid name or axis whose name the sweep's dataset already uses for a dimension or
    a variable (`taken`), or whose events-table column (prefix + axis) would be one, before
    any work: they merged silently with the dimension, or failed after the whole sweep."""
    axes, taken = list(axes), set(taken)
    swept = {name for axis in axes for name in axis.names}
    for axis in axes:
        for name in dict.fromkeys((axis.dim, *axis.names)):
            if name in taken:
                raise InputError(f"grid: {name!r} is a name the sweep's dataset uses for a "
                                 f"dimension or variable ({', '.join(sorted(taken))}); sweep "
                                 "it under another name (a model quantity of that name cannot "
                                 "be swept)")
        if axis.dim in swept - set(axis.names):
            raise InputError(f"grid: the axis {axis.dim!r} has the name of a quantity another "
                             "axis sweeps; name the axis otherwise")
        for column in (prefix + axis.dim for prefix in event_prefixes):
            if column in taken | swept:
                raise InputError(f"grid: axis {axis.dim!r} would name its events column "
                                 f"{column!r}, which the sweep's dataset uses already; name "
                                 "the axis otherwise")


def check_assembly(parts: Mapping[str, int], max_memory: float | None) -> None:
    """Refuse, before any work, a sweep whose assembled Dataset (and the tasks' outputs it is
    built from) would not fit: each task fits on its own, the whole may not."""
    total, allowed = sum(parts.values()), memory.limit(max_memory)
    if total > allowed:
        detail = ", ".join(f"{what} {size / 2**30:.3g} GiB" for what, size in
                           sorted(parts.items(), key=lambda item: -item[1]) if size)
        raise InputError(f"this sweep needs about {total / 2**30:.3g} GiB to assemble its "
                         f"dataset ({detail}), more than the {allowed / 2**30:.3g} GiB allowed: "
                         "sweep fewer points, seeds or neurons, trace fewer states, neurons or "
                         "steps, or raise sweep(max_memory=...) (bytes)")


def fixed_quantities(quantities: Iterable[Quantity], given: Mapping[str, object],
                     swept: Iterable[str], prefix: str = "", kind: str = "param"
                     ) -> tuple[list[str], dict[str, object]]:
    """What a sweep held fixed, for its Dataset's attributes: a line per quantity not swept
    ("tau_m = 20 ms (default)", "I = Step(...)") and its value as a number attribute
    (`param_tau_m`) where it is a number or one per neuron."""
    swept = set(swept)
    lines: list[str] = []
    numbers: dict[str, object] = {}
    for q in quantities:
        if q.name in swept:
            continue
        value = given.get(q.name, q.value)
        if value is None:
            value = 0.0 if kind == "input" else None
        value = prepare.in_declared_units({q.name: value}, (q,), kind + "s")[q.name] \
            if isinstance(value, str) else value
        unit = f" {q.unit}" if q.unit else ""
        note = "" if q.name in given else " (default)" if kind == "param" else " (not given)"
        array = np.asarray(value) if isinstance(value, (int, float, np.number, np.ndarray, list)) else None
        if array is not None and array.dtype.kind in "iuf" and array.ndim <= 1:
            numbers[f"{kind}_{prefix.replace('.', '_')}{q.name}"] = \
                float(array) if array.ndim == 0 else array.astype(float)
            text = f"{float(array):g}{unit}" if array.ndim == 0 else \
                f"{array.min():g} .. {array.max():g}{unit}, one per neuron ({array.size} values)"
        elif array is not None:
            text = f"an array of shape {array.shape}{unit}"
        else:
            text = "not set" if value is None else repr(value)
        lines.append(f"{prefix}{q.name} = {text}{note}")
    return lines, numbers
