"""Write a model as a standalone C library: NAME.h, NAME.c, example.c, a Makefile and CMakeLists.txt.

NAME.c holds the same generated kernel source that `lifgen.compile` builds (rendered by the same
template, for per-neuron parameters and inputs read row by row), plus a small C API around it.
A model with synapse types is coupled: NAME.c holds the one-population network program of a
coupled run (dense weights per synapse type, read at arrival as `run(connections=...)` reads
them), lowered with a run-time size, so that NAME_init still takes n. The CUDA library is
uncoupled.
"""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from ..version import __version__
from ..codegen.abi import field_name
from ..errors import InputError, LifgenError
from ..codegen.build import compiler_command
from ..frontend.library import load_model
from ..results.outputs import save_text
from ..ir.model import REFRACTORY_STATE, Model, Quantity, display
from ..codegen.naming import member
from ..codegen.options import Schedule, Semantics, Variant
from ..codegen.source import KernelSource
from ..codegen.network import (NetworkPlan, NetworkProgram, PopulationPlan, ProjectionPlan,
                               ORIGIN, adds_directly, lower_network, population_buffer,
                               projection_buffer)
from ..codegen.compiler import kernel_source, checked_semantics, variant_source
from ..targets import get_target
from ..targets.cfamily.kernel import C_TYPES, environment
from ..targets.c.network import render_network
from ..runtime.waveforms import Step
from ..ir.written import CPrinter, Num, to_text

if TYPE_CHECKING:  # NumPy is imported when an example run is made
    import numpy as np
    import numpy.typing as npt

C_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
STAND_IN = "lgstandin"  # a prefix no model has: what the header declares from a prefix
C_NAME = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
# the headers the emitted files include (the library, its kernel and example.c)
HEADERS = "".join(f"#include <{h}>\n" for h in ("math.h", "stddef.h", "stdint.h", "stdio.h",
                                                "stdlib.h", "string.h"))
FILES = {  # per target: file name -> template
    "c": {"{prefix}.h": "c/emit/header.h.j2", "{prefix}.c": "c/emit/library.c.j2",
          "example.c": "c/emit/example.c.j2", "Makefile": "c/emit/Makefile.j2",
          "CMakeLists.txt": "c/emit/CMakeLists.txt.j2"},
    "cuda": {"{prefix}.h": "c/emit/header.h.j2", "{prefix}.cu": "cuda/emit/library.cu.j2",
             "example.c": "c/emit/example.c.j2", "Makefile": "cuda/emit/Makefile.j2"}}
EXAMPLE_NEURONS = 100
DIGITS = {"float64": 17, "float32": 9}  # enough decimal digits to read the value back exactly


def emit(model: Model | str | Path, out: str | Path, method: str | None = None,
         dt: float | None = None, dtype: str = "float64",
         prefix: str | None = None, force: bool = False, command: str | None = None,
         target: str = "c") -> list[Path]:
    """Write the library files of `model` into the folder `out`; return their paths.

    `target="cuda"` writes NAME.cu (built with nvcc) instead of NAME.c, with the same NAME.h.
    Files already in `out` are replaced only with `force`; otherwise an InputError names them.
    """
    if target not in FILES:
        raise InputError(f"target must be one of {tuple(FILES)}, got {target!r}")
    semantics = checked_semantics(method=method, dt=dt, dtype=dtype)
    model = load_model(model)
    prefix = prefix or model.name
    if not C_IDENTIFIER.match(prefix):
        raise InputError(f"--prefix {prefix!r} must be a C identifier")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder")
    paths = {out / name.format(prefix=prefix): template
             for name, template in FILES[target].items()}
    beside = {Path(name).stem for name in FILES[target] if "{prefix}" not in name}
    if prefix in beside:  # example.c and example.o would be the library's own
        raise InputError(f"--prefix {prefix!r} would give the library the name of a file emit "
                         f"writes beside it ({', '.join(sorted(beside))}); choose another prefix")
    existing = [p.name for p in paths if p.exists() or p.is_symlink()]  # (dangling too)
    if existing and not force:
        raise InputError(f"{out} already has {', '.join(existing)}; pass --force to replace "
                         f"{'it' if len(existing) == 1 else 'them'}")
    context = library_context(model, semantics, prefix, command, target)
    env = environment()
    texts = {path: env.get_template(template).render(e=context) for path, template in paths.items()}
    _check_declared_names(prefix, context)
    out.mkdir(parents=True, exist_ok=True)
    for path, text in texts.items():
        save_text(path, text, force)
    return list(texts)


