"""The statement IR: one neuron's step as a typed list of statements, decided in Python.

`lower.py` builds it from a StepMap and the model options; each target's printer turns it into
code. Expressions are the written trees of `written.py` (so a target rounds exactly as the step
map says), whose names are already the kernel's local identifiers, plus three nodes that only a
kernel needs: a select, a cast and an array element.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, NamedTuple, Union

from .written import Call, Name, Neg, Not, Num, Op

REAL, INT = "real", "int"  # the types of locals: the kernel's float type, or a C int flag
INDEX = "index"  # a 64-bit signed integer local: an array position, a step or a slot
KEY = "key"  # a 64-bit unsigned local: a random stream's key
DOUBLE = "double"  # a double local whatever the float type: a plastic synapse's states and times


@dataclass(frozen=True)
class Select:
    """`condition ? if_true : if_false`, evaluated without a branch where the target can."""

    condition: "Expression"
    if_true: "Expression"
    if_false: "Expression"


@dataclass(frozen=True)
class Cast:
    """An int flag read as a real number (1 or 0)."""

    operand: "Expression"


@dataclass(frozen=True)
class Element:
    """`array[index]`: the value of this neuron in an array the schedule provides (the index a
    counter's name, or an index expression)."""

    array: str
    index: "str | Expression"


@dataclass(frozen=True)
class Integer:
    """A whole number of the index arithmetic (a size, a stride, a delay in steps)."""

    value: int


@dataclass(frozen=True)
class Remainder:
    """`left % right` of non-negative indices: a step's slot in a delay ring."""

    left: "Expression"
    right: "Expression"


@dataclass(frozen=True)
class Equal:
    """`left == right` of indices: a synapse's delay against the delay whose arrivals run."""

    left: "Expression"
    right: "Expression"


@dataclass(frozen=True)
class Double:
    """An expression computed in double whatever the kernel's float type (its numbers and
    functions double ones): a plastic synapse's propagation and statements, as Brian2 keeps
    synaptic states in double."""

    operand: "Expression"


Expression = Union[Num, Name, Op, Neg, Not, Call, Select, Cast, Element, Integer, Remainder,
                   Equal, Double]


@dataclass(frozen=True)
class Comment:
    text: str


@dataclass(frozen=True)
class Let:
    """Declare a local: `const real name = value;` (or mutable; or an int flag, an index, a
    key or a double: the types above)."""

    name: str
    value: Expression
    type: str = REAL
    mutable: bool = False


@dataclass(frozen=True)
class Assign:
    name: str
    value: Expression


@dataclass(frozen=True)
class If:
    condition: Expression
    then: tuple["Statement", ...]
    otherwise: tuple["Statement", ...] = ()


@dataclass(frozen=True)
class Loop:
    """`for (int counter = 0; counter < limit && guard; ++counter) body`."""

    counter: str
    limit: int
    guard: Expression
    body: tuple["Statement", ...]


@dataclass(frozen=True)
class Break:
    pass


@dataclass(frozen=True)
class Block:
    """A nested scope, so that its locals may reuse names."""

    body: tuple["Statement", ...]


@dataclass(frozen=True)
class Store:
    """`array[index] = value`: an element written (a spike flag, a count, a trace sample)."""

    array: str
    index: Expression
    value: Expression


@dataclass(frozen=True)
class AddTo:
    """`array[index] += value`: a synaptic event added to its slot, in the loops' fixed order
    (a target running iterations as threads gets loops whose threads add to elements of their
    own: NetworkPlan.gather)."""

    array: str
    index: Expression
    value: Expression


@dataclass(frozen=True)
class For:
    """`for (index counter = start; counter < stop; ++counter) body`: a loop over neurons,
    batch rows, the synapses of a CSR row or the steps of a run."""

    counter: str
    start: Expression
    stop: Expression
    body: tuple["Statement", ...]


@dataclass(frozen=True)
class View:
    """Declare `name` as the part of `array` that starts at `offset` (a pointer in C): the
    neuron step reads its arrays by neuron index, and a view places them in a population's
    buffers at a batch row and step. `element` is the C type of the elements (lg_real, ...)."""

    name: str
    array: str
    offset: Expression
    element: str = REAL


@dataclass(frozen=True)
class MatrixExponential:
    """Declare `name` as exp(M*h) of the size x size matrix M whose entries (row by row) are
    given, in double: an exact propagator, computed numerically once per neuron and call (its
    entries read as elements of `name`)."""

    name: str
    size: int
    h: Expression
    entries: tuple[Expression, ...]


@dataclass(frozen=True)
class Apply:
    """An elementary `function` applied in place to the first `count` values of `array`: the
    calls of a round of a tile's step, gathered into one loop (targets/cfamily/call_rounds.py)."""

    function: str
    array: str
    count: Expression


Statement = Union[Comment, Let, Assign, If, Loop, Break, Block, Store, AddTo, For, View,
                  MatrixExponential, Apply]


@dataclass(frozen=True)
class NeuronStep:
    """One neuron's step, as the schedules insert it.

    `step` reads the neuron's states, parameters, constants and inputs and leaves the updated
    states in their `n_` locals, `lg_spike` (and `lg_reset`; `lg_offset` in precise mode).
    `after_spike` finishes the step once the spike is final: it follows `step` at once, except
    under winner-take-all inhibition, where the schedule first picks the winner; `margin` is
    then how far each neuron is above threshold.
    """

    step: tuple[Statement, ...]
    after_spike: tuple[Statement, ...]
    margin: Expression | None = None

    def calls(self) -> set[str]:
        """The functions the step calls (so that a kernel defines only those helpers)."""
        return calls((self.step, self.after_spike, self.margin))


def nodes(tree: object) -> Iterator[object]:
    """Every statement and expression node in `tree` (a node, or tuples and lists of them), in
    order, each before its parts (a walk with a stack: codegen walks trees millions of times)."""
    stack = [tree]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        if isinstance(item, (tuple, list)):
            extend(reversed(item))
            continue
        if item is None or isinstance(item, (str, int, float)):
            continue
        yield item
        if not isinstance(item, Name):  # a leaf: its SymPy symbol is not walked
            kind = type(item)
            fields = _FIELDS[kind] if kind in _FIELDS else _fields(kind)
            extend([getattr(item, name) for name in fields])


_FIELDS: dict[type, tuple[str, ...]] = {}  # a node type's fields, last first (pushed so)


def _fields(kind: type) -> tuple[str, ...]:
    """The fields of a node type, last first (none for SymPy's and other leaves), looked up
    once per type."""
    if kind not in _FIELDS:
        _FIELDS[kind] = tuple(reversed(tuple(getattr(kind, "__dataclass_fields__", {}))))
    return _FIELDS[kind]


class Uses(NamedTuple):
    """What statements or expressions use, by kind (one walk: codegen asks for them together)."""

    identifiers: set[str]  # read or assigned (declared names excluded), arrays included
    indices: set[str]  # the indices of array elements (lg_i): names the schedule provides
    calls: set[str]  # the functions called, nested calls included
    applied: set[str]  # the functions applied in place to an array (Apply)


def uses(tree: object) -> Uses:
    """The identifiers, element indices, called and applied functions of `tree`."""
    found = Uses(set(), set(), set(), set())
    for node in nodes(tree):
        if isinstance(node, Name):
            found.identifiers.add(node.text)
        elif isinstance(node, Element):
            found.identifiers.add(node.array)
            if isinstance(node.index, str):
                found.indices.add(node.index)
        elif isinstance(node, Call):
            found.calls.add(node.function)
        elif isinstance(node, Assign):
            found.identifiers.add(node.name)
        elif isinstance(node, (Store, AddTo, View)):
            found.identifiers.add(node.array)
        elif isinstance(node, Apply):
            found.identifiers.add(node.array)
            found.applied.add(node.function)
    return found


def identifiers(tree: object) -> set[str]:
    """The identifiers that statements or expressions read or assign (declared names excluded),
    array names of elements included: what a kernel must declare for them."""
    return uses(tree).identifiers


def calls(tree: object) -> set[str]:
    """The functions that statements or expressions call, nested calls included."""
    return uses(tree).calls
