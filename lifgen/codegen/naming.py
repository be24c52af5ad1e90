"""Every name lifgen gives an identifier of generated code, in one place: lifgen's own prefix
and one prefix table per kind of name. The kernel's prefixes together form a prefix-free code,
and so do the members of emit's library structs (tests/test_ir.py), so two model names never
meet in the generated C."""

from __future__ import annotations

from .abi import ROLES, field_name

LIFGEN = "lg_"  # lifgen's own identifiers; ir/names.py refuses model names that start with it
NEURON = "lg_i"  # the neuron's index in a schedule's loops

# Local identifiers of the per-neuron step, one prefix per kind of name.
NEURON_PREFIXES = {"state": "s_", "new": "n_", "parameter": "p_", "input": "u_",
                   "synapse": "y_", "reset": "r_", "correction": "c_", "after": "a_",
                   "from": "lg_from_", "to": "lg_to_", "substep": "lg_y_", "trial": "lg_try_"}
# Arrays a schedule provides for the step: the neuron's value is element lg_i.
ARRAY_PREFIXES = {"state": "lg_x_", "parameter": "lg_tp_", "constant": "lg_tk_",
                  "input": "lg_in_", "time_input": "lg_value_", "synapse": "lg_syn_"}
# Arrays and values of the kernel's schedules, per model name.
SCHEDULE_PREFIXES = {"scratch_parameter": "lg_p_", "scratch_constant": "lg_k_",
                     "held": "lg_held_"}
# emit's library struct members: a prefix per kind, as the kernel's own names have, so that no
# model name meets a macro of the C library (a parameter EOF is p_EOF, a state NULL s_NULL).
MEMBER_PREFIXES = {"param": "p_", "state": "s_", "input": "u_"}


def lifgen_name(name: str) -> str:
    """One of lifgen's own identifiers: lg_ + name."""
    return LIFGEN + name


def local(kind: str, name: str) -> str:
    """A local of the neuron's step: s_V (the state before the step), n_V (after it), ..."""
    return NEURON_PREFIXES[kind] + name


def array(kind: str, name: str) -> str:
    """A schedule's array for the step: lg_x_V, lg_tp_tau, ..."""
    return ARRAY_PREFIXES[kind] + name


def schedule_name(kind: str, name: str) -> str:
    """A schedule's own array or value: lg_held_I, lg_p_tau, ..."""
    return SCHEDULE_PREFIXES[kind] + name


def field_local(role: str, owner: str) -> str:
    """The kernel's local copy of an argument field: lg_param_tau."""
    return lifgen_name(field_name(role, owner))


def member(kind: str, name: str) -> str:
    """emit's library struct member for a parameter, state or input `name`: p_tau, s_V, u_I."""
    return MEMBER_PREFIXES[kind] + name


def local_prefixes() -> dict[str, str]:
    """Every prefix that turns a model name into a C identifier of the kernel (for the test that
    they form a prefix-free code, which makes C names injective)."""
    table = {f"neuron {k}": v for k, v in NEURON_PREFIXES.items()}
    table.update({f"array {k}": v for k, v in ARRAY_PREFIXES.items()})
    table.update({f"schedule {k}": v for k, v in SCHEDULE_PREFIXES.items()})
    table.update({f"field {k}": lifgen_name(v[0]) for k, v in ROLES.items()})
    return table
