"""Named kinds of synaptic weights and external drives, shared by Python and the generated C.

The kernel receives a kind as an integer; these enumerations are the one place that gives each
integer its meaning, and the C target writes them into the kernel as a C `enum`.
"""

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


KINDS = (WeightKind, DriveKind)


def c_enums() -> list[tuple[str, list[tuple[str, int]]]]:
    """Each kind as (C enum comment, [(C constant name, value), ...])."""
    return [(kind.__doc__ or kind.__name__,
             [(f"LG_{kind.__name__.upper().removesuffix('KIND')}_{member.name}", int(member)) for member in kind])
            for kind in KINDS]
