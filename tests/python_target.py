"""A second target, for tests only: the statement IR printed as Python and run neuron by neuron.

It is added the way any target is (a module with render, build and runner, and one entry in
lifgen.targets.TARGETS) and touches nothing of the C target. Python floats are C doubles and the
printed code keeps every operation's order, so for float64 it must give the C kernel's numbers
bit for bit: an independent check of the IR and of the C printer. Uncoupled models only.
"""

import math
from dataclasses import dataclass

import numpy as np

from lifgen.codegen.lower import StepOptions, lower, state_names
from lifgen.codegen.naming import ARRAY_PREFIXES
from lifgen.ir.functions import _expm_of
from lifgen.ir.statements import (INDEX, INT, KEY, AddTo, Assign, Block, Break, Cast, Comment,
                                  Double, Element, Equal, For, If, Integer, Let, Loop,
                                  MatrixExponential, Remainder, Select, Store, View)
from lifgen.ir.written import Call, Name, Neg, Not, Num

OPERATORS = {"and": "and", "or": "or"}


def _min(a, b):
    return b if (b < a or b != b) else a


def _max(a, b):
    return b if (b > a or b != b) else a


ELEMENTARY = ("exp", "expm1", "log", "log1p", "tanh", "sinh", "cosh", "exprel", "inverse_exprel",
              "sin", "cos")
BINARY = ("pow",)


def _elementary_library():
    """lifgen's own elementary functions (templates/c/elementary.c.j2, double), built as C: the
    kernels call them, so the printed Python calls the same code (math's differ in last bits)."""
    from types import SimpleNamespace

    from lifgen.codegen.build import build
    from lifgen.targets.cfamily.kernel import HELPERS, environment

    helpers = {f"lg_{f}" for f in (*ELEMENTARY, *BINARY)}
    helpers |= {h for name in list(helpers) for h in HELPERS.get(name, ())}
    context = SimpleNamespace(helpers=frozenset(helpers), fabs="fabs", expm1="expm1", one="1.0",
                              levels=(), inline="static inline", constant="static const")
    text = environment().get_template("c/helpers.c.j2").render(k=context)
    exported = '__attribute__((visibility("default"))) '  # what lifgen's build loads
    wrappers = "".join([f"{exported}double py_lg_{f}(double x) {{ return lg_{f}(x); }}\n"
                        for f in ELEMENTARY]
                       + [f"{exported}double py_lg_{f}(double x, double y) "
                          f"{{ return lg_{f}(x, y); }}\n" for f in BINARY])
    source = ("#include <math.h>\n#include <stdint.h>\n#include <string.h>\n"
              f"typedef double lg_real;\n{text}\n{wrappers}")
    cdef = "".join([f"double py_lg_{f}(double x);\n" for f in ELEMENTARY]
                   + [f"double py_lg_{f}(double x, double y);\n" for f in BINARY])
    return build(source, cdef).lib


_LIBRARY = []


def _lg(function):
    """The C kernel's `function` (built once per process, on first use)."""
    def call(*x):
        if not _LIBRARY:
            _LIBRARY.append(_elementary_library())
        return getattr(_LIBRARY[0], f"py_lg_{function}")(*x)
    return call


_exp, _expm1, _log, _log1p, _tanh, _sinh, _cosh, _exprel, _inverse_exprel, _sin, _cos, _pow = (
    _lg(f) for f in (*ELEMENTARY, *BINARY))


FUNCTIONS = {"exp": "_exp", "expm1": "_expm1", "log": "_log", "log1p": "_log1p",
             "sqrt": "math.sqrt", "sin": "_sin", "cos": "_cos", "tanh": "_tanh",
             "sinh": "_sinh", "cosh": "_cosh",
             "abs": "abs", "min": "_min", "max": "_max", "pow": "_pow", "exprel": "_exprel", "inverse_exprel": "_inverse_exprel",
             "floor": "_floor", "clip": "_clip", "quantize": "_quantize",
             "uniform": "_uniform", "any8": "_any8", "stream": "_stream",
             "uniform_in": "_uniform_in", "flags8": "_flags8", "lowest8": "_lowest8",
             "rest8": "_rest8", "flags64": "_flags64", "lowest64": "_lowest64"}


