"""The `lifgen` command: list, show, simulate, verify, emit, gallery and cache. User errors exit 2
with one clear line."""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib.util
import io
import os
import sys
import traceback
from typing import Any
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Literal, NoReturn, Sequence, TypeVar, overload

import numpy as np
import sympy

from .version import __version__
from .errors import CacheError, CompileError, InputError, LifgenError, printable
from .numerics.methods import AUTO_CANDIDATES, METHODS, VERIFIED_BY_DEFAULT
from .results.outputs import final_path, publish, save_arrays, save_figure
from .codegen.compiler import dt_in_model_unit
from .ir.written import to_text
from .targets import target_names
from .interop.nir_models import CONVENTIONS

if TYPE_CHECKING:
    from dask.distributed import Client

    from .ir.model import Model, Quantity
    from .results.result import Result
    from .runtime.simulate import Simulator

T = TypeVar("T")

METHOD_HELP = ("; ".join(f"{name}: {method.summary}" for name, method in METHODS.items())
               + f"; or auto (exact for a linear system, else the cheapest of "
               f"{', '.join(AUTO_CANDIDATES)} whose estimated error is under --rtol). Default: "
               "the model file's")

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_ORDER = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # as a shell reports a process ended by Ctrl-C (SIGINT)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise InputError(message)


