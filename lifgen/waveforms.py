"""Input waveforms over time (constant, step, pulse) and the CLI's text form of them."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError


@dataclass(frozen=True)
class Constant:
    """The same amplitude at every step."""

    amplitude: float

    def values(self, n_steps):
        return np.full(n_steps, float(self.amplitude))


@dataclass(frozen=True)
class Step:
    """Zero before step `start`, then `amplitude` from `start` on."""

    amplitude: float
    start: int

    def values(self, n_steps):
        out = np.zeros(n_steps)
        out[max(int(self.start), 0):] = self.amplitude
        return out


@dataclass(frozen=True)
class Pulse:
    """`amplitude` from step `start` up to, not including, step `stop`; zero elsewhere."""

    amplitude: float
    start: int
    stop: int

    def values(self, n_steps):
        out = np.zeros(n_steps)
        out[max(int(self.start), 0):max(int(self.stop), 0)] = self.amplitude
        return out




def parse_input_spec(text):
    """Parse the CLI form NAME=SPEC: const:A, step:A@S, pulse:A@S:E, or a .npy file; return (name, value)."""
    name, sep, spec = text.partition("=")
    if not sep or not name:
        raise InputError(f"--input {text!r}: expected NAME=SPEC, e.g. I=step:0.2@10")
    kind, _, rest = spec.partition(":")
    try:
        if kind == "const":
            return name, Constant(float(rest))
        if kind == "step":
            amplitude, start = rest.split("@")
            return name, Step(float(amplitude), int(start))
        if kind == "pulse":
            amplitude, window = rest.split("@")
            start, stop = window.split(":")
            return name, Pulse(float(amplitude), int(start), int(stop))
    except ValueError:
        raise InputError(f"--input {text!r}: malformed {kind} waveform "
                         "(const:A, step:A@S, pulse:A@S:E)") from None
    if spec.endswith(".npy"):
        try:
            return name, np.load(Path(spec), allow_pickle=False)
        except (OSError, ValueError) as error:
            raise InputError(f"--input {text!r}: cannot read {spec} ({error})") from None
    raise InputError(f"--input {text!r}: unknown waveform {kind!r}; use const:A, step:A@S, "
                     "pulse:A@S:E or a .npy file")


@dataclass(frozen=True)
class PulseTrain:
    """Pulses of `amplitude`, each `width` steps long, every `period` steps from step `start`."""

    amplitude: float
    start: int
    width: int
    period: int
    count: int | None = None  # None: pulses until the end

    def values(self, n_steps):
        steps = np.arange(n_steps) - int(self.start)
        phase = np.mod(steps, max(int(self.period), 1))
        on = (steps >= 0) & (phase < int(self.width))
        if self.count is not None:
            on &= steps < int(self.count) * int(self.period)
        return np.where(on, float(self.amplitude), 0.0)


def resample(waveform, factor):
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
