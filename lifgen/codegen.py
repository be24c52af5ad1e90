"""Render a StepMap into C (a kernel that runs a population for many steps) and its cffi declaration.

SymPy's C99 printer writes each expression; the Jinja2 templates in `templates/` hold the loop
structure. Every user name reaches C only through `c_names`, which adds a prefix by kind.
"""

from dataclasses import dataclass

import jinja2
import sympy
from sympy.codegen.ast import float32, real
from sympy.printing.c import C99CodePrinter

from . import __version__
from .library import resource_dir
from .model import DT

DTYPES = {"float64": "double", "float32": "float"}
BLOCK = 256
KERNEL_FUNCTION = "lg_run"


@dataclass(frozen=True)
class KernelSource:
    """Generated C for one step map: the kernel source, its cffi cdef, and how it was made."""

    c_source: str
    cdef: str
    function: str
    dtype: str
    step_map: object


class _KernelPrinter(C99CodePrinter):
    """C99 printer that writes symbols through a fixed name table (never a raw user string)."""

    def __init__(self, names, dtype):
        settings = {"type_aliases": {real: float32}} if dtype == "float32" else {}
        super().__init__(settings)
        self.names = names

    def _print_Symbol(self, expr):
        return self.names[expr]


def _filters():
    return {"comment": lambda text: str(text).replace("*/", "* /").replace("\n", " ")}


def _environment():
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True)
    env.filters.update(_filters())
    return env


def c_names(step_map, new=False):
    """Symbol -> C name: states s_X (or n_X after the update), parameters p_X, inputs u_X."""
    model = step_map.model
    names = {DT: "lg_dt"}
    names.update({s: ("n_" if new else "s_") + s.name for s in model.state_symbols})
    names.update({p: "p_" + p.name for p in model.parameter_symbols})
    names.update({u: "u_" + u.name for u in model.input_symbols})
    names.update({k: k.name for k, _ in step_map.constants})
    return names


def render(step_map, dtype="float64"):
    """Generate the kernel C source and cdef for `step_map` in `dtype` ('float64' or 'float32')."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {tuple(DTYPES)}, got {dtype!r}")
    old = _KernelPrinter(c_names(step_map), dtype)
    new = _KernelPrinter(c_names(step_map, new=True), dtype)
    context = _context(step_map, dtype, old, new)
    env = _environment()
    return KernelSource(
        c_source=env.get_template("kernel.c.j2").render(k=context),
        cdef=env.get_template("kernel.cdef.j2").render(k=context),
        function=KERNEL_FUNCTION, dtype=dtype, step_map=step_map)


def _context(step_map, dtype, old, new):
    model = step_map.model
    in_loop = set().union(*(e.free_symbols for _, e in step_map.updates))
    in_loop |= set().union(set(), *(e.free_symbols for _, e in step_map.reset))
    in_loop |= step_map.spike.free_symbols

    def entry(sym, printer):
        return {"name": sym.name, "c": old.names[sym], "new": new.names.get(sym),
                "in_loop": sym in in_loop}

    return {
        "function": KERNEL_FUNCTION,
        "model": model.name,
        "description": model.description,
        "version": __version__,
        "method": step_map.method,
        "dt": step_map.dt,
        "dt_literal": None if step_map.dt is None else old.doprint(sympy.Float(step_map.dt)),
        "real": DTYPES[dtype],
        "block": BLOCK,
        "reset_mechanism": step_map.reset_mechanism,
        "reset_timing": step_map.reset_timing,
        "equations": step_map.equations(),
        "states": [entry(s, old) for s in model.state_symbols],
        "parameters": [entry(p, old) for p in model.parameter_symbols],
        "inputs": [entry(u, old) for u in model.input_symbols],
        "constants": [{"name": k.name.removeprefix("lg_"), "c": k.name, "code": old.doprint(e),
                       "comment": f"{k.name} = {sympy.sstr(e)}"} for k, e in step_map.constants],
        "updates": [{"new": new.names[s], "code": old.doprint(e),
                     "comment": f"{s} <- {sympy.sstr(e)}"} for s, e in step_map.updates],
        "resets": [{"new": new.names[s], "temp": "r_" + s.name, "code": new.doprint(e),
                    "comment": f"reset {s} <- {sympy.sstr(e)}"} for s, e in step_map.reset],
        "spike_code": new.doprint(step_map.spike),
        "spike_comment": f"spike if {step_map.spike}",
    }
