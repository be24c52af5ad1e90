"""The names of the integration methods: what a model file, `compile` and the CLI may name.

Plain data, so that the IR and the front end can check a name without the numerics; the
registry in numerics/methods.py gives each name its step, and holds exactly these names.
"""

BASE_METHODS = ("exact", "euler", "rk2", "heun", "rk4", "exponential_euler", "hybrid", "rkf45")
SUBSTEPS = (2, 4, 8)  # rk4 and hybrid also come as n steps of dt/n each, for fast synapses
SUBSTEPPED = ("hybrid", "rk4")


def substepped_name(base: str, n: int) -> str:
    """The registry name of `base` in n substeps: rk4_sub2."""
    return f"{base}_sub{n}"


METHOD_NAMES = (*BASE_METHODS, *(substepped_name(base, n) for n in SUBSTEPS for base in SUBSTEPPED))
METHOD_CHOICES = (*METHOD_NAMES, "auto")  # what compile, model files and the CLI accept for ODEs
ADAPTIVE = ("rkf45",)  # methods whose substeps adapt: no one step to write by hand
WRITTEN_STEPS = tuple(m for m in METHOD_NAMES if m not in ADAPTIVE)  # [equations.<method>]
