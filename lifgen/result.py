"""What a simulation returns: spikes (raster, counts or events), traces, the final state."""

from dataclasses import dataclass, field

import numpy as np

from .errors import InputError


@dataclass
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
    inputs: dict = field(default_factory=dict)  # input name -> array broadcastable to the grid
    threshold: object = None
    spike_offsets: np.ndarray | None = None  # precise mode: spike time within its step, else NaN
    spike_count: np.ndarray | None = None  # (*batch, N)
    spike_events: tuple | None = None  # (steps, flat neuron indices), sorted by step
    recorded: dict = field(default_factory=dict)  # state name -> neuron indices, None for all
    partial: bool = False  # True when the run was interrupted (Ctrl-C) before its last step
    n_steps: int = 0
    time_unit: str = ""  # the model's time unit ("ms"), when its file declares one
    first_nonfinite: tuple | None = None  # (step, flat neuron, state, value) where NaN/inf began
    units: dict = field(default_factory=dict)  # state, input or parameter name -> its unit

    def __post_init__(self):
        if self.spike_count is None and self.spikes is not None:
            self.spike_count = self.spikes.sum(axis=0)

    @property
    def times(self):
        """Time at the end of each step (in the model's time unit), or the step number for maps."""
        steps = np.arange(1, self.n_steps + 1)
        return steps * self.dt if self.dt is not None else steps - 1

    @property
    def n_neurons(self):
        return self.spike_count.shape[-1]

    def spike_steps(self, neuron=0):
        """Steps (0-based) at which `neuron` (of the first batch row) spiked."""
        self._check_neuron(neuron)
        if self.spikes is not None:
            return np.flatnonzero(self.spikes.reshape(self.n_steps, -1, self.n_neurons)[:, 0, neuron])
        if self.spike_events is not None:
            steps, neurons = self.spike_events
            return steps[neurons == neuron]
        raise ValueError("this run kept spike counts only; run with spikes='raster' or 'events'")

    @property
    def spike_times(self):
        """Spike times of each neuron of the first batch row (a list of arrays).

        In precise mode these are the crossing instants, off the grid; otherwise the end of the
        step in which the neuron spiked, (t + 1)*dt.
        """
        dt = self.dt if self.dt is not None else 1.0
        times = []
        for n in range(self.n_neurons):
            steps = self.spike_steps(n)
            if self.spike_offsets is None:
                times.append((steps + 1) * dt)
            else:
                offsets = self.spike_offsets.reshape(self.n_steps, -1, self.n_neurons)
                times.append(steps * dt + offsets[steps, 0, n])
        return times

    def _check_neuron(self, neuron):
        if isinstance(neuron, bool) or not isinstance(neuron, (int, np.integer)) \
                or not 0 <= neuron < self.n_neurons:
            raise InputError(f"neuron must be an index in 0..{self.n_neurons - 1}, got {neuron!r}")

    def trace(self, name, neuron=0):
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

    def input_trace(self, name, neuron=0):
        """The input `name` as seen by `neuron` (of the first batch row), one value per step."""
        grid = self.inputs[name]
        grid = grid.reshape(grid.shape[0], -1, grid.shape[-1])[:, 0, :]
        return np.broadcast_to(grid, (self.n_steps, self.n_neurons))[:, neuron]

    def to_xarray(self):
        """The run as an xarray.Dataset (write it with .to_netcdf or .to_zarr): final states and
        spike counts over (batch..., neuron), traces over (time, batch..., traced_neuron), the
        raster over (time, batch..., neuron) or the events as a table, with the model's units."""
        try:
            import xarray
        except ImportError:
            from .errors import LifgenError
            raise LifgenError('Result.to_xarray needs xarray: pip install "lifgen[dask]" (or '
                              "pip install xarray)") from None
        counts = np.asarray(self.spike_count)
        batch = [f"batch_{i}" for i in range(counts.ndim - 1)]
        cells = (*batch, "neuron")
        variables = {"spike_count": (cells, counts, {"units": "spikes"})}
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

    def plot(self, neuron=0, path=None):
        """Plot input, membrane and spikes of one neuron; save to `path` if given. Returns the figure."""
        from .plotting import plot_result

        return plot_result(self, neuron, path)
