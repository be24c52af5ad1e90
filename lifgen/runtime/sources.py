"""External spike sources that drive a population inside the kernel: Poisson, Bernoulli, playback.

Random sources draw from a counter-based generator keyed by (seed, step, batch row, source), so
a run is reproducible from its seed whatever the chunking, and no step returns to Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import InputError
from ..frontend.units import UnitError, parse_unit, to_unit


@dataclass(frozen=True, eq=False)
class Poisson:
    """`n` independent Poisson sources; `rate` (spikes per unit of the model's time) is a scalar,
    an (n,) array or a (T, n) array. A step spikes with probability rate*dt, as in Brian2."""

    n: int
    rate: object
    seed: int = 0

    def probabilities(self, n_steps: int, dt: float | None, time_unit: str = ""
                      ) -> npt.NDArray[np.float64]:
        """Spike probability per step; a rate given with a unit ("15 Hz") is converted into
        the model's time unit."""
        if dt is None:
            raise InputError("Poisson rates need a time step; a discrete map has none: use "
                             "lifgen.Bernoulli(n, p) for a spike probability per step")
        p = _table(_per_time(self.rate, time_unit), self.n, n_steps, "Poisson rate") * dt
        if p.max(initial=0.0) > 1:
            raise InputError(f"Poisson: rate*dt = {p.max():g} > 1; lower the rate or dt")
        return p


@dataclass(frozen=True, eq=False)
class PoissonInput:
    """`n` targets, each receiving the events of `sources` independent Poisson processes of
    `rate` (NEST's poisson_generator, Brian2's PoissonInput): a Poisson number of events per
    step, of mean sources*rate*dt, each carrying its projection's weight. A network source."""

    n: int
    rate: object
    sources: int = 1
    seed: int = 0

    def probabilities(self, n_steps: int, dt: float | None,
                      time_unit: str = "") -> np.ndarray:
        """The mean number of events per step of each target (any size: counts, not flags)."""
        if dt is None:
            raise InputError("PoissonInput rates need a time step; a discrete map has none")
        if isinstance(self.sources, bool) or not isinstance(self.sources, (int, np.integer)) \
                or self.sources < 1:
            raise InputError(f"PoissonInput: sources must be a whole number >= 1, got "
                             f"{self.sources!r}")
        mean = _table(_per_time(self.rate, time_unit), self.n, n_steps, "PoissonInput rate") \
            * dt * self.sources
        if mean.max(initial=0.0) > MAX_EVENTS_MEAN:
            raise InputError(f"PoissonInput: {mean.max():g} events per step on average is above "
                             f"{MAX_EVENTS_MEAN:g}; lower the rate, the sources or dt")
        return mean


MAX_EVENTS_MEAN = 20.0  # per target and step: the draw multiplies uniforms until exp(-mean)


@dataclass(frozen=True, eq=False)
class Bernoulli:
    """`n` sources that spike with probability `p` each step (snnTorch's `spikegen.rate`);
    `p` is a scalar, an (n,) array or a (T, n) array."""

    n: int
    p: object
    seed: int = 0

    def probabilities(self, n_steps: int, dt: float | None, time_unit: str = ""
                      ) -> npt.NDArray[np.float64]:
        p = _table(self.p, self.n, n_steps, "Bernoulli p")
        if p.min(initial=0.0) < 0 or p.max(initial=0.0) > 1:
            raise InputError("Bernoulli: p must lie in [0, 1]")
        return p


@dataclass(frozen=True, eq=False)
class SpikeTrain:
    """Recorded spikes played back: source `indices[k]` spikes at step `steps[k]`, in any order."""

    n: int
    steps: object
    indices: object

    def events(self, n_steps: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(start (n_steps + 1,), sources) in CSR by step: the spikes of step t are
        sources[start[t]:start[t + 1]]."""
        steps, indices = (np.asarray(a) for a in (self.steps, self.indices))
        for what, array in (("steps", steps), ("indices", indices)):
            if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
                raise InputError(f"SpikeTrain: {what} must be a 1-D array of integers")
        if steps.shape != indices.shape:
            raise InputError("SpikeTrain: steps and indices must have the same length")
        if indices.size and (indices.min() < 0 or indices.max() >= self.n):
            raise InputError(f"SpikeTrain: indices must lie in 0..{self.n - 1}")
        if steps.size and steps.min() < 0:
            raise InputError("SpikeTrain: steps must be >= 0")
        keep = steps < n_steps
        order = np.argsort(steps[keep], kind="stable")
        start = np.zeros(n_steps + 1, np.int64)
        np.cumsum(np.bincount(steps[keep], minlength=n_steps), out=start[1:])
        return start, np.ascontiguousarray(indices[keep][order], np.int64)


SOURCES = (Poisson, Bernoulli, SpikeTrain)  # the drives of a single population


def _per_time(rate: object, time_unit: str) -> object:
    """A rate given as text with a unit ("15 Hz"), in spikes per unit of the model's time."""
    if not isinstance(rate, str):
        return rate
    if not time_unit:
        raise InputError(f"Poisson rate {rate!r} has a unit, but the model declares no time "
                         "unit: give the rate as a number per unit of the model's time")
    try:
        return to_unit(rate, parse_unit(f"1/{time_unit}"), "Poisson rate")
    except UnitError as error:
        raise InputError(str(error)) from None


def _table(value: object, n: int, n_steps: int, what: str) -> npt.NDArray[np.float64]:
    """A probability or rate as an array of shape (), (n,) or (T, n), as given."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be numbers") from None
    if array.shape not in ((), (n,), (n_steps, n)):
        raise InputError(f"{what} must be a scalar or have shape ({n},) or ({n_steps}, {n}); "
                         f"got {array.shape}")
    if not np.all(np.isfinite(array)) or array.min(initial=0.0) < 0:
        raise InputError(f"{what} must be finite and >= 0")
    return array


def strides(array: np.ndarray) -> tuple[int, int]:
    """(time stride, source stride) of a table from `_table`, in elements; 0 where it is shared."""
    return (array.shape[1] if array.ndim == 2 else 0), (1 if array.ndim else 0)
