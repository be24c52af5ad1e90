"""The cuda target: the same models on an NVIDIA GPU, one thread per neuron, with the C target's
numbers (FMA contraction off, propagators computed on the host by the C target's code); networks
run each population's phases as kernels (network.py)."""

from .target import TARGET  # noqa: F401