def expression(node):
    if isinstance(node, Num):
        return repr(float(node.value))
    if isinstance(node, Name):
        return str(node.symbol)
    if isinstance(node, Neg):
        return f"(-{expression(node.operand)})"
    if isinstance(node, Not):
        return f"(not {expression(node.operand)})"
    if isinstance(node, Call) and node.function == "where":  # where(condition, a, b): a select
        condition, if_true, if_false = (expression(a) for a in node.args)
        return f"({if_true} if {condition} else {if_false})"
    if isinstance(node, Call):
        return f"{FUNCTIONS[node.function]}({', '.join(expression(a) for a in node.args)})"
    if isinstance(node, Select):
        return (f"({expression(node.if_true)} if {expression(node.condition)} "
                f"else {expression(node.if_false)})")
    if isinstance(node, Cast):
        return f"float({expression(node.operand)})"
    if isinstance(node, Equal):
        return f"({expression(node.left)} == {expression(node.right)})"
    if isinstance(node, Double):  # Python floats are doubles
        return expression(node.operand)
    if isinstance(node, Element):
        index = node.index if isinstance(node.index, str) else expression(node.index)
        return f"{node.array}[{index}]"
    if isinstance(node, Integer):
        return str(node.value)
    if isinstance(node, Remainder):
        return f"({expression(node.left)} % {expression(node.right)})"
    return f"({expression(node.left)} {OPERATORS.get(node.op, node.op)} {expression(node.right)})"


def statements(body, depth=1):
    pad, lines = "    " * depth, []
    for s in body:
        if isinstance(s, Comment):
            continue
        if isinstance(s, (Let, Assign)):
            value = expression(s.value)
            cast = {INT: "int", INDEX: "int", KEY: "int"}.get(getattr(s, "type", ""), "")
            lines.append(f"{pad}{s.name} = {cast}({value})")
        elif isinstance(s, Store):
            lines.append(f"{pad}{s.array}[{expression(s.index)}] = {expression(s.value)}")
        elif isinstance(s, AddTo):
            lines.append(f"{pad}{s.array}[{expression(s.index)}] += {expression(s.value)}")
        elif isinstance(s, For):
            lines += [f"{pad}for {s.counter} in range({expression(s.start)}, "
                      f"{expression(s.stop)}):", *(statements(s.body, depth + 1)
                                                   or [pad + "    pass"])]
        elif isinstance(s, View):
            lines.append(f"{pad}{s.name} = {s.array}[{expression(s.offset)}:]")
        elif isinstance(s, If):
            lines += [f"{pad}if {expression(s.condition)}:",
                      *(statements(s.then, depth + 1) or [pad + "    pass"])]
            if s.otherwise:
                lines += [f"{pad}else:", *statements(s.otherwise, depth + 1)]
        elif isinstance(s, Loop):
            lines += [f"{pad}for {s.counter} in range({s.limit}):",
                      f"{pad}    if not {expression(s.guard)}:", f"{pad}        break",
                      *statements(s.body, depth + 1)]
        elif isinstance(s, Break):
            lines.append(f"{pad}break")
        elif isinstance(s, Block):
            lines += statements(s.body, depth)
        elif isinstance(s, MatrixExponential):
            entries = ", ".join(expression(x) for x in s.entries)
            lines.append(f"{pad}{s.name} = _expm({s.size}, {expression(s.h)}, [{entries}])")
    return lines


@dataclass(frozen=True)
class PythonSource:
    code: str
    step_map: object
    semantics: object
    schedule: object
    variant: object
    dtype: str
    work_size: int = 1
    c_source: str = ""

    @property
    def text(self):
        return self.code


MASK = 2**64 - 1


def _mix(x):
    """splitmix64's finaliser, as the C helper lg_mix computes it (64-bit wrap-around)."""
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def _uniform(seed, step, row, source):
    x = _mix(_mix(_mix(_mix(int(seed)) ^ (int(step) & MASK)) ^ (int(row) & MASK))
             ^ (int(source) & MASK))
    return float(x >> 11) * 2.0**-53


def _stream(seed, step, row):
    return _mix(_mix(_mix(int(seed)) ^ (int(step) & MASK)) ^ (int(row) & MASK))


def _uniform_in(stream, source):
    return float(_mix(stream ^ (int(source) & MASK)) >> 11) * 2.0**-53


@dataclass(frozen=True)
class PythonNetworkSource:
    program: object
    code: str

    @property
    def text(self):
        return self.code


