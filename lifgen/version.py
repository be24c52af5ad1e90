"""lifgen's version: one place, read by the package, the generated code's header and the build."""

__version__ = "0.1.0"
