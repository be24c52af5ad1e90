"""Synaptic connectivity: `Sparse` holds one weight and one delay (in steps) per synapse.

The kernel delivers spikes event-driven, row by row of presynaptic neuron (CSR), so a step
costs spikes x fan-out, not N^2. Every constructor checks indices, weights and delays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import InputError
from . import memory

MAX_NEURONS = 2**31 - 1  # a synapse's target is a 32-bit index


@dataclass(frozen=True, eq=False)
class Sparse:
    """Synapses from `n_pre` to `n_post` neurons: parallel arrays pre, post, weight, delay (>= 0:
    a network projection of delay 0 delivers within the step, as a convolution does in NIR;
    a single population's connections, drives and plastic synapses need >= 1)."""

    pre: np.ndarray
    post: np.ndarray
    weight: np.ndarray
    delay: np.ndarray
    n_pre: int
    n_post: int

    def __post_init__(self) -> None:
        for name in ("pre", "post", "weight", "delay"):  # private, read-only copies: checked
            array = np.array(getattr(self, name))       # once, they cannot change before a run
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        _check(self)

    @classmethod
    def from_arrays(cls, pre: npt.ArrayLike, post: npt.ArrayLike, weight: npt.ArrayLike,
                    delay: npt.ArrayLike = 1, n_pre: int | None = None,
                    n_post: int | None = None) -> Sparse:
        """Synapses pre[k] -> post[k]; `weight` and `delay` are scalars or one value per synapse."""
        pre, post = _indices(pre, "pre"), _indices(post, "post")
        if pre.shape != post.shape:
            raise InputError(f"Sparse: pre and post must have the same length, got {pre.size} "
                             f"and {post.size}")
        n_pre = int(pre.max() + 1 if pre.size else 0) if n_pre is None \
            else _size(n_pre, "n_pre", None)
        n_post = int(post.max() + 1 if post.size else 0) if n_post is None \
            else _size(n_post, "n_post", None)
        return cls(pre, post, _per_synapse(weight, pre.size, "weight", float),
                   _per_synapse(delay, pre.size, "delay", None), n_pre, n_post)

    @classmethod
    def random(cls, n_post: int, n_pre: int, p: float, weight: npt.ArrayLike,
               delay: npt.ArrayLike = 1, seed: int = 0, allow_self: bool | None = None, *,
               allow_autapses: bool | None = None, pre: npt.ArrayLike | None = None,
               post: npt.ArrayLike | None = None) -> Sparse:
        """Each pair connected independently with probability `p` (NumPy generator `seed`).

        Positionally the order is (n_post, n_pre), as a weight matrix's shape; name them
        (`Sparse.random(n_pre=80, n_post=20, p=0.2, weight=2.0)`) to read in the order of the rest
        of the API. `pre` (and `post`) restrict the synapses to those neuron indices of the
        populations, whose sizes stay n_pre and n_post. `allow_autapses` (default False, unlike
        Brian2's `connect(p=...)`, which keeps i == j) drops the pairs whose presynaptic index
        equals the postsynaptic one: a population connected onto itself. `allow_self` is its
        older name.
        """
        autapses = _autapses(allow_autapses, allow_self)
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) \
                or not 0 <= p <= 1:
            raise InputError(f"Sparse.random: p must be a number in [0, 1], got {p!r}")
        n_pre, n_post = _size(n_pre, "n_pre"), _size(n_post, "n_post")
        memory.check_copy(n_post * 24, f"Sparse.random's draws for {n_post} targets")
        sources = _subset(pre, n_pre, "pre")
        targets_all = _subset(post, n_post, "post")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise InputError(f"Sparse.random: seed must be a whole number >= 0, got {seed!r}")
        rng = np.random.default_rng(seed)
        pre_rows: list[np.ndarray] = []
        post_rows: list[np.ndarray] = []
        for j in sources:  # one presynaptic row at a time keeps memory at O(synapses)
            targets = targets_all[rng.random(targets_all.size) < p]
            if not autapses:
                targets = targets[targets != j]
            pre_rows.append(np.full(targets.size, j, np.int64))
            post_rows.append(targets)
        pre_indices = np.concatenate(pre_rows) if pre_rows else np.zeros(0, np.int64)
        post_indices = np.concatenate(post_rows) if post_rows else np.zeros(0, np.int64)
        return cls.from_arrays(pre_indices, post_indices, weight, delay, n_pre=n_pre,
                               n_post=n_post)

    @classmethod
    def from_scipy(cls, matrix: Any, delay: npt.ArrayLike = 1) -> Sparse:  # scipy is optional
        """From a SciPy sparse matrix M with M[i, j] the weight from j to i (scipy is optional)."""
        try:
            coo = matrix.tocoo()
        except AttributeError:
            raise InputError("Sparse.from_scipy needs a scipy.sparse matrix") from None
        n_post, n_pre = coo.shape
        return cls.from_arrays(coo.col, coo.row, coo.data, delay, n_pre=n_pre, n_post=n_post)

    @property
    def n_synapses(self) -> int:
        return int(self.pre.size)

    @property
    def max_delay(self) -> int:
        return int(self.delay.max()) if self.delay.size else 1

    def csr(self, dtype: npt.DTypeLike) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64],
                                                 np.ndarray, npt.NDArray[np.int64]]:
        """(row_start (n_pre + 1,), post, weight, delay) sorted by presynaptic neuron, stably."""
        order = np.argsort(self.pre, kind="stable")
        row_start = np.zeros(self.n_pre + 1, np.int64)
        np.cumsum(np.bincount(self.pre, minlength=self.n_pre), out=row_start[1:])
        return (row_start, np.ascontiguousarray(self.post[order], np.int64),
                np.ascontiguousarray(self.weight[order], dtype),
                np.ascontiguousarray(self.delay[order], np.int64))

    def to_dense(self) -> npt.NDArray[np.float64]:
        """W[i, j], the summed weight from j to i (for tests and small networks)."""
        memory.check_copy(self.n_post * self.n_pre * 8, "Sparse.to_dense's matrix")
        dense = np.zeros((self.n_post, self.n_pre))
        np.add.at(dense, (self.post, self.pre), self.weight)
        return dense

    def __repr__(self) -> str:
        return (f"<Sparse {self.n_pre} -> {self.n_post}: {self.n_synapses} synapses, delays "
                f"{int(self.delay.min()) if self.delay.size else 1}..{self.max_delay} steps>")