def _parser() -> _Parser:
    parser = _Parser(prog="lifgen", description="Compile spiking neuron models to fast, verified C.")
    parser.add_argument("--version", action="version", version=f"lifgen {__version__}")
    parser.add_argument("--debug", action="store_true", help="on an error, print all of its "
                        "message and the traceback (also LIFGEN_DEBUG=1)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands.add_parser("list", help="list the neuron and synapse models in lifgen's library")
    reference = commands.add_parser("reference", help="print the model-file reference: every "
                                    "table and key, its type, its default and what lifgen "
                                    "derives from it")
    reference.add_argument("--synapses", action="store_true",
                           help="the synapse-model reference (plasticity) instead")

    show = commands.add_parser("show", help="print laws, ODE, closed form, step map and C")
    show.add_argument("model", help="model name or path to a .toml file")
    show.add_argument("--c", action=argparse.BooleanOptionalAction, default=True,
                      help="print the generated code (default; --no-c leaves it out)")
    _compile_options(show)

    sim = commands.add_parser("simulate", help="simulate a population and summarise, plot or save it")
    sim.add_argument("model", help="model name, path to a .toml file, or a NIR graph (.nir: "
                     "--input in.npy or NAME=in.npy, one (T, batch, *shape) array per Input node)")
    sim.add_argument("--convention", choices=CONVENTIONS, default="nir",
                     help="a .nir graph's semantics: NIR's continuous time, or the import of "
                     "snnTorch, Sinabs (MultiSpike; sinabs_single: SingleSpike) or Norse")
    _run_length(sim, "population size (default 1)")
    sim.add_argument("--input", action="append", default=[], metavar="NAME=SPEC",
                     help="const:A, step:A@S, pulse:A@S:E or a .npy file (repeatable)")
    sim.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="a number, a quantity ('20 ms') or a .npy file of one value per neuron")
    sim.add_argument("--initial", action="append", default=[], metavar="STATE=VALUE")
    sim.add_argument("--plot", metavar="OUT.png", help="write a plot of one neuron (--neuron)")
    sim.add_argument("--neuron", type=int, default=0, metavar="K",
                     help="the neuron --plot draws (default 0)")
    sim.add_argument("--state", action="append", default=[], metavar="NAME",
                     help="a state to trace and plot (repeatable; default: all)")
    sim.add_argument("--preset", metavar="NAME", help="one of the model file's [presets]")
    sim.add_argument("--raster", metavar="OUT.png", help="write a spike raster with the "
                     "population rate")
    sim.add_argument("--save", metavar="OUT.npz", help="write spikes, traces and final state "
                     "(a NIR graph: its outputs, and each neuron node's KEY.spike_count, "
                     "KEY.spikes and KEY.state.NAME)")
    sim.add_argument("--force", action="store_true", help="overwrite existing --plot/--save files")
    sim.add_argument("--spikes", choices=("raster", "count", "events"), default="raster",
                     help="keep the spike raster (default), counts only, or events (a NIR "
                          "graph: raster or count)")
    sim.add_argument("--threads", type=int, default=1,
                     help="OpenMP threads (uncoupled models; a NIR graph's batch rows)")
    sim.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="show a progress bar (default: when standard error is a terminal)")
    _compile_options(sim)

    grid = commands.add_parser("sweep", help="run a model over a grid of parameters or inputs "
                               "(here or on a Dask cluster) and write an xarray Dataset")
    grid.add_argument("model", help="model name or path to a .toml file")
    grid.add_argument("--grid", action="append", default=[], metavar="NAME=START:STOP:NUM",
                      help="an axis: NUM values from START to STOP, or NAME=V1,V2,... "
                      "(repeatable: a Cartesian product)")
    _run_length(grid, "neurons per grid point (default 1)")
    grid.add_argument("--input", action="append", default=[], metavar="NAME=SPEC",
                      help="an input every point shares: const:A, step:A@S, pulse:A@S:E or .npy")
    grid.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    grid.add_argument("--seeds", help="comma-separated seeds (a seed dimension)")
    grid.add_argument("--record", help="comma-separated states to trace (default: none)")
    grid.add_argument("--spikes", choices=("count", "events"), default="count")
    grid.add_argument("--out", required=True, metavar="OUT.nc",
                      help="where to write the Dataset (.nc: netCDF, .zarr: Zarr)")
    grid.add_argument("--force", action="store_true", help="overwrite an existing --out")
    where = grid.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="K",
                       help="run on a Dask LocalCluster of K worker processes on this machine")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on the Dask cluster whose scheduler is at ADDRESS")
    grid.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                      help="show progress (default: when standard error is a terminal)")
    _compile_options(grid)

    check = commands.add_parser("verify", help="errors and convergence orders against the "
                                "analytic or a high-precision reference")
    check.add_argument("model", help="model name or path to a .toml file")
    check.add_argument("--methods", help=f"comma-separated methods (default: those of "
                       f"{','.join(VERIFIED_BY_DEFAULT)} that apply to the model)")
    check.add_argument("--dts", help="comma-separated time steps (default: the model's dt and "
                       "four halvings)")
    check.add_argument("--input", metavar="NAME=SPEC", help="input waveform, in steps of the "
                       "largest dt (default: a step at t = 0)")
    check.add_argument("--t-end", type=float, help="simulated time (default: five time constants)")
    check.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    check.add_argument("--plot", metavar="OUT.png", help="traces and error-against-dt plot")
    check.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="a line per simulation on standard error (default: when it is a "
                       "terminal)")
    check.add_argument("--force", action="store_true", help="overwrite an existing --plot file")

    emit = commands.add_parser("emit", help="write the model as a standalone C library (NAME.h, "
                               "NAME.c, example.c, Makefile, CMakeLists.txt), or with "
                               "--target cuda a CUDA one (NAME.cu for nvcc)")
    emit.add_argument("model", help="model name or path to a .toml file")
    emit.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    emit.add_argument("--method", help=METHOD_HELP)
    emit.add_argument("--dt", type=_number_or_quantity, help="time step, e.g. 0.05 or '50 us' "
                      "(default: the model file's)")
    emit.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    emit.add_argument("--prefix", metavar="NAME", help="file and function prefix (default: the "
                      "model's name)")
    emit.add_argument("--force", action="store_true", help="replace files already in --out")
    emit.add_argument("--target", choices=target_names(), default="c",
                      help="c: NAME.c for any C compiler (default); cuda: NAME.cu for nvcc")

    gallery = commands.add_parser("gallery", help="draw snnTorch tutorial 2 (tutorial) or every "
                                  "library model (models), with captions")
    gallery.add_argument("which", nargs="?", choices=tuple(GALLERIES), default="tutorial",
                         help="which gallery (default: tutorial)")
    gallery.add_argument("--out", help="folder for figures and captions (default: docs/gallery "
                         "or docs/models)")
    gallery.add_argument("--force", action="store_true", help="overwrite existing gallery files")

    cache = commands.add_parser("cache", help="show or clear the compiled-kernel cache")
    cache.add_argument("action", choices=("info", "clear"), nargs="?", default="info")
    return parser