def _check_declared_names(prefix: str, context: Mapping[str, object]) -> None:
    """Refuse a prefix whose names (what the header declares from it, and its include guard)
    lifgen's own names (lg_, LG_), its kernel or the C headers the files include already use:
    a model named `lg` declared lg_run, the kernel's function, and did not compile."""
    header = environment().get_template(FILES["c"]["{prefix}.h"])
    stand_in = dict(context, prefix=STAND_IN, guard=STAND_IN.upper() + "_H")
    suffixes = {name[len(STAND_IN):] for name in C_NAME.findall(header.render(e=stand_in))
                if name.startswith(STAND_IN + "_")}  # _init, _run, _real, ...
    declared = {prefix + suffix for suffix in suffixes} | {str(context["guard"])}
    generated = "".join(str(context[k]) for k in ("kernel", "network", "prologue"))
    taken = set(C_NAME.findall(_without_comments(generated))) | header_names()
    clash = sorted(n for n in declared if n in taken or n.lower().startswith("lg_"))
    if clash:
        raise InputError(f"the library prefix {prefix!r} (the model's name unless --prefix is "
                         f"given) would declare {', '.join(clash)}, which lifgen's kernel (its "
                         "lg_ names) or the C library already declare; give another prefix "
                         "(--prefix NAME)")


def _without_comments(text: str) -> str:
    return COMMENT.sub(" ", text)


@functools.lru_cache(maxsize=None)
def header_names() -> frozenset[str]:
    """The identifiers and macros the C headers of an emitted library declare, as this
    machine's compiler preprocesses them (none when there is no compiler: the user's make
    then reports a clash)."""
    try:
        listing = subprocess.run([*compiler_command(), "-E", "-dD", "-x", "c", "-"],
                                 input=HEADERS, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError, LifgenError):
        return frozenset()
    return frozenset(C_NAME.findall(listing.stdout)) if listing.returncode == 0 else frozenset()


def library_source(model: Model | str | Path, options: Semantics, target: str = "c"
                   ) -> KernelSource:
    """The kernel the library wraps: per-neuron parameters and each input read row by row. Its
    neurons are not connected: a coupled population runs as a network program, which lifgen
    runs itself and emit does not write."""
    target = get_target(target)
    source: KernelSource = kernel_source(model, options, Schedule(), target)
    model = source.step_map.model
    variant = Variant.of({u.name: "streamed" for u in model.inputs})
    return variant_source(source, variant, target)


def uncoupled_note(model: Model | str | Path, target: str) -> str | None:
    """Why the library of `model` for `target` leaves its synapse types unconnected, if it does."""
    model = load_model(model)
    if not model.synapses or target == "c":
        return None
    return (f"the {target} library of {model.name} is not coupled: nothing arrives at its "
            f"synapse types {', '.join(model.synapse_names)} but their bias; the C library "
            "(--target c) takes dense weights per synapse type")


def library_program(kernel: KernelSource, options: Semantics) -> NetworkProgram:
    """A coupled library's program: the population (its size read at run time) and a dense
    self-projection of delay 1 per synapse type (a NULL weights pointer delivers nothing), as
    `run(connections=...)` runs dense weights: added straight into the state a synapse type
    adds to (`adds_directly`), else read at arrival, so that a step's events sum in the same
    order; inputs row by row from the call's first step, and a spike raster for NAME_step and
    events."""
    step_map = kernel.step_map
    model = step_map.model
    population = PopulationPlan(model.name, 1, step_map, neuron0=0, run_time_size=True,
                                inhibition=options.inhibition,
                                levels=tuple(sorted(options.state_quant or ())))
    graded = float(options.graded_spikes)
    direct = {y: adds_directly(model, y) for y in model.synapse_names}
    projections = tuple(ProjectionPlan(0, 0, y, "dense", 1, graded, at_arrival=not direct[y],
                                       optional=True, direct=direct[y])
                        for y in model.synapse_names)
    return lower_network(NetworkPlan((population,), projections, kernel.dtype, raster=True,
                                     call_inputs=True))


