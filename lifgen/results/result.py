"""What a simulation returns: spikes (raster, counts or events), traces, the final state."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

import numpy as np

from ..errors import InputError

if TYPE_CHECKING:  # xarray and matplotlib are optional extras
    import xarray
    from matplotlib.figure import Figure


# The memory guard that conversions consult before they allocate ({what: bytes}, max_memory ->
# bytes left, or an InputError): runtime/memory.py installs its `check` here (the runtime comes
# after the results in the pipeline, so this stage cannot import it).
MEMORY_GUARD: list[Callable[[Mapping[str, int], float | None, str, str], int]] = []


def check_memory(parts: Mapping[str, int], max_memory: float | None, subject: str,
                 advice: str) -> None:
    """Refuse (InputError) an allocation of `parts` beyond the memory limit, before making it."""
    for check in MEMORY_GUARD:
        check(parts, max_memory, subject, advice)


# convention -> the step number k of a spike's step plus this, times dt, is its time: lifgen
# and NEST stamp the end of the step in which the threshold was crossed, Brian2 its start
SPIKE_TIME_CONVENTIONS = {"lifgen": 1, "nest": 1, "end": 1, "brian2": 0, "start": 0}


class SpikeTimes(list):
    """Each neuron's spike times in lifgen's convention (a list of arrays); called with
    `convention=` (a key of SPIKE_TIME_CONVENTIONS), the same in that convention."""

    def __init__(self, in_convention: Callable[[str], list]) -> None:
        super().__init__(in_convention("lifgen"))
        self._in_convention = in_convention

    def __call__(self, convention: str = "lifgen") -> list[np.ndarray]:
        return self._in_convention(convention)


class SpikeEventTimes(tuple):
    """(times, neurons) in lifgen's convention; called with `convention=`, the same in that
    convention."""

    _in_convention: Callable[[str], tuple]

    def __new__(cls, pair: tuple, in_convention: Callable[[str], tuple]) -> "SpikeEventTimes":
        made = super().__new__(cls, pair)
        made._in_convention = in_convention
        return made

    def __call__(self, convention: str = "lifgen") -> tuple[np.ndarray, np.ndarray]:
        return self._in_convention(convention)


@dataclass(repr=False)
class Result:
    """What a run produced. Row t of `spikes` and of each trace holds the values after step t.

    `spikes` is the (T, *batch, N) raster when run with spikes="raster"; `spike_events` the pair
    (steps, neurons) with spikes="events", neurons flat over (*batch, N); `spike_count` is always
    there. Traces are (T, *batch, M) for the M recorded neurons `recorded[name]`.
    """

    spikes: np.ndarray | None
    traces: dict
    state: dict
    dt: float | None  # None for discrete-time maps: time is counted in steps
    model: str = ""
    # input name -> read-only view, broadcastable to the grid, of the input as the kernel read
    # it (not a copy: where the caller's array needed no conversion it is that memory)
    inputs: dict = field(default_factory=dict)
    threshold: object = None  # per-neuron value of the spike threshold on `threshold_state`
    spike_offsets: np.ndarray | None = None  # precise mode: spike time within its step, else NaN
    spike_count: np.ndarray | None = None  # (*batch, N)
    spike_events: tuple | None = None  # (steps, flat neuron indices), sorted by step
    recorded: dict = field(default_factory=dict)  # state name -> neuron indices, None for all
    partial: bool = False  # True when the run was interrupted (Ctrl-C) before its last step
    n_steps: int = 0
    time_unit: str = ""  # the model's time unit ("ms"), when its file declares one
    first_nonfinite: tuple | None = None  # (step, flat neuron, state, value) where NaN/inf began
    units: dict = field(default_factory=dict)  # state, input or parameter name -> its unit
    threshold_state: str = ""  # the state the spike condition compares with `threshold`
    truncated: bool = False  # spike events beyond the memory limit were dropped (counts are whole)
    synapses: dict = field(default_factory=dict)  # plastic synapse type -> state -> per synapse
    synapse_traces: dict = field(default_factory=dict)  # type -> state -> (T, *batch, recorded)

    def __post_init__(self) -> None:
        if self.spike_count is None and self.spikes is not None:
            self.spike_count = self.spikes.sum(axis=0)

    @property
    def times(self) -> np.ndarray:
        """Time at the end of each step (in the model's time unit), or the step number for maps."""
        steps = np.arange(1, self.n_steps + 1)
        return steps * self.dt if self.dt is not None else steps - 1

    @property
    def n_neurons(self) -> int:
        # simulate passes the counts, and __post_init__ sums them from a raster otherwise
        assert self.spike_count is not None, "a Result needs spike_count or spikes"
        return self.spike_count.shape[-1]

    def spike_steps(self, neuron: int = 0) -> np.ndarray:
        """Steps (0-based) at which `neuron` (of the first batch row) spiked."""
        self._check_neuron(neuron)
        if self.spikes is not None:
            return np.flatnonzero(self.spikes.reshape(self.n_steps, -1, self.n_neurons)[:, 0, neuron])
        if self.spike_events is not None:
            steps, neurons = self.spike_events
            return steps[neurons == neuron]
        raise ValueError("this run kept spike counts only; run with spikes='raster' or 'events'")

    @property
    def spike_times(self) -> "SpikeTimes":
        """Spike times of each neuron of the first batch row (a list of arrays).

        In precise mode these are the crossing instants, off the grid; otherwise the end of the
        step in which the neuron spiked, (k + 1)*dt, as NEST stamps them. Called,
        `spike_times(convention="brian2")` gives the start of that step, k*dt, as Brian2's
        SpikeMonitor does (SPIKE_TIME_CONVENTIONS).
        """
        return SpikeTimes(self._times_of_steps)

    def _times_of_steps(self, convention: str) -> list[np.ndarray]:
        """Each neuron's spike times in `convention`."""
        return [self._stamp(self.spike_steps(n), n, convention) for n in range(self.n_neurons)]

    def _stamp(self, steps: np.ndarray, neurons: np.ndarray | int, convention: str
               ) -> np.ndarray:
        """The times of spikes in `steps` (of `neurons`, first batch row) in `convention`."""
        if convention not in SPIKE_TIME_CONVENTIONS:
            raise InputError(f"convention must be one of {', '.join(SPIKE_TIME_CONVENTIONS)}, "
                             f"got {convention!r}")
        dt = self.dt if self.dt is not None else 1.0
        if self.spike_offsets is None or SPIKE_TIME_CONVENTIONS[convention] == 0:
            return (steps + SPIKE_TIME_CONVENTIONS[convention]) * dt
        offsets = self.spike_offsets.reshape(self.n_steps, -1, self.n_neurons)
        return steps * dt + offsets[steps, 0, neurons]

    @property
    def rate_unit(self) -> str:
        """The unit of `rates` and `population_rate`: Hz when the model's time unit is known."""
        if self.dt is None:
            return "spikes/step"
        return "Hz" if self._seconds_per_unit() else f"spikes/{self.time_unit or 'time unit'}"

    def _seconds_per_unit(self) -> float | None:
        from ..frontend.units import UnitError, parse_unit

        try:
            return parse_unit(self.time_unit).factor_to(parse_unit("s")) if self.time_unit else None
        except UnitError:
            return None

    def _per_rate_unit(self, duration: float) -> float:
        """`duration` (in model time, or steps for maps) in the denominator unit of `rate_unit`."""
        seconds = self._seconds_per_unit() if self.dt is not None else None
        return duration * seconds if seconds else duration

    @property
    def duration(self) -> float:
        """Simulated time in the model's time unit (steps for discrete-time maps)."""
        return self.n_steps * (self.dt if self.dt is not None else 1)

    @property
    def rates(self) -> np.ndarray:
        """Mean firing rate of each neuron over the run, shape (*batch, N), in `rate_unit`."""
        if not self.n_steps:
            raise InputError("the run simulated no step, so it has no rate")
        return np.asarray(self.spike_count) / self._per_rate_unit(self.duration)

    def _first_row_events(self) -> tuple[np.ndarray, ...]:
        """(steps, neurons) of every spike of the first batch row, sorted by step."""
        if self.spikes is not None:
            return np.nonzero(self.spikes.reshape(self.n_steps, -1, self.n_neurons)[:, 0, :])
        if self.spike_events is not None:
            steps, neurons = (np.asarray(a) for a in self.spike_events)
            keep = neurons < self.n_neurons
            return steps[keep], neurons[keep]
        raise InputError("this run kept spike counts only; run with spikes='raster' or 'events'")

    @property
    def spike_event_times(self) -> "SpikeEventTimes":
        """(times, neurons): every spike of the first batch row as two flat arrays sorted by time,
        times in the model's time unit (precise crossing instants in precise mode). Called,
        `spike_event_times(convention="brian2")` stamps each at its step's start, k*dt."""
        return SpikeEventTimes(self._event_times("lifgen"), self._event_times)

    def _event_times(self, convention: str) -> tuple[np.ndarray, np.ndarray]:
        steps, neurons = self._first_row_events()
        times = self._stamp(steps, neurons, convention)
        order = np.argsort(times, kind="stable")
        return times[order], neurons[order]

    def raster(self, max_memory: float | None = None) -> np.ndarray:
        """The (T, N) boolean spike raster of the first batch row, from the raster or the
        events; one larger than `max_memory` bytes (default: 80% of the memory available) is
        refused before it is made."""
        check_memory({"raster": self.n_steps * self.n_neurons}, max_memory,
                     f"a raster of {self.n_steps} steps x {self.n_neurons} neurons",
                     "read the spikes as events (Result.spike_events, spike_steps(), "
                     "spike_times), or raise raster(max_memory=...) (bytes)")
        steps, neurons = self._first_row_events()
        raster = np.zeros((self.n_steps, self.n_neurons), bool)
        raster[steps, neurons] = True
        return raster

    def population_rate(self, bin: float | str | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
        """(bin start times, rate): spikes per neuron per unit time (`rate_unit`) of the first
        batch row in bins of `bin` (model time, or text such as "5 ms"; default one step)."""
        step = self.dt if self.dt is not None else 1.0
        width = step if bin is None else self._as_model_time(bin, "bin")
        per_bin = max(1, int(round(width / step)))
        if not np.isclose(per_bin * step, width, rtol=1e-9, atol=0):
            raise InputError(f"bin must be a whole number of steps of {step:g}, got {width:g}")
        steps, _ = self._first_row_events()
        counts = np.bincount(steps // per_bin, minlength=-(-self.n_steps // per_bin))
        return (np.arange(counts.size) * per_bin * step,
                counts / (self.n_neurons * self._per_rate_unit(per_bin * step)))

    def _as_model_time(self, value: float | str, what: str) -> float:
        from ..frontend.units import UnitError, parse_unit, to_unit

        try:
            value = to_unit(value, parse_unit(self.time_unit), what) if self.time_unit \
                else value
        except UnitError as error:
            raise InputError(str(error)) from None
        if isinstance(value, str) or not np.isfinite(value) or value <= 0:
            raise InputError(f"{what} must be a positive time, got {value!r}"
                             + ("" if self.time_unit else " (the model declares no time unit)"))
        return float(value)

    def _check_neuron(self, neuron: object) -> None:
        if isinstance(neuron, bool) or not isinstance(neuron, (int, np.integer)) \
                or not 0 <= neuron < self.n_neurons:
            raise InputError(f"neuron must be an index in 0..{self.n_neurons - 1}, got {neuron!r}")

    def trace(self, name: str, neuron: int = 0) -> np.ndarray:
        """The trace of state `name` for one neuron (of the first batch row)."""
        if name not in self.traces:
            raise InputError(f"no trace of {name!r}: this run traced {sorted(self.traces) or 'none'}"
                             f" (run(..., record=[{name!r}]))")
        self._check_neuron(neuron)
        recorded = self.recorded.get(name)
        if recorded is not None and neuron not in np.asarray(recorded):
            raise InputError(f"neuron {neuron} was not traced: record= traced neurons "
                             f"{np.asarray(recorded).tolist()}")
        column = neuron if recorded is None else int(np.flatnonzero(np.asarray(recorded) == neuron)[0])
        values = self.traces[name]
        return values.reshape(values.shape[0], -1, values.shape[-1])[:, 0, column]

    def input_trace(self, name: str, neuron: int = 0) -> np.ndarray:
        """The input `name` as seen by `neuron` (of the first batch row), one value per step."""
        grid = self.inputs[name]
        grid = grid.reshape(grid.shape[0], -1, grid.shape[-1])[:, 0, :]
        return np.broadcast_to(grid, (self.n_steps, self.n_neurons))[:, neuron]

    def to_xarray(self) -> "xarray.Dataset":
        """The run as an xarray.Dataset (write it with .to_netcdf or .to_zarr): final states and
        spike counts over (batch..., neuron), traces over (time, batch..., traced_neuron), the
        raster over (time, batch..., neuron) or the events as a table, with the model's units."""
        try:
            import xarray
        except ImportError:
            from ..errors import LifgenError
            raise LifgenError('Result.to_xarray needs xarray: pip install "lifgen[dask]" (or '
                              "pip install xarray)") from None
        counts = np.asarray(self.spike_count)
        batch = [f"batch_{i}" for i in range(counts.ndim - 1)]
        cells = (*batch, "neuron")
        variables: dict[str, tuple] = {"spike_count": (cells, counts, {"units": "spikes"})}
        taken = [name for name in self.state if name in {*cells, "spike_count", "time",
                                                          "traced_neuron"}]
        if taken:
            raise InputError(f"Result.to_xarray: the model's state {taken[0]!r} has the name "
                              "of one of the Dataset's own variables or dimensions")
        for name, value in self.state.items():
            variables[name] = (cells, np.asarray(value), {"units": self.units.get(name, ""),
                                                          "description": "state after the run"})
        coords = {"neuron": np.arange(self.n_neurons),
                  "time": ("time", self.times, {"units": self.time_unit if self.dt is not None
                                                else "steps"})}
        traced = {name: self.recorded.get(name) for name in self.traces}
        if self.traces:
            first = next(iter(traced.values()))
            coords["traced_neuron"] = np.arange(self.n_neurons) if first is None else first
            for name, trace in self.traces.items():
                variables[f"{name}_trace"] = (("time", *batch, "traced_neuron"), np.asarray(trace),
                                              {"units": self.units.get(name, "")})
        if self.spikes is not None:
            variables["spikes"] = (("time", *cells), np.asarray(self.spikes))
        if self.spike_events is not None:
            variables["event_step"] = ("event", np.asarray(self.spike_events[0]))
            variables["event_neuron"] = ("event", np.asarray(self.spike_events[1]),
                                         {"description": "flat index over (batch..., neuron)"})
        attrs = {"model": self.model, "dt": self.dt if self.dt is not None else "none",
                 "time_unit": self.time_unit, "n_steps": self.n_steps, "partial": int(self.partial)}
        return xarray.Dataset(variables, coords=coords, attrs=attrs)

    def plot(self, neuron: int = 0, path: str | Path | None = None,
             states: Iterable[str] | None = None) -> "Figure":
        """Plot one neuron: its inputs, one panel per traced state (or `states`) with its unit and
        threshold, and its spikes; saved to `path` if given. Returns the figure."""
        from .plotting import plot_result

        return plot_result(self, neuron, path, states)

    def plot_raster(self, path: str | Path | None = None,
                    bin: float | str | None = None, neurons: object = None) -> "Figure":
        """Spike raster of the first batch row over its population rate; saved to `path` if
        given. `neurons` draws a subset: a count (the first that many), indices or a mask.
        Returns the figure."""
        from .plotting import plot_raster

        return plot_raster(self, path, bin, neurons)

    def __repr__(self) -> str:
        from .notebook import result_text

        return result_text(self)

    def _repr_html_(self) -> str:
        from .notebook import result_html

        return result_html(self)