def _compile_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", help=METHOD_HELP)
    parser.add_argument("--dt", type=_number_or_quantity, help="time step, e.g. 0.05 or '50 us' "
                        "(default: the model file's)")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--rtol", type=float, help="the error method auto accepts, relative to "
                        "each state's scale (default 1e-6); with --method rkf45, its error "
                        "control's relative tolerance per substep (default 1e-10; float32 1e-5)")
    parser.add_argument("--atol", type=float, help="with --method rkf45: its error control's "
                        "absolute tolerance per substep (default 1e-10; float32 1e-5)")
    parser.add_argument("--max-substeps", type=int, help="with --method rkf45: the most "
                        "substeps within one step (default 10000; more are reported)")
    parser.add_argument("--reset", choices=("subtract", "zero", "none"))
    parser.add_argument("--reset-timing", choices=("next_step", "same_step"))
    parser.add_argument("--target", choices=target_names(), default="c",
                        help="where the model runs: c (this CPU, default) or cuda (an NVIDIA GPU)")


class Printable(io.TextIOBase):
    """A text stream that writes what it is given with control and invisible characters as
    visible escapes (\\x1b, \\r, \\u202e: errors.printable), so that nothing a command prints
    from a model file can drive the terminal; lifgen's own progress bar writes raw."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(printable(text))
        return len(text)

    def write_raw(self, text: str) -> int:
        """Write lifgen's own text as it is (the progress bar's carriage returns)."""
        return int(self.stream.write(text))

    def flush(self) -> None:
        self.stream.flush()

    def fileno(self) -> int:
        return int(self.stream.fileno())

    def isatty(self) -> bool:
        return bool(self.stream.isatty())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status. Errors print one line; --debug (or LIFGEN_DEBUG=1)
    prints the whole message and the traceback. Everything printed goes through Printable."""
    with contextlib.redirect_stdout(Printable(sys.stdout)), \
            contextlib.redirect_stderr(Printable(sys.stderr)):
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv or bool(os.environ.get("LIFGEN_DEBUG"))
    try:
        args = _parser().parse_args([a for a in argv if a != "--debug"])
        return COMMANDS[args.command](args) or EXIT_OK
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `lifgen ... | head` closed the pipe: nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:  # noqa: BLE001 - the last line of defence for users
        kind, status = _ERROR_KINDS.get(type(error), ("internal error", EXIT_INTERNAL))
        if isinstance(error, LifgenError) and kind == "internal error":
            kind, status = "error", EXIT_USAGE
        if isinstance(error, OSError) and error.errno in SYSTEM_REFUSALS:
            kind, status, error = "error", EXIT_USAGE, LifgenError(
                f"{error.strerror}: {error.filename or 'a file lifgen writes'}")
        text = str(error) if isinstance(error, LifgenError) else f"{type(error).__name__}: {error}"
        lines = text.splitlines() or [""]
        more = len(lines) > 1 and not debug
        print(f"lifgen: {kind}: {lines[0] if not debug else text}"
              + (" (run with --debug for the details)" if more else ""), file=sys.stderr)
        if debug:
            traceback.print_exc()
        elif not isinstance(error, LifgenError):
            print("Please report it; run with --debug for the traceback.", file=sys.stderr)
        return status


_ERROR_KINDS: dict[type[Exception], tuple[str, int]] = {
    CompileError: ("build failed", EXIT_INTERNAL), CacheError: ("unsafe kernel cache", EXIT_USAGE)}
# what the machine refused (a full disk, a read-only folder): the user's to fix, not a bug
SYSTEM_REFUSALS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                   errno.EEXIST, errno.ENOTDIR, errno.EISDIR}


def _emit(args: argparse.Namespace) -> None:
    import shlex

    from .tools.emit import emit, uncoupled_note

    command = ["lifgen", "emit", args.model, "--out", args.out, "--dtype", args.dtype]
    command += ["--target", args.target] if args.target != "c" else []
    for flag, value in (("--method", args.method), ("--dt", args.dt), ("--prefix", args.prefix)):
        if value is not None:
            command += [flag, str(value)]
    written = emit(args.model, args.out, method=args.method,
                   dt=dt_in_model_unit(args.model, args.dt), dtype=args.dtype,
                   prefix=args.prefix, force=args.force, command=shlex.join(command),
                   target=args.target)
    for path in written:
        print(path)
    note = uncoupled_note(args.model, args.target)
    if note:
        print(f"note: {note}", file=sys.stderr)
    print(f"build and run: make -C {shlex.quote(args.out)} && {shlex.quote(args.out)}/example")


def _list(args: argparse.Namespace) -> None:
    from .frontend.library import list_models, load_model
    from .frontend.synapse_model import list_synapse_models, load_synapse_model

    for name in list_models():
        print(f"{name:12s} {load_model(name).description}")
    print("\nsynapse models (lifgen.Synapses):")
    for name in list_synapse_models():
        print(f"{name:20s} {load_synapse_model(name).description}")