def _program_buffers(program: NetworkProgram, model: Model, prefix: str
                     ) -> tuple[list[tuple[str, str]], list[dict[str, str]]]:
    """The program's buffers as the library passes them, in order: (C expression, what it is);
    and the scratch the library keeps for it (its index among them, C type and comment)."""
    real = f"{prefix}_real"
    types = {"real": real, "int64": "int64_t", "uint8": "uint8_t"}
    known = {population_buffer(0, "size"): "&pop->n_neurons",
             population_buffer(0, "fired"): "pop->fired",
             population_buffer(0, "counts"): "pop->spike_count",
             population_buffer(0, "raster"): "spikes",
             population_buffer(0, "input_strides"): "lg_strides",
             ORIGIN: "lg_run_origin"}
    state = [*model.state_names, REFRACTORY_STATE]
    known.update({population_buffer(0, "state", s): f"pop->state.{member('state', s)}"
                  for s in state})
    known.update({population_buffer(0, "param", p): f"pop->params.{member('param', p)}"
                  for p in model.parameter_names})
    known.update({population_buffer(0, "input", u): f"(void *)lg_row_{u}"
                  for u in model.input_names})
    known.update({projection_buffer(j, "weights"): f"(void *)pop->weights_{y}"
                  for j, y in enumerate(model.synapse_names)})
    passed: list[tuple[str, str]] = []
    scratch: list[dict[str, str]] = []
    for b in program.buffers:
        if b.name not in known:  # what the program writes and reads again: n values each
            known[b.name] = f"pop->lg_scratch[{len(scratch)}]"
            scratch.append({"type": types[b.element], "comment": b.comment})
        passed.append((known[b.name], b.comment))
    return passed, scratch


def library_context(model: Model, options: Semantics, prefix: str, command: str | None = None,
                    target: str = "c") -> dict[str, object]:
    """What the emit templates need: names, documentation, defaults and the kernel source (or,
    where the library is coupled, the network program)."""
    kernel = library_source(model, options, target)
    step_map, dtype = kernel.step_map, kernel.dtype
    # precise spike timing (a propagator) has no network program yet: that library is uncoupled
    coupled = (bool(model.synapses) and uncoupled_note(model, target) is None
               and not step_map.propagator)
    network = ""
    buffers: list[tuple[str, str]] = []
    scratch: list[dict[str, str]] = []
    if coupled:
        program = library_program(kernel, options)
        network = render_network(program).text
        buffers, scratch = _program_buffers(program, model, prefix)
    names = {q.symbol: f"pop->params.{member('param', q.name)}[i]" for q in model.parameters}
    names.update({q.symbol: f"pop->state.{member('state', q.name)}[i]" for q in model.states})
    c = CPrinter(names, dtype).print
    states = [{"name": q.name, "member": member("state", q.name),
               "doc": _doc(q, f"initial {_initial_text(q)}"),
               "initial": c(q.formula) if q.formula is not None
               else c(Num(model.initial_values[q.name])),
               "field": field_name("state", q.name)} for q in model.states]
    if step_map.refractory:
        states.append({"name": "refractory_steps", "initial": c(Num(0.0)),
                       "member": member("state", REFRACTORY_STATE),
                       "doc": "steps of refractory period left (initial 0)",
                       "field": field_name("state", REFRACTORY_STATE)})
    n_steps, amplitude = _example_input(model)
    membrane = "V" if "V" in model.state_names else model.state_names[0]
    return {
        "prefix": prefix, "guard": f"{prefix.upper()}_H", "model": model.name,
        "description": model.description, "version": __version__, "method": step_map.method,
        "dt": step_map.dt, "time_unit": model.time_unit, "real": C_TYPES[dtype],
        "command": command or f"lifgen.emit({model.name!r}, dtype={dtype!r})",
        "laws": [display(eq) for eq in model.ode_equations(named=True)] if model.odes
        else model.update_lines(),
        "equations": step_map.equations(),
        "parameters": [{"name": q.name, "member": member("param", q.name),
                        "doc": _doc(q, f"default {q.value:g}"),
                        "default": c(Num(model.defaults[q.name])),
                        "field": field_name("param", q.name),
                        "stride": field_name("param_stride", q.name)} for q in model.parameters],
        "states": states,
        "inputs": [{"name": q.name, "member": member("input", q.name), "doc": _doc(q),
                    "field": field_name("input", q.name),
                    "time": field_name("input_time_stride", q.name),
                    "neuron": field_name("input_neuron_stride", q.name)} for q in model.inputs],
        "coupled": coupled, "network": network, "buffers": buffers, "scratch": scratch,
        "uncoupled": ("This CUDA library is uncoupled; the C library (lifgen emit --target c) "
                      "takes dense weights per synapse type." if target != "c" else
                      "Precise spike timing does not run in lifgen's network programs yet."),
        "synapses": [{"name": y.name, "doc": (f"adds to {y.target}" + (
                          ", dropped while refractory" if model.drops_while_refractory(y) else "")
                          if y.target else f"the input {y.name} of the equations")}
                     for y in model.synapses],
        "prologue": kernel.prologue.c_source if kernel.prologue else "",
        "copies": len(states) + len(model.inputs) + 3,  # and work, counts, spikes
        "example_parameter": model.parameters[0].name if model.parameters else "",
        "example_member": member("param", model.parameters[0].name) if model.parameters else "",
        "membrane": membrane, "membrane_member": member("state", membrane),
        "function": kernel.function, "kernel": kernel.c_source,
        "arguments": _kernel_arguments(kernel, model),
        "work_size": max(kernel.work_size, 1),
        "n_neurons": EXAMPLE_NEURONS, "n_steps": n_steps, "amplitude": repr(float(amplitude)),
        "input_unit": f" {model.inputs[0].unit}" if model.inputs and model.inputs[0].unit else "",
        "digits": DIGITS[dtype],
    }




