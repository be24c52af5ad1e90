"""Continuing a run: which of a network program's arrays carry spikes and synapse states from
one step to the next (kept in the Result's `state.pending`), and putting them back into the
arrays of the run that continues it, refused with the reason where they do not fit."""

from __future__ import annotations

import functools
import re
from typing import Any, Mapping

import numpy as np

from ..errors import InputError
from ..results.continuation import Pending

# The program's buffers that outlive a step: each population's spikes of the last step (read
# at arrival, and by on_post at the next step's start) and delay rings, each plastic
# projection's per-synapse states and presynaptic spike history.
CARRIED = re.compile(r"lg_P\d+_(fired|ring_.+)|lg_J\d+_(states|history)")
AFRESH = "pass dict(result.state) to start afresh from the states alone"


def carried(initial: Any) -> Pending | None:
    """The Pending that `initial` (a Result's state, or a plain dict) carries, if any."""
    pending = getattr(initial, "pending", None)
    if pending is not None and not isinstance(pending, Pending):
        raise InputError(f"initial.pending must be a lifgen Pending (from Result.state), got "
                         f"{type(pending).__name__}")
    return pending


def kept(buffers: Mapping[str, np.ndarray], own: bool = False) -> dict[str, np.ndarray]:
    """Copies of the buffers a continued run needs, by name; with `own` (the buffers are the
    run's own, allocated for it), the spikes of the last step and the delay rings as they are,
    as nothing else holds them (a plastic projection's synapses are copied: its Result's are
    views of them)."""
    return {name: buffers[name] if own and name.startswith("lg_P") else np.array(buffers[name])
            for name in _carried(tuple(buffers))}


@functools.lru_cache(maxsize=64)
def _carried(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for name in names if CARRIED.fullmatch(name))


def restore(pending: Pending | None, buffers: Mapping[str, np.ndarray], made_by: str) -> int:
    """Copy what `pending` carries into the run's `buffers` (in place) and return its clock
    (0 without one). A carry from another model or network, or whose arrays this run does not
    have in the same shapes (other connections, delays or batch rows), is refused: its spikes
    would be lost or misplaced."""
    if pending is None:
        return 0
    if pending.buffers and pending.made_by != made_by:
        raise InputError(f"initial= carries the spikes in flight of a run of {pending.made_by}; "
                         f"this is a run of {made_by}: continue a run with the same model and "
                         f"connections, or {AFRESH}")
    for name, array in pending.buffers.items():
        target = buffers.get(name)
        if target is None or target.shape != array.shape or target.dtype != array.dtype:
            raise InputError(
                "initial= carries spikes in flight (delay rings, the last step's spikes, plastic "
                f"synapses) that this run has no place for ({name}: "
                f"{'absent' if target is None else f'shape {target.shape}'} here, "
                f"{array.shape} there): continue with the same connections, drives, delays "
                f"and batch rows, or {AFRESH}")
        np.copyto(target, array)
    return pending.clock