def _reference(args: argparse.Namespace) -> None:
    from .frontend.library import resource_dir

    page = "synapse-models.md" if args.synapses else "model-files.md"
    print((resource_dir("docs") / page).read_text(encoding="utf-8"), end="")


def _show(args: argparse.Namespace) -> None:
    from .numerics.analytic import closed_form
    from .frontend.budget import SYMPY_SECONDS, OverBudget, within
    from .codegen.compiler import dt_in_model_unit, kernel_source, checked_semantics
    from .codegen.options import Schedule
    from .frontend.library import load_model
    from .targets import get_target

    model = load_model(args.model)
    semantics = checked_semantics(args.method, dt_in_model_unit(model, args.dt), args.dtype,
                                  args.reset, args.reset_timing, rtol=args.rtol,
                                  atol=args.atol, max_substeps=args.max_substeps)
    source = kernel_source(args.model, semantics, Schedule(), get_target(args.target))
    step_map = source.step_map
    sections = [("Quantities (plain numbers are in these units)", _quantity_lines(model))]
    if model.refractory:
        sections.append(("Refractory period", [model.refractory_text()]))
    if model.laws:
        sections.append(("Circuit laws", [_equation(law) for law in model.laws]))
    if model.odes:
        sections.append(("ODE", [_equation(eq) for eq in model.ode_equations(named=True)]))
        if model.expressions:
            sections.append(("Expressions (computed once per step or stage)",
                             model.expression_lines()))
        try:
            solution = within(SYMPY_SECONDS, closed_form, model)
            lines = [f"{eq.lhs.func.__name__}(t) = {_equation(eq.rhs)}" for eq in solution] \
                if solution else ["no explicit closed form (SymPy finds none, or only an implicit "
                                  "one); the step map below integrates the ODE numerically"]
        except OverBudget:
            lines = [f"no closed form shown: SymPy found none within {SYMPY_SECONDS:g} s "
                     "(LIFGEN_SYMPY_BUDGET sets the budget); the step map below is computed "
                     "without it"]
        sections.append(("Closed form (inputs held constant, X0 = X(0))", lines))
    else:
        sections.append(("Update map (applied in this order)", model.update_lines()))
    time_unit = f" {model.time_unit}" if model.time_unit else ""
    title = f"Step map ({step_map.method}, dt = {step_map.dt}{time_unit})"
    why = [step_map.note] if step_map.note else []
    why += [f"warning: {line}" for line in step_map.warning.splitlines()]
    sections.append((title, why + step_map.equations()))
    if args.c:
        sections.append((f"Generated {get_target(args.target).language}", [source.text]))
    print(f"{model.name}: {model.description}")
    for title, lines in sections:
        print(f"\n== {title}")
        print("\n".join(lines))


def _quantity_lines(model: Model) -> list[str]:
    """One line per parameter, state and input: its value, unit and description."""
    def line(kind: str, q: Quantity, value: str) -> str:
        unit = f" {q.unit}" if q.unit else ""
        return f"{kind:9s} {q.name} = {value}{unit}" + (f"   ({q.description})" if q.description else "")
    return ([line("parameter", q, f"{q.value:g}") for q in model.parameters]
            + [line("state", q, f"{q.value:g}" if q.formula is None else to_text(q.formula))
               for q in model.states]
            + [f"input     {q.name}" + (f" in {q.unit}" if q.unit else "")
               + (f"   ({q.description})" if q.description else "") for q in model.inputs]
            + ([f"time      dt in {model.time_unit}"] if model.time_unit else []))


def _equation(eq: sympy.Basic) -> str:
    from .ir.model import display

    return display(eq)


# `simulate`'s options that a NIR graph does not take, with their defaults
NIR_IGNORES: dict[str, Any] = {
    "steps": None, "duration": None, "neurons": 1, "param": [], "initial": [], "plot": None,
    "neuron": 0, "state": [], "preset": None, "raster": None, "progress": None,
    "rtol": None, "atol": None, "max_substeps": None, "reset": None, "reset_timing": None}


