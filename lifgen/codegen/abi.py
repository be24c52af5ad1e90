"""The kernel ABI: one ordered, typed list of the kernel's arguments, built from the model.

Every target's kernel takes one argument, a struct `lg_args` whose fields are this list. The C
struct, the cffi declaration, the Python marshalling (fields filled by name) and `emit`'s
library are all generated from it, so none of them can disagree on an argument's place.

Field names are injective: each is a role prefix followed by a model name, or a fixed name, and
the role prefixes form a prefix-free code that no fixed name starts with. Two different model
names therefore never give one C name (parameters `beta` and `beta_stride` give `param_beta`,
`pstride_beta`, `param_beta_stride` and `pstride_beta_stride`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

REAL, INT, UINT, BYTE = "lg_real", "int64_t", "uint64_t", "uint8_t"


@dataclass(frozen=True)
class Field:
    """One kernel argument: its field name, element type, whether it is an array (a pointer),
    whether the kernel only reads it, what it is for, and the model name it belongs to."""

    name: str
    type: str
    array: bool
    const: bool
    role: str
    owner: str | None = None

    def declaration(self, restrict: str = "") -> str:
        """`const lg_real *restrict name` and the like."""
        if not self.array:
            return f"{self.type} {self.name}"
        return f"{'const ' if self.const else ''}{self.type} *{restrict}{self.name}"


# role -> (prefix, element type, array, read-only): per state, parameter or input
ROLES: dict[str, tuple[str, str, bool, bool]] = {
    "state": ("state_", REAL, True, False),
    "trace": ("trace_", REAL, True, False),
    "param": ("param_", REAL, True, True),
    "param_stride": ("pstride_", INT, False, True),
    "input": ("input_", REAL, True, True),
    "input_time_stride": ("itime_", INT, False, True),
    "input_batch_stride": ("ibatch_", INT, False, True),
    "input_neuron_stride": ("ineuron_", INT, False, True),
}

# fixed fields: name -> (element type, array, read-only)
FIXED: dict[str, tuple[str, bool, bool]] = {
    "n_steps": (INT, False, True), "n_batch": (INT, False, True), "n_neurons": (INT, False, True),
    "step0": (INT, False, True), "seed": (UINT, False, True), "neuron0": (INT, False, True),
    "dt": (REAL, False, True),  # read only by kernels compiled with runtime_dt
    "record": (INT, True, True), "n_record": (INT, False, True),
    "spikes": (BYTE, True, False), "counts": (INT, True, False),
    "spike_offsets": (REAL, True, False), "work": (REAL, True, False),
}

STATE_ROLES = ("state",)
PARAMETER_ROLES = ("param", "param_stride")
INPUT_ROLES = ("input", "input_time_stride", "input_batch_stride", "input_neuron_stride")


def field_name(role: str, owner: str) -> str:
    """The field of `role` for the model name `owner`, e.g. ("param", "tau") -> "param_tau"."""
    return ROLES[role][0] + owner


def _per(roles: Iterable[str], owner: str) -> list[Field]:
    fields = []
    for role in roles:
        _, type_, array, const = ROLES[role]
        fields.append(Field(field_name(role, owner), type_, array, const, role, owner))
    return fields


def _fixed(*names: str) -> list[Field]:
    return [Field(n, *FIXED[n], role=n) for n in names]


@dataclass(frozen=True)
class KernelABI:
    """The ordered fields of `lg_args` for one model (the same for every variant of its kernel)."""

    fields: tuple[Field, ...]

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def names(self) -> list[str]:
        return [f.name for f in self.fields]


def kernel_abi(states: Iterable[str], parameters: Iterable[str], inputs: Iterable[str]
               ) -> KernelABI:
    """The kernel's arguments for a model with these state (refractory counter included),
    parameter and input names."""
    states = list(states)
    fields = _fixed("n_steps", "n_batch", "n_neurons")
    for name in states:
        fields += _per(STATE_ROLES, name)
    for name in parameters:
        fields += _per(PARAMETER_ROLES, name)
    for name in inputs:
        fields += _per(INPUT_ROLES, name)
    fields += _fixed("step0", "seed", "neuron0", "dt", "record", "n_record")
    for name in states:
        fields += _per(("trace",), name)
    fields += _fixed("spikes", "counts", "spike_offsets", "work")
    return KernelABI(tuple(fields))


# lg_args's compiled layout, which the build checks against cffi's (templates/c/layout.c.j2)
LAYOUT_FUNCTION = "lg_args_layout"


def layout_declaration() -> str:
    """The cffi declaration of the function that reports lg_args's compiled layout."""
    return f"int64_t {LAYOUT_FUNCTION}(int64_t *lg_layout, int64_t lg_n);"


def c_struct(abi: KernelABI) -> str:
    """The C declaration of `lg_args` (for the kernel source and the cffi cdef alike)."""
    lines = [f"    {field.declaration()};" for field in abi]
    return "typedef struct lg_args {\n" + "\n".join(lines) + "\n} lg_args;"
