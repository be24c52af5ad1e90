"""Input waveforms over time (constant, step, pulse) and the CLI's text form of them.

Amplitudes and times may be quantities ("0.5 nA", "50 ms"): `in_units` turns them into the
input's declared unit and whole steps of dt before a run. Plain numbers keep meaning the
input's unit and steps.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, Union

import numpy as np
import numpy.typing as npt

from ..errors import InputError


@dataclass(frozen=True)
class Constant:
    """The same amplitude at every step."""

    amplitude: float | str

    def values(self, n_steps: int) -> npt.NDArray[np.float64]:
        return np.full(n_steps, float(self.amplitude))


@dataclass(frozen=True)
class Step:
    """Zero before step `start`, then `amplitude` from `start` on."""

    amplitude: float | str
    start: int | str

    def values(self, n_steps: int) -> npt.NDArray[np.float64]:
        out = np.zeros(n_steps)
        out[max(int(self.start), 0):] = self.amplitude
        return out


@dataclass(frozen=True)
class Pulse:
    """`amplitude` from step `start` up to, not including, step `stop`; zero elsewhere."""

    amplitude: float | str
    start: int | str
    stop: int | str

    def values(self, n_steps: int) -> npt.NDArray[np.float64]:
        out = np.zeros(n_steps)
        out[max(int(self.start), 0):max(int(self.stop), 0)] = self.amplitude
        return out




def parse_input_spec(text: str) -> tuple[str, Waveform | np.ndarray]:
    """Parse the CLI form NAME=SPEC: const:A, step:A@S, pulse:A@S:E, or a .npy file; return
    (name, value). A and the times S, E may carry units ("step:0.5 nA@50 ms")."""
    name, sep, spec = text.partition("=")
    if not sep or not name:
        raise InputError(f"--input {text!r}: expected NAME=SPEC, e.g. I=step:0.2@10")
    kind, _, rest = spec.partition(":")
    try:
        if kind == "const":
            return name, Constant(_amount(rest))
        if kind == "step":
            amplitude, start = rest.split("@")
            return name, Step(_amount(amplitude), _when(start))
        if kind == "pulse":
            amplitude, window = rest.split("@")
            start, stop = window.split(":")
            return name, Pulse(_amount(amplitude), _when(start), _when(stop))
    except ValueError:
        raise InputError(f"--input {text!r}: malformed {kind} waveform "
                         "(const:A, step:A@S, pulse:A@S:E; A may be '0.5 nA', S and E a step "
                         "number or a time such as '50 ms')") from None
    if spec.endswith(".npy"):
        return name, read_npy(Path(spec), f"--input {text!r}")
    raise InputError(f"--input {text!r}: unknown waveform {kind!r}; use const:A, step:A@S, "
                     "pulse:A@S:E or a .npy file")


def read_npy(path: str | os.PathLike[str], what: str) -> np.ndarray:
    """The array of a .npy file, read whole into memory (a mapped file that is rewritten during
    the run ends the process with SIGBUS), from a regular file only: a FIFO, a device or a
    folder is refused at once, without blocking on it."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise InputError(f"{what}: cannot read {path} ({error.strerror or error})") from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):  # (before fdopen, which refuses folders)
        os.close(descriptor)
        raise InputError(f"{what}: {path} is not a regular file (a .npy file of values, "
                         "not a FIFO, device or folder)")
    with os.fdopen(descriptor, "rb") as file:
        try:
            _check_npy_size(file, os.fstat(descriptor).st_size, path, what)
            return np.load(file, allow_pickle=False)
        except InputError:
            raise
        except (OSError, ValueError, EOFError) as error:
            raise InputError(f"{what}: cannot read {path} as a .npy array ({error})") from None


NPY_VERSIONS = ((1, 0), (2, 0), (3, 0))  # the .npy formats (3.0: a UTF-8 header)


def _check_npy_size(file: Any, size: int, path: Any, what: str) -> None:
    """Refuse a .npy file whose header promises more values than the file holds (a forged
    header of 10^12 values was a raw MemoryError): checked before any array is allocated."""
    version = np.lib.format.read_magic(file)
    if version not in NPY_VERSIONS:
        raise InputError(f"{what}: cannot read {path}: .npy format version {version} is none "
                         "NumPy writes")
    # (3.0 is 2.0's layout with a UTF-8 header: its shape and dtype read the same)
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) \
        else np.lib.format.read_array_header_2_0
    shape, _, dtype = reader(file)
    if dtype.hasobject:
        raise InputError(f"{what}: cannot read {path}: it holds Python objects ({dtype}, "
                         f"shape {shape}: pickled, which lifgen does not load); save an array "
                         "of numbers, e.g. np.save(path, np.asarray(x, float))")
    promised = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
    if promised > size - file.tell():
        raise InputError(f"{what}: cannot read {path}: its header promises {promised} bytes of "
                         f"values ({dtype}, shape {shape}) but the file holds "
                         f"{size - file.tell()}")
    file.seek(0)


def _amount(text: str) -> float | str:
    """A number, or quantity text kept as written for `in_units`."""
    from ..frontend.units import is_quantity_text

    text = text.strip()
    return text if is_quantity_text(text) else float(text)