def _simulate_nir(args: argparse.Namespace) -> None:
    """`lifgen simulate graph.nir --input in.npy`: the graph's Output nodes, summarised or saved."""
    import numpy as np

    from .interop.nir_import import from_nir
    from .interop.nir_run import run_nir
    from .runtime.waveforms import read_npy

    # (--no-progress asks for what a graph's run does anyway: no progress bar)
    given = [f"--{dest.replace('_', '-')}" for dest, default in NIR_IGNORES.items()
             if getattr(args, dest) != default and not (dest == "progress" and
                                                         args.progress is False)]
    if given:
        raise InputError(f"{', '.join(given)}: not for a NIR graph, whose inputs give its "
                         "length and batch; it takes --input, --convention, --method, --dt "
                         "(in seconds, or a time such as '0.1 ms'), --dtype, --target, "
                         "--threads, --spikes raster|count, --save and --force")
    network = from_nir(args.model, dt=args.dt, method=args.method, convention=args.convention)
    names = list(network.nir.inputs)  # type: ignore[attr-defined]
    inputs = {}
    for spec in args.input:
        name, _, path = spec.rpartition("=")
        if not name:
            if len(names) != 1:
                raise InputError(f"the graph has Input nodes {names}: give --input NAME=FILE.npy")
            name = names[0]
        if name in inputs:
            raise InputError(f"--input {spec}: Input node {name!r} is given twice")
        if not os.path.lexists(path):  # (a model's waveforms, such as const:1, are not a graph's)
            raise InputError(f"--input {spec}: no file {path!r}; a NIR graph's input is a .npy "
                             "file of a (T, batch, *shape) array, NAME=FILE.npy for one of "
                             "several Input nodes")
        inputs[name] = read_npy(path, f"--input {spec}")  # whole, from a regular file
    save = final_path(args.save, "npz", args.force) if args.save else None
    result = run_nir(network, inputs, dtype=args.dtype, target=args.target, spikes=args.spikes,
                     threads=args.threads)
    for key, value in result.outputs.items():
        print(f"output {key}: shape {value.shape}, sum {float(np.sum(value)):g}")
    interface: Any = network.nir  # type: ignore[attr-defined]
    sources = {name for name, _ in interface.inputs.values()}
    if args.convention == "nir" and not any(np.any(p.spike_count) for k, p in
                                            result.populations.items() if k not in sources):
        print(f"no neuron spiked: under --convention nir the nodes follow NIR's continuous-time "
              f"equations in steps of dt = {interface.dt:g} s (--dt); a graph exported by "
              "snnTorch, Sinabs or Norse runs as that tool imports it with --convention "
              "snntorch, sinabs or norse")
    if save:
        arrays: dict[str, Any] = {str(k): np.asarray(v) for k, v in result.outputs.items()}
        arrays.update(_node_arrays(network.nir, result))  # type: ignore[attr-defined]
        save_arrays(save, arrays, args.force)
        print(f"wrote {save}")


def _node_arrays(interface: Any, result: Any) -> dict[str, Any]:
    """What --save writes of each neuron node beside the outputs, by its key in the graph:
    KEY.spike_count (batch, n), KEY.spikes (T, batch, n, with --spikes raster) and
    KEY.state.NAME (its final states), in NIR's order."""
    arrays: dict[str, Any] = {}
    for key, name in interface.populations.items():
        if key in interface.inputs:
            continue
        population = result[name]
        arrays[f"{key}.spike_count"] = population.spike_count
        if population.spikes is not None:
            arrays[f"{key}.spikes"] = population.spikes
        arrays.update({f"{key}.state.{s}": v for s, v in population.state.items()})
    return arrays