def _kernel_arguments(kernel: KernelSource, model: Model) -> list[tuple[str, str]]:
    """The fields of the kernel's argument struct that the library sets, in the ABI's order, as
    (field, C expression); every other field is zero."""
    values = {"n_steps": "n_steps", "n_batch": "1", "n_neurons": "pop->n_neurons",
              "step0": "pop->step", "seed": "pop->seed", "spikes": "spikes",
              "counts": "pop->spike_count", "work": "pop->lg_work"}
    state_field = {q.name: f"pop->state.{member('state', q.name)}" for q in model.states}
    if REFRACTORY_STATE in kernel.step_map.state_names:
        state_field[REFRACTORY_STATE] = f"pop->state.{member('state', REFRACTORY_STATE)}"
    for name, value in state_field.items():
        values[field_name("state", name)] = value
    for q in model.parameters:
        values[field_name("param", q.name)] = f"pop->params.{member('param', q.name)}"
        values[field_name("param_stride", q.name)] = "1"
    for q in model.inputs:
        values[field_name("input", q.name)] = f"lg_row_{q.name}"
        values[field_name("input_time_stride", q.name)] = f"lg_stride_{q.name}"
        values[field_name("input_neuron_stride", q.name)] = "1"
    return [(f.name, values[f.name]) for f in kernel.abi if f.name in values]


def example_run(model: Model, n_steps: int, amplitude: float, dtype: npt.DTypeLike
                ) -> np.ndarray:
    """The input example.c applies, as a (T, N) array: 0 for the first tenth, then `amplitude`."""
    import numpy as np

    current = np.zeros((n_steps, EXAMPLE_NEURONS), dtype)
    current[n_steps // 10:] = amplitude
    return current


def _example_input(model: Model) -> tuple[int, float | str]:
    """Steps and step amplitude for the example: an input that makes the neuron fire, from its
    own threshold and steady states (1.5 times the last input with a stable rest below
    threshold); where that cannot be said, the model gallery's first panel, else 1000 and 1."""
    from ..numerics.accuracy import parameter_values  # NumPy and SymPy, only when emitting
    from ..numerics.holding import FIRING_SHARE, holding_input
    from .model_gallery import SHOWCASES  # the gallery's panels, loaded only when emitting

    n_steps, panels = SHOWCASES[model.name][::2] if model.name in SHOWCASES else (1000, [])
    firing = None if model.is_discrete or not model.inputs else holding_input(
        model, parameter_values(model), model.input_names[0], FIRING_SHARE)
    if firing is not None:
        return n_steps, firing
    if not panels:
        return n_steps, 1.0
    current = panels[0].current
    return n_steps, current.amplitude if isinstance(current, Step) else float(current)


def _doc(quantity: Quantity, extra: str = "") -> str:
    parts = [quantity.description or quantity.name]
    if quantity.unit:
        parts.append(f"in {quantity.unit}")
    return ", ".join(parts + ([extra] if extra else []))


def _initial_text(quantity: Quantity) -> str:
    return to_text(quantity.formula) if quantity.formula is not None else f"{quantity.value:g}"