def _when(text: str) -> int | str:
    """A step number, or a time kept as written for `in_units`."""
    from ..frontend.units import is_quantity_text

    text = text.strip()
    return text if is_quantity_text(text) else int(text)


TIMES = ("start", "stop", "width", "period")  # waveform fields counted in steps


def in_units(waveform: W, unit: str, dt: float | None, time_unit: str, what: str) -> W:
    """`waveform` with its amplitude as a number in `unit` and its times in whole steps of `dt`
    (quantities converted; plain numbers are already so). InputError when a time is no whole
    number of steps or a unit does not fit."""
    from ..frontend.units import UnitError, parse_unit, to_unit

    fields = {f.name for f in dataclasses.fields(waveform)}
    changes = {}
    try:
        changes["amplitude"] = to_unit(waveform.amplitude, parse_unit(unit), f"{what} amplitude")
        for name in TIMES:
            value = getattr(waveform, name, None)
            if name in fields and isinstance(value, str):
                changes[name] = _steps(value, dt, time_unit, f"{what} {name}")
            elif name in fields and value is not None:
                changes[name] = _whole_steps(value, f"{what} {name}")
        count = getattr(waveform, "count", None)
        if count is not None:
            if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
                raise InputError(f"{what} count = {count!r}: the number of pulses is a whole "
                                 "number >= 0 (or None: until the end)")
            changes["count"] = int(count)
    except UnitError as error:
        raise InputError(str(error)) from None
    amplitude = changes["amplitude"]
    if isinstance(amplitude, bool) or np.ndim(amplitude) != 0 \
            or not isinstance(amplitude, (int, float, np.integer, np.floating)) \
            or not np.isfinite(amplitude):
        raise InputError(f"{what} amplitude = {waveform.amplitude!r}: one finite number (or a "
                         "quantity such as '0.5 nA'); for values by neuron or by step give an "
                         "array instead of a waveform")
    converted = dataclasses.replace(waveform, **changes)
    for field, low, meaning in LOWEST:
        value = getattr(converted, field, None)
        if field in fields and value is not None and value < low:
            raise InputError(f"{what} {field} = {getattr(waveform, field)!r}: {meaning}")
    if isinstance(converted, Pulse) and int(converted.stop) < int(converted.start):
        raise InputError(f"{what}: the pulse stops (step {converted.stop}) before it starts "
                         f"(step {converted.start})")
    return converted


# a waveform's counts and their least values (in steps): (field, least, what it must be)
LOWEST = (("period", 1, "a pulse train repeats after at least one step"),
          ("width", 1, "a pulse lasts at least one step"),
          ("count", 0, "the number of pulses is a whole number >= 0"))


def _whole_steps(value: object, what: str) -> int:
    """A time given as a number: a whole number of steps (2.7 would be floored silently)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value != round(value):
        raise InputError(f"{what} = {value!r} is not a whole number of steps; give a step "
                         "number or a time such as '1.5 ms'")
    return int(value)


def _steps(value: str, dt: float | None, time_unit: str, what: str) -> int:
    from ..frontend.units import parse_unit, to_unit

    if dt is None or not time_unit:
        raise InputError(f"{what} = {value!r}: this model counts time in steps "
                         f"({'a discrete-time map' if dt is None else 'it declares no time unit'}"
                         "); give a step number")
    steps = float(to_unit(value, parse_unit(time_unit), what)) / dt
    if not np.isfinite(steps) or abs(steps - round(steps)) > 1e-6 * max(1.0, abs(steps)):
        raise InputError(f"{what} = {value!r} is not a whole number of steps of dt = {dt:g} "
                         f"{time_unit}")
    return int(round(steps))


@dataclass(frozen=True)
class PulseTrain:
    """Pulses of `amplitude`, each `width` steps long, every `period` steps from step `start`."""

    amplitude: float | str
    start: int | str
    width: int | str
    period: int | str
    count: int | None = None  # None: pulses until the end

    def values(self, n_steps: int) -> npt.NDArray[np.float64]:
        steps = np.arange(n_steps) - int(self.start)
        phase = np.mod(steps, max(int(self.period), 1))
        on = (steps >= 0) & (phase < int(self.width))
        if self.count is not None:
            on &= steps < int(self.count) * int(self.period)
        return np.where(on, float(self.amplitude), 0.0)


def resample(waveform: Waveform | npt.ArrayLike, factor: int) -> Waveform | np.ndarray:
    """The same waveform in time on a grid `factor` times finer (factor a positive integer)."""
    if isinstance(waveform, Constant):
        return waveform
    if isinstance(waveform, Step):
        return Step(waveform.amplitude, waveform.start * factor)
    if isinstance(waveform, Pulse):
        return Pulse(waveform.amplitude, waveform.start * factor, waveform.stop * factor)
    if isinstance(waveform, PulseTrain):
        return PulseTrain(waveform.amplitude, waveform.start * factor, waveform.width * factor,
                          waveform.period * factor, waveform.count)
    values = np.asarray(waveform, dtype=float)
    return np.repeat(values, factor, axis=0)


WAVEFORMS = (Constant, Step, Pulse, PulseTrain)
Waveform = Union[Constant, Step, Pulse, PulseTrain]
W = TypeVar("W", bound=Waveform)  # in_units gives back the kind of waveform it is given
