"""Render a StepMap into C (a kernel that runs a population for many steps) and its cffi declaration.

Expressions are printed from written trees, so C rounds exactly as the step map says; the Jinja2
templates in `templates/` hold the loops. Every user name reaches C only through `_names`,
which gives it a prefix by kind, so no model name can collide with C or with lifgen's own.
"""

from dataclasses import dataclass
import functools

import jinja2

from . import __version__
from .library import resource_dir
from .discretize import TAU
from .methods import NORMAL
from .model import DT, REFRACTORY_STATE, RESET, SPIKE, previous_symbol, symbol
from .written import CPrinter, Name, Num, Op, from_sympy, symbols, to_text

DTYPES = {"float64": "double", "float32": "float"}
TILES = {"float32": 64, "float64": 32}  # neurons per tile: a few vector registers of each state
KERNEL_FUNCTION = "lg_run"


@dataclass(frozen=True)
class KernelSource:
    """Generated C for one step map: the kernel source, its cffi cdef, and how it was made."""

    c_source: str
    cdef: str
    function: str
    dtype: str
    step_map: object
    options: dict
    work_size: int  # scratch values per neuron the kernel needs


@functools.lru_cache(maxsize=None)
def _environment():
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True)
    env.filters["comment"] = comment_text
    return env


def comment_text(text):
    """Free text (a description, a reference, a command) made safe inside a C comment or a
    Makefile or CMake comment line: one line, no comment delimiters, trigraphs or line splice."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(text))
    for old, new in (("*/", "* /"), ("/*", "/ *"), ("??", "? ?")):
        while old in text:
            text = text.replace(old, new)
    return text.rstrip(" \\")


def _names(step_map, new=(), previous=False, from_names=False, to_names=False):
    """Symbol -> C name: states s_X (n_X once updated), parameters p_X, inputs u_X, synapses y_X.

    In precise mode, `from_names`/`to_names` name the states lg_from_X/lg_to_X of a propagation.
    """
    model = step_map.model
    names = {DT: "lg_dt", SPIKE: "((lg_real)lg_spike)", RESET: "((lg_real)lg_reset)",
             TAU: "lg_tau", NORMAL: "lg_normal_z"}
    prefix = "lg_from_" if from_names else "lg_to_" if to_names else None
    names.update({s: prefix + s.name if prefix else ("n_" if s in new else "s_") + s.name
                  for s in model.state_symbols})
    names.update({p: "p_" + p.name for p in model.parameter_symbols})
    names.update({u: "u_" + u.name for u in model.input_symbols})
    names.update({y: "y_" + y.name for y in model.synapse_symbols})
    names.update({k: k.name for k, _ in step_map.constants + step_map.stages})
    if previous:
        names.update({previous_symbol(s.name): "s_" + s.name for s in model.state_symbols})
    return names


INPUT_LAYOUTS = ("held", "streamed", "time")
MODE_COMMENTS = {
    "independent": "tiles of {tile} neurons outside, time inside",
    "streaming": "chunks of steps outside, blocks of neurons inside (a streamed input is read in runs)",
    "coupled": "time outside, every neuron per step (coupled by synapses or inhibition)",
}


def loop_order(model, options):
    """Tiles with time inside for uncoupled neurons; time outside when coupled or streaming.

    A synapse that is an input of the equations (snnTorch's rec) always couples; one that
    increments a state (exc -> g_e) couples only when connections are given (`connected`).
    """
    if options["inhibition"] or options["connected"] \
            or any(y.target is None for y in model.synapses):
        return "coupled"
    if "streamed" in options["layouts"].values():
        return "streaming"
    return "independent"


def render(step_map, dtype="float64", graded_spikes=1.0, inhibition=False, state_quant=None,
           threads=1, tile=None, layouts=None, shared=None, connected=False,
           flush_denormals=False):
    """Generate the kernel C source and cdef for `step_map` in `dtype` ('float64' or 'float32').

    Uncoupled models get tiles of `tile` neurons advanced through all steps (shared among
    `threads` OpenMP threads); recurrence or inhibition put time outside. `layouts` maps each
    input to how it arrives: "held" (constant over time), "streamed" (a value per neuron and
    step) or "time" (one value per step); the default is "held" for all. Parameters named in
    `shared` have one value for every neuron, which the kernel then keeps in a register.
    `connected` asks for the coupled loop, for runs with connections. `flush_denormals` sets
    flush-to-zero while the kernel runs (x86).
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {tuple(DTYPES)}, got {dtype!r}")
    options = {"graded_spikes": float(graded_spikes), "inhibition": bool(inhibition),
               "state_quant": None if state_quant is None else [float(v) for v in state_quant],
               "threads": int(threads), "tile": int(tile or TILES[dtype]),
               "layouts": {u.name: (layouts or {}).get(u.name, "held")
                           for u in step_map.model.inputs},
               "shared": sorted(shared or ()), "connected": bool(connected),
               "flush_denormals": bool(flush_denormals)}
    context = _context(step_map, dtype, options)
    env = _environment()
    model = step_map.model
    work = len(model.parameters) + len(step_map.constants)
    if context["mode"] == "coupled":
        work += len(model.synapses) + sum(u["in_loop"] for u in context["inputs"]) + 3
    return KernelSource(
        c_source=env.get_template("kernel.c.j2").render(k=context),
        cdef=env.get_template("kernel.cdef.j2").render(k=context),
        function=KERNEL_FUNCTION, dtype=dtype, step_map=step_map, options=options,
        work_size=work)


def rerender(source, layouts, shared=(), connected=False):
    """The same kernel specialised for other input layouts, shared parameters or connections."""
    options = source.options
    return render(source.step_map, source.dtype, graded_spikes=options["graded_spikes"],
                  inhibition=options["inhibition"], state_quant=options["state_quant"],
                  threads=options["threads"], tile=options["tile"], layouts=layouts,
                  shared=shared, connected=connected, flush_denormals=options["flush_denormals"])


def _context(step_map, dtype, options):
    model = step_map.model
    states = model.state_symbols
    everything_new = set(states)

    def printer(new=(), previous=False):
        return CPrinter(_names(step_map, new, previous), dtype)

    updates, updated = [], set()
    for state, tree in step_map.updates:
        code = printer(updated if step_map.sequential else ()).print(tree)
        updates.append({"new": "n_" + state.name, "code": code,
                        "comment": f"{state} <- {to_text(tree)}"})
        updated.add(state)
    after = printer(everything_new, previous=True)
    spike_tree = model.spike_tree
    loop_trees = ([t for _, t in step_map.updates] + [t for _, t in step_map.stages]
                  + [t for _, t in step_map.propagator] + [t for _, t in step_map.reset]
                  + [t for _, t in step_map.correction] + [spike_tree])
    in_loop = set().union(*(symbols(t) for t in loop_trees))
    in_constants = set().union(set(), *(symbols(t) for _, t in step_map.constants))
    single = dtype == "float32"
    number = CPrinter({}, dtype).print

    mode = loop_order(model, options)

    shared = {symbol(n) for n in options["shared"]}

    def entry(sym):
        return {"name": sym.name, "c": _names(step_map)[sym], "in_loop": sym in in_loop,
                "in_constants": sym in in_constants, "shared": sym in shared}

    return {
        "function": KERNEL_FUNCTION,
        "model": model.name,
        "description": model.description,
        "version": __version__,
        "method": step_map.method,
        "dt": step_map.dt,
        "dt_literal": None if step_map.dt is None else number(_num(step_map.dt)),
        "real": DTYPES[dtype],
        "fabs": "fabsf" if single else "fabs",
        "expm1": "expm1f" if single else "expm1",
        "one": number(Num(1.0)),
        "tile": options["tile"],
        "threads": options["threads"],
        "mode": mode,
        "mode_comment": MODE_COMMENTS[mode].format(tile=options["tile"]),
        "coupling": "synapses" if model.synapses else "inhibition",
        "reset_mechanism": step_map.reset_mechanism,
        "reset_timing": step_map.reset_timing,
        "options": _describe_options(options),
        "equations": step_map.equations(),
        "units": ", ".join(f"{q.name} in {q.unit}" for q in (*model.states, *model.parameters,
                                                             *model.inputs) if q.unit)
        + (f"; dt in {model.time_unit}" if model.time_unit else ""),
        "states": [dict(entry(s), new="n_" + s.name, in_loop=True, counter=False) for s in states]
        + ([{"name": REFRACTORY_STATE, "c": "s_" + REFRACTORY_STATE, "new": "n_" + REFRACTORY_STATE,
             "in_loop": True, "counter": True}] if step_map.refractory else []),
        "refractory": _refractory(step_map, printer()),
        "parameters": [entry(p) for p in model.parameter_symbols],
        "inputs": [dict(entry(u), layout=options["layouts"][u.name] if mode != "coupled"
                        else "any") for u in model.input_symbols],
        "synapses": [{"name": y.name, "c": "y_" + y.name, "bias": y.bias, "target": y.target}
                     for y in model.synapses],
        "constants": [{"name": k.name.removeprefix("lg_"), "c": k.name,
                       "code": printer().print(tree),
                       "shared": symbols(tree) <= shared | {DT},
                       "comment": f"{k.name.removeprefix('lg_')} = {to_text(tree)}"}
                      for k, tree in step_map.constants],
        "updates": updates,
        "precise": bool(step_map.propagator),
        "propagator": [{"name": st.name, "new": "n_" + st.name,
                        "from_start": printer().print(tree),
                        "from_reset": CPrinter(_names(step_map, from_names=True), dtype).print(tree)}
                       for st, tree in step_map.propagator],
        "crossing_code": CPrinter(_names(step_map, to_names=True), dtype).print(spike_tree),
        "stages": [{"c": k.name, "code": printer().print(tree),
                    "comment": f"{k.name.removeprefix('lg_')} = {to_text(tree)}"}
                   for k, tree in step_map.stages],
        "resets": [dict(_reset_offset(s, t, set(states), after, dtype),
                        new="n_" + s.name, temp="r_" + s.name, code=after.print(t),
                        comment=f"reset ({step_map.reset_mechanism}): {s} <- {to_text(t)}")
                   for s, t in step_map.reset],
        "correction": [{"new": "n_" + s.name, "temp": "c_" + s.name, "code": after.print(t),
                        "comment": f"reset_delay=False: {s} <- {to_text(t)}"}
                       for s, t in step_map.correction],
        "reset_test": printer().print(spike_tree),
        "reset_comment": f"reset if the state before this step spiked: {model.spike}",
        "spike_code": (f"({after.print(spike_tree)}) && !({printer().print(spike_tree)})"
                       if model.spike_on == "crossing" else after.print(spike_tree))
        + (" && !lg_refractory" if step_map.refractory else ""),
        "spike_comment": f"spike if {model.spike}",
        "margin_code": after.print(Op("-", from_sympy(model.spike.lhs), from_sympy(model.spike.rhs)))
        if options["inhibition"] else "",
        "inhibition": options["inhibition"],
        "graded": options["graded_spikes"],
        "graded_factor": "" if options["graded_spikes"] == 1.0
        else f"{number(_num(options['graded_spikes']))}*",
        "levels": [number(_num(v)) for v in sorted(options["state_quant"] or [])],
        "stochastic": model.is_stochastic,
        "flush_denormals": options["flush_denormals"],
        # only index 0 of the parameter scratch is read when every parameter is shared (a
        # synapse bias is read per neuron, so models with synapses fill all of it)
        "all_shared": all(p in shared for p in model.parameter_symbols) and not model.synapses,
    }


def _reset_offset(state, tree, states, printer, dtype):
    """A reset X <- X - e (or X + e) with e free of states becomes X - (reset ? e : 0).

    The amount is then a masked constant, off the critical path of the update, instead of a
    blend of two updated values; X - 0 and X + (-0) are X exactly, so no result changes.
    """
    if not (isinstance(tree, Op) and tree.op in "+-" and tree.left == Name(state)
            and not symbols(tree.right) & (states | {previous_symbol(s.name) for s in states})):
        return {"offset_op": None}
    zero = CPrinter({}, dtype).print(Num(0.0))
    return {"offset_op": tree.op, "offset_code": printer.print(tree.right),
            "neutral": zero if tree.op == "-" else f"-{zero}"}


def _refractory(step_map, printer):
    """The refractory counter: its length in steps and the states held while it runs."""
    if not step_map.refractory:
        return None
    steps, frozen = step_map.refractory
    return {"steps": printer.print(steps), "counter": "s_" + REFRACTORY_STATE,
            "new": "n_" + REFRACTORY_STATE,
            "frozen": [{"new": "n_" + s.name, "old": "s_" + s.name} for s in frozen],
            "comment": f"refractory while {REFRACTORY_STATE} > 0"
            + (f": {', '.join(map(str, frozen))} held, no spike" if frozen else ": no spike")}


def _num(value):
    return Num(float(value))


def _describe_options(options):
    parts = []
    if options["graded_spikes"] != 1.0:
        parts.append(f"graded spikes x{options['graded_spikes']:g}")
    if options["inhibition"]:
        parts.append("winner-take-all inhibition")
    if options.get("flush_denormals"):
        parts.append("denormals flushed to zero")
    if options["state_quant"] is not None:
        parts.append(f"states quantised to {len(options['state_quant'])} levels")
    return ", ".join(parts)

