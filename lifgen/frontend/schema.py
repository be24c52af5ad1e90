"""The front end's schema pass: a model file's bytes -> a TOML document whose tables and keys are
the ones lifgen reads, and typed readers for its fields (numbers, strings, units, quantities).
Model files and synapse model files share it; every error names the file, the field and the
problem, and points to the reference."""

import math
import os
import stat
from typing import AbstractSet, Any, Mapping, overload

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from ..errors import ModelError
from ..ir.method_names import WRITTEN_STEPS
from ..ir.model import RESET_MECHANISMS
from .units import UnitError, parse_quantity, parse_unit

MAX_FILE_BYTES = 1 << 20


SECTIONS = {
    "model": {"name", "description", "reference", "constraints"},
    "parameters": None, "states": None, "inputs": None,
    "equations": {"laws", "update", *WRITTEN_STEPS},
    "spike": {"condition", "on", "count"},
    "reset": {"mechanism", "timing", "undelayed", *RESET_MECHANISMS},
    "refractory": {"period", "clamp_period", "frozen", "counting", "input"},
    "simulation": {"method", "dt"},
    "parameter_sets": None,
    "synapses": None,
    "presets": None,
    "expressions": None,
    "after_step": None,
}


QUANTITY_KEYS = {
    "parameters": ("value", {"value", "unit", "description"}),
    "states": ("initial", {"initial", "unit", "description"}),
    "inputs": (None, {"unit", "description"}),
}


SYNAPSE_KEYS = {"bias", "target", "description"}


REFERENCE = "every key: lifgen reference, or docs/model-files.md"


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The TOML document of a model file (neuron or synapse), read as a regular file."""
    source = str(path)
    return parse_toml(read_regular_file(path, source), source)


def parse_toml(data: bytes, source: str) -> dict[str, Any]:
    """The TOML document of a model file's bytes."""
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")  # a BOM, as some editors write
        return tomllib.loads(text)
    except UnicodeDecodeError:
        raise ModelError("file is not UTF-8 text", source) from None
    except tomllib.TOMLDecodeError as error:
        raise ModelError(f"not valid TOML ({error})", source) from None
    except RecursionError:
        raise ModelError("the TOML is nested too deeply", source) from None


def read_regular_file(path: str | os.PathLike[str], source: str) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES: opened first, then checked on the
    open descriptor (a FIFO, a device or a directory is refused without blocking or reading)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise ModelError(f"cannot read the file ({error.strerror or error})", source) from None
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode) or status.st_size > MAX_FILE_BYTES:
        os.close(descriptor)
        raise ModelError("is not a regular file (a model file must be a plain .toml file, not a "
                         "device, pipe or folder)" if not stat.S_ISREG(status.st_mode) else
                         f"file is {status.st_size} bytes; the limit is {MAX_FILE_BYTES}", source)
    with os.fdopen(descriptor, "rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ModelError(f"file is over {MAX_FILE_BYTES} bytes, the limit", source)
    return data


def check_keys(table: Mapping[str, Any], allowed: AbstractSet[str], source: str | None,
                where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ModelError(f"unknown key(s) {', '.join(map(repr, unknown))} "
                         f"(allowed: {', '.join(sorted(allowed))}; {REFERENCE})", source, where)


def checked_unit(text: str, source: str | None, field: str) -> str:
    """The declared unit text in its canonical form ("" for none), checked to be one lifgen can
    read."""
    try:
        return parse_unit(text).text
    except UnitError as error:
        raise ModelError(str(error), source, field) from None


def quantity_value(text: str, unit: str, source: str | None, field: str) -> tuple[float, str]:
    """(number in the declared unit, unit) of "20 ms": the declared unit, else the one written."""
    try:
        magnitude, given = parse_quantity(text)
        if not unit:
            return magnitude, given.text
        return magnitude * given.factor_to(parse_unit(unit)), unit
    except UnitError as error:
        raise ModelError(f"{text!r}: {error}", source, field) from None


def number_value(value: object, source: str | None, field: str) -> float:
    try:
        number = float(value) if isinstance(value, (int, float)) else None
    except OverflowError:  # an integer of hundreds of digits
        number = math.inf
    if isinstance(value, bool) or number is None or not math.isfinite(number):
        shown = value if not isinstance(value, int) or abs(value) < 10**20 else "a huge integer"
        raise ModelError(f"expected a finite number, got {shown!r}", source, field)
    return number


@overload
def string_value(table: Mapping[str, Any], key: str, source: str | None, field: str,
            default: str) -> str: ...


@overload
def string_value(table: Mapping[str, Any], key: str, source: str | None, field: str,
            default: None) -> str | None: ...


def string_value(table: Mapping[str, Any], key: str, source: str | None, field: str,
            default: str | None) -> str | None:
    value = table.get(key, default)
    if value is not None and not isinstance(value, str):
        raise ModelError(f"{key} must be a string, got {value!r}", source, f"{field} {key}")
    return value


def text_value(table: Mapping[str, Any], key: str, source: str | None, field: str) -> str:
    if key not in table:
        raise ModelError(f"missing {key!r}", source, field)
    return string_value(table, key, source, field, "")  # the key is there: no default is used


def check_sections(document: Mapping[str, Any], source: str | None) -> None:
    """A model file's tables are the known ones, each a table of its known keys."""
    check_keys(document, set(SECTIONS), source, "top level")
    for section, allowed in SECTIONS.items():
        value = document.get(section, {})
        if not isinstance(value, dict):
            raise ModelError("must be a table", source, f"[{section}]")
        if allowed is not None:
            check_keys(value, allowed, source, f"[{section}]")