def _simulate(args: argparse.Namespace) -> int | None:
    if str(args.model).endswith(".nir"):
        _simulate_nir(args)
        return None
    from . import compile as compile_model
    from .frontend.library import load_model
    from .runtime.waveforms import parse_input_spec

    if args.convention != "nir":
        raise InputError("--convention is for NIR graphs (.nir files), not model files")
    model = load_model(args.model, args.preset)  # a bad model is reported before anything else
    states = _states(model, args.state)
    duration = _duration(args, "simulate")
    plot, raster, save = (final_path(path, kind, args.force) if path else None for path, kind in
                          ((args.plot, "plot"), (args.raster, "plot"), (args.save, "npz")))
    named = [p.resolve() for p in (plot, raster, save) if p]  # (links and '..' resolved)
    if len(set(named)) < len(named):
        raise InputError("--plot, --raster and --save name the same file")
    inputs = dict(parse_input_spec(spec) for spec in args.input)
    params = dict(_assignment(text, "--param", arrays=True) for text in args.param)
    initial = dict(_assignment(text, "--initial") for text in args.initial)
    if not 0 <= args.neuron < args.neurons:
        raise InputError(f"--neuron {args.neuron}: the population has neurons 0..{args.neurons - 1}")
    simulator = compile_model(model, method=args.method, dt=args.dt, dtype=args.dtype,
                              reset=args.reset, reset_timing=args.reset_timing, rtol=args.rtol,
                              atol=args.atol, max_substeps=args.max_substeps,
                              threads=args.threads, target=args.target)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    if (args.plot or args.raster) and args.spikes == "count":
        raise InputError("--plot and --raster need spike times: use --spikes raster or events")
    result = simulator.run(args.steps, duration=duration, n_neurons=args.neurons, inputs=inputs,
                           params=params,
                           initial=initial, record={name: [args.neuron] for name in states}
                           if args.neurons > 10 and not args.save else states,
                           spikes=args.spikes, progress=progress)
    _print_summary(simulator, result)
    if result.partial:  # what was asked for is not there: nothing is written
        print(f"interrupted after {result.n_steps} steps: nothing written", file=sys.stderr)
        return EXIT_INTERRUPTED
    for line in _notes(model, args, result):
        print(f"note: {line}", file=sys.stderr)
    if save:
        spikes = {"spikes": result.spikes} if result.spikes is not None else {}
        if result.spike_events is not None:
            spikes = {"spike_steps": result.spike_events[0], "spike_neurons": result.spike_events[1]}
        save_arrays(save, dict(spike_count=np.asarray(result.spike_count), times=result.times,
                               **spikes,
                               **{f"trace_{k}": v for k, v in result.traces.items()},
                               **{f"final_{k}": v for k, v in result.state.items()}),
                    args.force)
        print(f"saved {save}")
    if plot:
        save_figure(result.plot(args.neuron), plot, args.force)
        print(f"plotted {plot}")
    if raster:
        save_figure(result.plot_raster(), raster, args.force)
        print(f"plotted {raster}")
    return None


def _run_length(parser: argparse.ArgumentParser, neurons_help: str) -> None:
    """--steps or --duration, and --neurons: how long and how large a run is."""
    parser.add_argument("--steps", type=int, help="number of time steps (or --duration)")
    parser.add_argument("--duration", metavar="TIME", help="simulated time, e.g. '500 ms' (a "
                        "plain number is in the model's time unit; or --steps)")
    parser.add_argument("--neurons", type=int, default=1, help=neurons_help)


def _duration(args: argparse.Namespace, command: str) -> float | str | None:
    """The --duration given (a number or quantity text), or None for --steps; one of them."""
    if (args.steps is None) == (args.duration is None):
        raise InputError(f"{command} needs --steps N or --duration TIME (such as '500 ms'), one "
                         "of them")
    return None if args.duration is None else _number_or_quantity(args.duration)


def _states(model: Model, names: Sequence[str]) -> list[str]:
    """The states --state names (all of the model's when none), each checked to exist."""
    unknown = [n for n in names if n not in model.state_names]
    if unknown:
        raise InputError(f"--state {unknown[0]}: the states of {model.name} are "
                         f"{', '.join(model.state_names)}")
    return list(dict.fromkeys(names)) or list(model.state_names)


def _notes(model: Model, args: argparse.Namespace, result: Result) -> Iterator[str]:
    """One line for each thing a run did without being asked: what a user might not expect."""
    unit = model.time_unit
    if model.input_names and not args.input:
        yield f"no --input given: {', '.join(model.input_names)} = 0 throughout"
    if isinstance(args.dt, float) and unit:
        yield (f"dt = {args.dt:g} {unit}: a plain number is in the model's time unit "
               f"(write --dt '{args.dt:g} {unit}' to say so, or another unit)")
    if int(np.asarray(result.spike_count).sum()) == 0:
        yield (f"no neuron spiked in {result.n_steps} steps (spike if {model.spike}); "
               "a stronger --input or more --steps may help")


@overload
def _assignment(text: str, option: str, arrays: Literal[False] = False) -> tuple[str, float | str]:
    ...


@overload
def _assignment(text: str, option: str, arrays: bool) -> tuple[str, float | str | np.ndarray]:
    ...


