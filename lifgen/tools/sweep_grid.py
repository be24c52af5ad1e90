"""A sweep's grid, for single populations and networks alike: its axes (a Cartesian product or
paired values), the tasks that split it, and the xarray module that holds the result."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Mapping, Union

import numpy as np
import numpy.typing as npt

from ..errors import InputError, LifgenError
from ..runtime import executors

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