def _autapses(allow_autapses: bool | None, allow_self: bool | None) -> bool:
    """Whether Sparse.random keeps i -> i pairs: `allow_autapses`, or its older name."""
    if allow_autapses is not None and allow_self is not None and allow_autapses != allow_self:
        raise InputError("Sparse.random: allow_self is the older name of allow_autapses; give one")
    chosen = allow_autapses if allow_autapses is not None else allow_self
    if chosen is not None and not isinstance(chosen, (bool, np.bool_)):
        raise InputError(f"Sparse.random: allow_autapses must be True or False, got {chosen!r}")
    return bool(chosen)


def _size(value: object, what: str, most: int | None = MAX_NEURONS) -> int:
    """A population's size: a whole number of neurons (at most `most`: Sparse.random draws
    targets of 32-bit indices; a run checks the sizes it is given)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0 \
            or most is not None and value > most:
        bound = f"in 0..{most}" if most is not None else ">= 0"
        raise InputError(f"Sparse: {what} must be a whole number of neurons {bound}, "
                         f"got {value!r}")
    return int(value)


def _subset(indices: npt.ArrayLike | None, size: int, what: str) -> npt.NDArray[np.int64]:
    """Neuron indices `indices` of a population of `size` (all of them when None), each once,
    in the order given."""
    if indices is None:
        return np.arange(size, dtype=np.int64)
    chosen = _indices(indices, what)
    if chosen.size and (chosen.min() < 0 or chosen.max() >= size):
        raise InputError(f"Sparse.random: {what} indices must be in 0..{size - 1}")
    if np.unique(chosen).size != chosen.size:
        raise InputError(f"Sparse.random: {what} indices must each appear once")
    return chosen


def _indices(values: npt.ArrayLike, what: str) -> npt.NDArray[np.int64]:
    array = np.asarray(values)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise InputError(f"Sparse: {what} must be a 1-D array of integer neuron indices")
    return array.astype(np.int64)


def _per_synapse(value: npt.ArrayLike, size: int, what: str, kind: type[float] | None
                 ) -> np.ndarray:
    array = np.asarray(value)
    if kind is None:
        if not np.issubdtype(array.dtype, np.integer):
            raise InputError(f"Sparse: {what} must be whole steps (integers), got {array.dtype}")
        array = array.astype(np.int64)
    else:
        if array.dtype.kind not in "biuf":
            raise InputError(f"Sparse: {what} must be real numbers, got {array.dtype} values")
        array = array.astype(float)
    if array.ndim == 0:
        return np.full(size, array[()], array.dtype)
    if array.shape != (size,):
        raise InputError(f"Sparse: {what} must be a scalar or have one value per synapse "
                         f"({size}), got shape {array.shape}")
    return array


def _check(sparse: Sparse) -> None:
    for what, indices, limit in (("pre", sparse.pre, sparse.n_pre),
                                 ("post", sparse.post, sparse.n_post)):
        if indices.size and (indices.min() < 0 or indices.max() >= limit):
            raise InputError(f"Sparse: {what} indices must lie in 0..{limit - 1}; found "
                             f"{int(indices.min())}..{int(indices.max())}")
    if not np.all(np.isfinite(sparse.weight)):
        raise InputError("Sparse: weights contain NaN or infinite values")
    if sparse.delay.size and sparse.delay.min() < 0:
        raise InputError(f"Sparse: delays are whole steps >= 0; found {int(sparse.delay.min())}")
