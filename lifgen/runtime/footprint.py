"""What a run will allocate, by what it is for, in bytes, estimated from its arguments before
any array of the run is made (memory.check compares the sum with the limit): the synapses'
arrays (CSR, dense weights, delay rings, plastic states and spike histories, drives and their
sources) and what a coupled run's program adds. A single population's and a network's run
count with the same functions."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..ir.model import Model
from .connectivity import Sparse
from .plasticity import Synapses
from .sources import SOURCES, SpikeTrain, PoissonInput

INDEX = 8  # bytes of an int64 index
# A sparse projection as the network program reads it: per synapse a 32-bit target, its weight
# and, while it is laid out, the lexsort order, the presynaptic index and the run flags.
LAYOUT_INDEX_BYTES = 4 + 8 + 8 + 1
# The CSR a run lays out per synapse (post, delay and the sort order, int64), besides the weight.
CSR_INDEX_BYTES = 3 * INDEX


def sparse_bytes(sparse: Sparse, item: int, coupled: bool) -> int:
    """The CSR of `sparse` (and, in a coupled run, its delay-run layout)."""
    return sparse_bytes_of(sparse.n_synapses, sparse.n_pre, item, coupled)


def weights_bytes(value: Any, n_neurons: int, item: int, coupled: bool) -> int:
    """One synapse type's connections: a Sparse's CSR, or an array's copy in the kernel's float
    type (a dense one transposed: read by presynaptic neuron) with its finiteness scan."""
    if value is None:
        return 0
    if isinstance(value, Synapses):
        return sparse_bytes(value.sparse, item, coupled)
    if isinstance(value, Sparse):
        return sparse_bytes(value, item, coupled)
    return _size(value) * (2 * item + 1)


def _size(value: Any) -> int:
    """The number of values in an array-like (0 for what is no array: refused later)."""
    try:
        return int(np.size(value))
    except (TypeError, ValueError):
        return 0


def plastic_bytes(synapses: Synapses, rows: int, slots: int, n_post: int, item: int) -> int:
    """A plastic synapse set's per-run arrays: states with their last event times (float64;
    twice: the Result's state keeps a copy for a run that continues it), parameters, the CSC
    index, the sort orders and the presynaptic spike history."""
    n = synapses.sparse.n_synapses
    n_states, n_params = len(synapses.model.state_names), len(synapses.model.parameter_names)
    return (2 * rows * n * (1 + n_states) * 8 + n * n_params * item + n * 4 * INDEX
            + (n_post + 1) * INDEX + 2 * rows * slots * synapses.sparse.n_pre)


def drive_bytes(drive: Any, n_neurons: int, n_steps: int, item: int, coupled: bool) -> int:
    """An external drive (source, W): its weights as a Sparse and the source's table: a
    probability per step and source (copied to float64 for the program), or a played-back
    train's events by step."""
    if not (isinstance(drive, tuple) and len(drive) == 2 and isinstance(drive[0], SOURCES)):
        return 0
    source, weights = drive
    sparse = weights.sparse if isinstance(weights, Synapses) else weights
    if isinstance(sparse, Sparse):
        total = sparse_bytes(sparse, item, coupled)
    else:  # an array: made a Sparse of its nonzero entries first
        total = _size(sparse) * (1 + 2 * INDEX + 8) \
            + sparse_bytes_of(_size(sparse), source.n, item, coupled)
    return total + source_bytes(source, source.n, n_steps)


def source_bytes(source: Any, n: int, n_steps: int) -> int:
    """A spike source's arrays for a run: a played-back train's events by step (its start
    index per step, its sort order and events), or the draws' table of probabilities (or rates)
    per step and source, in float64 and the program's copy; a played-back array is read as
    given."""
    if isinstance(source, SpikeTrain):
        return (n_steps + 1) * INDEX + _size(source.steps) * 3 * INDEX
    if not isinstance(source, (*SOURCES, PoissonInput)):
        return 0
    table = getattr(source, "rate", getattr(source, "p", 0.0))
    size = n if isinstance(table, str) else max(_size(table), n)
    return size * 3 * 8


def sparse_bytes_of(n_synapses: int, n_pre: int, item: int, coupled: bool) -> int:
    """`sparse_bytes` of a Sparse of `n_synapses` from `n_pre` sources (not made yet)."""
    total = n_synapses * (CSR_INDEX_BYTES + item) + (n_pre + 1) * INDEX
    return total + (n_synapses * (LAYOUT_INDEX_BYTES + item) + (n_pre + 2) * INDEX
                    if coupled else 0)


def max_delay(value: Any) -> int:
    """The longest delay in steps of connections or a drive's weights (arrays: one step)."""
    sparse = value.sparse if isinstance(value, Synapses) else value
    return sparse.max_delay if isinstance(sparse, Sparse) else 1


def synapse_trace_bytes(record_synapses: Any, synapses: Mapping[str, Any], n_steps: int,
                        rows: int, item: int) -> int:
    """The recorded synapses' states at every step (record_synapses={type: indices})."""
    if not isinstance(record_synapses, Mapping):
        return 0
    total = 0
    for name, indices in record_synapses.items():
        plastic = synapses.get(name)
        if isinstance(plastic, Synapses):
            total += n_steps * rows * len(plastic.model.state_names) * _size(indices) * item
    return total


def synapse_parts(model: Model, n_constants: int, inhibition: bool, item: int, n_steps: int,
                  rows: int, n_neurons: int, connections: Mapping[str, Any],
                  drives: Mapping[str, Any], record_synapses: Any) -> dict[str, int]:
    """What the synapses of a single population's run will allocate: connections, delay rings,
    plastic synapses, drives and recorded synapse states, and, in a coupled run (connections,
    drives or winner-take-all), its program's own arrays: its rings again and a row per
    parameter, constant and synapse type."""
    coupled = bool(connections or drives or inhibition)
    rings = plastic = 0
    plastic_sets = {}  # synapse type -> its plastic Synapses
    for name in model.synapse_names:
        connection, drive = connections.get(name), drives.get(name)
        weights = drive[1] if isinstance(drive, tuple) and len(drive) == 2 else None
        ringed = [v for v in (connection, weights) if isinstance(v, (Synapses, Sparse))]
        if weights is not None and not isinstance(weights, (Synapses, Sparse)):
            ringed.append(weights)  # a drive's array weights: one step's delay
        slots = max([max_delay(v) + 1 for v in ringed] or [0])
        # the run's, the program's and the copy the Result keeps for a continued run
        rings += rows * slots * n_neurons * item * (3 if coupled else 1)
        for given in (connection, weights):
            if isinstance(given, Synapses):
                plastic_sets[name] = given
                plastic += plastic_bytes(given, rows, max(slots, 1), n_neurons, item)
    program = (len(model.parameter_names) + n_constants + len(model.synapse_names) + 3) \
        * n_neurons * item + n_neurons * INDEX if coupled else 0
    return {"connections": sum(weights_bytes(v, n_neurons, item, coupled)
                               for v in connections.values()),
            "delay rings": rings, "plastic synapses": plastic,
            "drives": sum(drive_bytes(v, n_neurons, n_steps, item, coupled)
                          for v in drives.values()),
            "synapse traces": synapse_trace_bytes(record_synapses, plastic_sets, n_steps, rows,
                                                  item),
            "coupled program's arrays": program}