def _assignment(text: str, option: str, arrays: bool = False
                ) -> tuple[str, float | str | np.ndarray]:
    """NAME=VALUE: a number, quantity text, or (where `arrays`) a .npy file of values."""
    name, sep, value = text.partition("=")
    if arrays and value.endswith(".npy"):
        from .runtime.waveforms import read_npy

        return name, read_npy(value, f"{option} {text!r}")
    try:
        return name, _number_or_quantity(value)
    except argparse.ArgumentTypeError:
        raise InputError(f"{option} {text!r}: expected NAME=NUMBER or NAME=\"NUMBER UNIT\""
                         + (" or NAME=values.npy" if arrays else "")) from None


def _number_or_quantity(text: str) -> float | str:
    """A number, or quantity text such as "20 ms" (converted by compile and run)."""
    from .frontend.units import is_quantity_text

    try:
        return float(text)
    except ValueError:
        if is_quantity_text(text):
            return text.strip()
        raise argparse.ArgumentTypeError(f"expected a number or a quantity such as '0.1 ms', "
                                         f"got {text!r}") from None


def _print_summary(simulator: Simulator, result: Result) -> None:
    assert result.spike_count is not None, "a Result needs spike_count or spikes"  # as n_neurons
    unit = simulator.model.time_unit or "time units"
    print(f"{simulator!r}")
    print(f"{result.n_steps} steps x {result.n_neurons} neurons"
          + (f" = {result.n_steps * result.dt:g} {unit}" if result.dt else ""))
    print(f"{'neuron':>6} {'spikes':>7}  first spike steps" + "".join(
        f"  {'final ' + k:>12}" for k in result.state))
    n_neurons = result.n_neurons
    shown = min(n_neurons, 10)
    for n in range(shown):
        steps: np.ndarray | list[int] = result.spike_steps(n) if result.spike_count.flat[n] and (
            result.spikes is not None or result.spike_events is not None) else []
        first = ", ".join(map(str, steps[:6])) + (" ..." if len(steps) > 6 else "")
        first = first if len(steps) or result.spike_count.flat[n] == 0 else "(counted only)"
        finals = "".join(f"  {v[n]:12.6g}" for v in result.state.values())
        print(f"{n:>6} {int(result.spike_count.flat[n]):>7}  {first or '-':18s}{finals}")
    if n_neurons > shown:
        print(f"... {n_neurons - shown} more neurons; "
              f"{int(result.spike_count.sum())} spikes in all")


def _cache(args: argparse.Namespace) -> None:
    from .codegen.build import cache_info, clear_cache

    if args.action == "clear":
        print(f"removed {clear_cache()} kernels")
    info = cache_info()
    print(f"{info['path']}: {info['kernels']} kernels, {info['bytes'] / 1e6:.1f} MB")


def _verify(args: argparse.Namespace) -> int:
    from .tools.verify import Drive, verify
    from .runtime.waveforms import parse_input_spec

    from .frontend.library import load_model

    model = load_model(args.model)
    plot = final_path(args.plot, "plot", args.force) if args.plot else None
    waveforms: dict[str, Drive] | None = None
    if args.input:
        name, waveform = parse_input_spec(args.input)
        if name not in model.input_names:
            raise InputError(f"--input {args.input!r}: the model's inputs are "
                             f"{', '.join(model.input_names) or 'none'}")
        waveforms = {name: waveform}
    try:
        dts = [float(d) for d in args.dts.split(",")] if args.dts else None
    except ValueError:
        raise InputError(f"--dts {args.dts!r}: expected numbers separated by commas") from None
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    report = verify(model, methods=args.methods, dts=dts, input=waveforms, t_end=args.t_end,
                    params=dict(_assignment(text, "--param") for text in args.param),
                    progress=progress)
    print(report.to_table())
    if plot:
        save_figure(report.plot(), plot, args.force)
        print(f"plotted {plot}")
    return EXIT_OK if report.passed else EXIT_ORDER


GALLERIES = {"tutorial": ("gallery", "make_gallery", "docs/gallery"),
             "models": ("model_gallery", "make_model_gallery", "docs/models")}


def _gallery(args: argparse.Namespace) -> None:
    import importlib

    module, function, default_out = GALLERIES[args.which]
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise InputError(f"--out {args.out} is a file, not a folder")
    make = getattr(importlib.import_module(f"lifgen.tools.{module}"), function)
    for entry in make(args.out or default_out, overwrite=args.force):
        print(f"{entry['figure']}: {entry['caption']}")