class PythonTarget:
    """render, build and runner, as lifgen.targets.c has them."""

    name = "python"
    language = "Python"

    def render(self, step_map, semantics, schedule, variant):
        """One neuron's step as Python (coupled runs run as networks: render_network)."""
        step = lower(step_map, StepOptions(levels=tuple(sorted(semantics.state_quant or ())),
                                           unconnected=True))
        names = state_names(step_map)
        body = statements((*step.step, *step.after_spike))
        new = ", ".join(f"n_{n}" for n in names)
        offset = "lg_offset" if step_map.propagator else "-1.0"
        code = "\n".join(["def neuron(lg_i, lg_dt, arrays):", "    globals().update(arrays)",
                          *body, f"    return ({new},), lg_spike, {offset}"])
        return PythonSource(code, step_map, semantics, schedule, variant, semantics.dtype)

    def build(self, source):
        scope = helpers(source.semantics.state_quant)
        exec(compile(source.code, "<python target>", "exec"), scope)
        return scope["neuron"]

    def runner(self, source, neuron, arrays):
        if source.step_map.model.is_stochastic:
            raise ValueError("the test target runs deterministic populations only (and any "
                             "model as a network)")
        return Runner(source, neuron, arrays)

    def render_network(self, program):
        """The network's program as one Python function over its buffers, by name."""
        if program.plan.dtype != "float64":
            raise ValueError("the test target computes in Python floats: float64 only")
        body = statements((*program.prologue, *program.body), depth=1)
        code = "\n".join(["def network(lg_buffers, lg_step0, lg_n_steps, lg_n_batch, lg_seed):",
                          "    globals().update(lg_buffers)", *body])
        return PythonNetworkSource(program, code)

    def build_network(self, source, schedule=None):
        scope = helpers(next((p.levels for p in source.program.plan.populations if p.levels), ()))
        exec(compile(source.code, "<python network>", "exec"), scope)
        return scope["network"]

    def call_network(self, function, source, buffers, step0, steps, rows, seed):
        function({b.name: array.reshape(-1) for b, array in zip(source.program.buffers,
                                                                buffers)},
                 step0, steps, rows, seed)


def helpers(levels=None):
    """The functions printed code calls, by the names FUNCTIONS gives them."""
    levels = sorted(levels or ())
    return {"math": math, "abs": abs, "_min": _min, "_max": _max, "_exp": _exp, "_expm1": _expm1,
            "_log": _log, "_log1p": _log1p, "_tanh": _tanh, "_sinh": _sinh, "_cosh": _cosh,
            "_exprel": _exprel, "_inverse_exprel": _inverse_exprel, "_sin": _sin, "_cos": _cos, "_pow": _pow,
            "_floor": lambda x: float(math.floor(x)),
            "_clip": lambda x, low, high: _min(_max(x, low), high),
            "_quantize": lambda x: min(levels, key=lambda level: abs(x - level)),
            "_uniform": _uniform,
            "_expm": lambda n, h, entries: list(_expm_of(n, (h, *entries)).reshape(-1)), "_stream": _stream, "_uniform_in": _uniform_in, "_any8": lambda flags, i: bool(flags[i:i + 8].any()),
            "_flags8": lambda flags, i: int.from_bytes(bytes(flags[i:i + 8]), "little"),
            "_lowest8": lambda x: ((x & -x).bit_length() - 1) >> 3,
            "_rest8": lambda x: x & (x - 1),
            "_flags64": lambda flags, i: sum(int(bool(flags[i + j])) << j for j in range(64)),
            "_lowest64": lambda x: (x & -x).bit_length() - 1}


class Runner:
    """Advances every neuron in Python, one step at a time (the same arrays as the C runner)."""

    def __init__(self, source, neuron, arrays):
        self.step_map, self.neuron, self.a = source.step_map, neuron, arrays
        n = arrays.n_neurons
        params = {p: np.broadcast_to(values if stride else values[0], (n,)).astype(float)
                  for p, (values, stride) in arrays.params.items()}
        self.arrays = {ARRAY_PREFIXES["parameter"] + p: v for p, v in params.items()}
        self.arrays.update({f"p_{p}": float(v[0]) for p, v in params.items()})
        scope = helpers()
        environments = [{**{p: float(v[i]) for p, v in params.items()}, "dt": self.step_map.dt}
                        for i in range(n)]
        for k, tree in self.step_map.constants:  # names print as themselves: tau, dt, lg_k0
            values = [eval(expression(tree), scope, env) for env in environments]
            for env, value in zip(environments, values):
                env[k.name] = value
            self.arrays[ARRAY_PREFIXES["constant"] + k.name[3:]] = values
            self.arrays[k.name] = values[0]  # one of dt alone is a plain value in every kernel

    def advance(self, done, steps, spikes):
        a, names = self.a, state_names(self.step_map)
        for t in range(done, done + steps):
            for row in range(a.rows):
                x = {ARRAY_PREFIXES["state"] + s: a.states[s][row] for s in names}
                inputs = {ARRAY_PREFIXES["input"] + u: [float(e.array.reshape(-1)[t * e.time_stride
                                                                      + row * e.batch_stride
                                                                      + i * e.neuron_stride])
                                                        for i in range(a.n_neurons)]
                          for u, e in a.inputs.items()}
                for i in range(a.n_neurons):
                    new, spike, _ = self.neuron(i, self.step_map.dt,
                                                {**self.arrays, **x, **inputs})
                    for s, value in zip(names, new):
                        a.states[s][row, i] = value
                    a.counts[row, i] = (a.counts[row, i] if t else 0) + spike
                    if a.raster is not None:
                        a.raster[t, row, i] = spike
                for s, trace in a.traces.items():
                    trace[t, row] = a.states[s][row, a.index]

    def finish(self, on_device=False):
        """Nothing to do: the run's arrays were written in place."""


TARGET = PythonTarget()
