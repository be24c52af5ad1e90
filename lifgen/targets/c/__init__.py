"""The C target: kernels in C99 with OpenMP, built with cffi, run on NumPy arrays."""

from .target import TARGET  # noqa: F401
