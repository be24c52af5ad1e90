"""Named kinds of synaptic weights and external drives: how a run lays out one synapse type's
arrays (runtime/prepare.py), which its one-population network turns into projections and source
populations (runtime/coupled_run.py)."""

from enum import IntEnum


class WeightKind(IntEnum):
    """How the weights of one synapse type are stored."""

    NONE = 0        # unconnected
    ONE_TO_ONE = 1  # one weight per neuron, from itself (N,)
    DENSE = 2       # [presynaptic][postsynaptic]
    SPARSE = 3      # CSR by presynaptic neuron, with delays through a ring
    PLASTIC = 4     # CSR as SPARSE, with per-synapse states a synapse model changes at events


class DriveKind(IntEnum):
    """Where the spikes of an external drive come from."""

    NONE = 0
    RANDOM = 1    # a spike probability per step and source (Poisson, Bernoulli)
    PLAYBACK = 2  # recorded events, in CSR by step (SpikeTrain)