def _sweep(args: argparse.Namespace) -> None:
    from . import compile as compile_model
    from .frontend.library import load_model
    from .tools.sweep import sweep
    from .runtime.waveforms import parse_input_spec

    model = load_model(args.model)
    duration = _duration(args, "sweep")
    if not args.grid:
        raise InputError("sweep needs at least one --grid NAME=START:STOP:NUM")
    if Path(args.out).suffix not in (".nc", ".zarr"):
        raise InputError(f"--out {args.out}: write a .nc (netCDF) or .zarr file")
    out = final_path(args.out, "sweep", args.force)  # checked before any work
    if out.suffix == ".zarr" and importlib.util.find_spec("zarr") is None:
        raise InputError(f"--out {out}: writing Zarr needs the zarr package (pip install zarr); "
                         "or write a .nc file")
    axes = dict(_grid_axis(text) for text in args.grid)
    simulator = compile_model(model, method=args.method, dt=args.dt, dtype=args.dtype,
                              reset=args.reset, reset_timing=args.reset_timing, rtol=args.rtol,
                              atol=args.atol, max_substeps=args.max_substeps,
                              target=args.target)
    n_steps = simulator._step_count(args.steps, duration)
    executor = None
    if args.workers is not None:
        executor = _local_cluster(args.workers)
    elif args.scheduler:
        executor = _dask_client(args.scheduler)
    try:
        data = sweep(simulator, axes, n_steps=n_steps, n_neurons=args.neurons,
                     inputs=dict(parse_input_spec(spec) for spec in args.input),
                     params=dict(_assignment(text, "--param") for text in args.param),
                     seeds=None if args.seeds is None else _numbers(args.seeds, "--seeds", int),
                     record=None if args.record is None else args.record.split(","),
                     spikes=args.spikes, executor=executor, progress=args.progress)
    finally:
        if executor is not None:
            cluster = getattr(executor, "cluster", None) if args.workers is not None else None
            executor.close()
            if cluster is not None:
                cluster.close()
    try:  # written whole beside it, then renamed: a kill or a full disk leaves what was there
        publish(out, lambda name: data.to_zarr(name, mode="w") if out.suffix == ".zarr"
                else data.to_netcdf(name), args.force, folder=out.suffix == ".zarr")
    except (ImportError, ValueError) as error:
        raise InputError(f"cannot write {out}: {error}") from None
    rate = data.rate.mean("neuron")
    print(f"{model.name}: {dict(data.sizes)}; mean rate {float(rate.min()):.4g} .. "
          f"{float(rate.max()):.4g} {data.rate.attrs['units']}")
    print(f"wrote {out}")


def _grid_axis(text: str) -> tuple[str, np.ndarray | list[float]]:
    """NAME=START:STOP:NUM (NUM values, both ends included) or NAME=V1,V2,... as (name, values)."""
    name, _, spec = text.partition("=")
    if not name or not spec:
        raise InputError(f"--grid {text!r}: write NAME=START:STOP:NUM or NAME=V1,V2,...")
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) != 3:
            raise InputError(f"--grid {text!r}: write NAME=START:STOP:NUM")
        start, stop = _numbers(":".join(parts[:2]).replace(":", ","), f"--grid {name}", float)
        (count,) = _numbers(parts[2], f"--grid {name} NUM", int)
        if count < 1:
            raise InputError(f"--grid {text!r}: NUM must be at least 1")
        return name, np.linspace(start, stop, count)
    return name, _numbers(spec, f"--grid {name}", float)


def _numbers(text: str, what: str, kind: Callable[[str], T]) -> list[T]:
    try:
        return [kind(v) for v in text.split(",")]
    except ValueError:
        raise InputError(f"{what}: {text!r} is not a comma-separated list of numbers") from None


def _local_cluster(workers: int) -> Client:
    from .runtime.executors import resolve

    if workers < 1:
        raise InputError("--workers must be at least 1")
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        resolve("dask")  # raises the error that says what to install
    return Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None))


def _dask_client(address: str) -> Client:
    from .runtime.executors import resolve

    try:
        from dask.distributed import Client
    except ImportError:
        resolve("dask")
    try:
        return Client(address, timeout=30)
    except (OSError, TimeoutError) as error:
        raise InputError(f"--scheduler {address}: no Dask scheduler answered ({error})") from None


COMMANDS = {"list": _list, "reference": _reference, "show": _show, "simulate": _simulate,
            "verify": _verify, "gallery": _gallery, "cache": _cache, "emit": _emit,
            "sweep": _sweep}
