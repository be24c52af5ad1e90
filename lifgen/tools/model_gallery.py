"""One small figure per library model, from its own file with `method="auto"`: the model library
at a glance. The input of each panel is data in `SHOWCASES`; captions count the spikes drawn."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError
from .gallery import prepare_folder
from ..frontend.library import list_models, load_model
from ..ir.model import Model
from ..results.result import Result
from ..runtime.simulate import compile as compile_model
from ..runtime.waveforms import Step
from ..results.outputs import save_figure, save_text

if TYPE_CHECKING:  # matplotlib is an optional extra
    from matplotlib.axes import Axes


@dataclass(frozen=True)
class Panel:
    """One run drawn in a model's figure: a preset, an input, initial states and parameters."""

    label: str
    current: Step | float
    preset: str | None = None
    initial: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    connections: dict = field(default_factory=dict)


# model: (steps, time unit of its dt, panels)
SHOWCASES = {
    "lapicque": (300, "s", [Panel("0.25 A step", Step(0.25, 20))]),
    "leaky": (100, "steps", [Panel("I = 0.15", 0.15)]),
    "synaptic": (100, "steps", [Panel("I = 0.04", 0.04)]),
    "alpha": (100, "steps", [Panel("I = 0.3", 0.3)]),
    "rleaky": (100, "steps", [Panel("I = 0.3", 0.3),
                               Panel("I = 0.3, self-inhibition -0.5", 0.3,
                                     connections={"rec": [-0.5]})]),
    "rsynaptic": (100, "steps", [Panel("I = 0.04", 0.04),
                                  Panel("I = 0.04, self-inhibition -0.2", 0.04,
                                        connections={"rec": [-0.2]})]),
    "qif": (1000, "ms", [Panel("I = 5 nA", 5.0), Panel("I = 10 nA", 10.0)]),
    "izhikevich": (3000, "ms", [Panel(preset.replace("_", " "), Step(10.0, 100), preset=preset)
                          for preset in ("regular_spiking", "intrinsically_bursting",
                                         "chattering", "fast_spiking")]),
    "hodgkin_huxley": (10000, "ms", [Panel("10 µA/cm²", Step(10.0, 1000))]),
    "adex": (5000, "ms", [Panel(preset, Step(current, 200), preset=preset)
                    for preset, current in (("tonic", 500.0), ("adapting", 500.0),
                                            ("initial_burst", 300.0), ("bursting", 210.0))]),
    "adex_cuba": (3000, "ms", [Panel("400 pA step", Step(400.0, 200)),
                               Panel("400 pA, I_i = 3 nA at t = 0", Step(400.0, 200),
                                     initial={"I_i": 3000.0})]),
    "iaf_psc_exp": (1000, "ms", [Panel("400 pA step", Step(400.0, 100)),
                                 Panel("400 pA, I_in = -600 pA at t = 0", Step(400.0, 100),
                                       initial={"I_in": -600.0})]),
    "eif": (1000, "ms", [Panel("I = 2", 2.0)]),
    "lif_cuba": (2000, "ms", [Panel("I = 0, E_L above threshold", 0.0,
                              initial={"g_e": 6.0, "g_i": -3.0})]),
    "lif_coba": (2000, "ms", [Panel("I = 20 mV", 20.0, initial={"g_e": 0.4, "g_i": 0.3})]),
    # at rest at E_L = -60 mV the COBAHH neuron fires by itself; inhibition holds it back
    "cobahh": (20000, "ms", [Panel("I = 0", 0.0),
                             Panel("I = 0, g_i = 200 nS at t = 0", 0.0, initial={"g_i": 200.0}),
                             Panel("200 pA step", Step(200.0, 5000))]),
}


def showcase(name: str) -> list[tuple[Panel, Result]]:
    """Simulate the panels of one library model; a list of (panel, Result)."""
    n_steps, _, panels = SHOWCASES[name]
    runs = []
    for panel in panels:
        model = load_model(name, preset=panel.preset)
        simulator = compile_model(model, method=None if model.is_discrete else "auto")
        runs.append((panel, simulator.run(n_steps, inputs={"I": panel.current},
                                          initial=panel.initial, params=panel.params,
                                          connections=panel.connections,
                                          record=[_membrane(model)])))
    return runs


def make_model_gallery(out: str | Path, overwrite: bool = False) -> list[dict[str, str]]:
    """Write `out/<model>.png` for every library model, and `out/README.md` with the captions."""
    out = Path(out)
    missing = sorted(set(list_models()) - set(SHOWCASES))
    if missing:
        raise InputError(f"no showcase for model(s) {', '.join(missing)}")
    names = list(SHOWCASES)
    targets = prepare_folder(out, [f"{name}.png" for name in names] + ["README.md"], overwrite)
    from ..results.plotting import pyplot

    plt = pyplot()
    entries, lines = [], ["# The model library", "",
                          "Made by `lifgen gallery models`: each model from its file in "
                          "`models/`, integrated with `method=\"auto\"`.", ""]
    for name, target in zip(names, targets):
        model = load_model(name)
        runs = showcase(name)
        figure, axes = plt.subplots(len(runs), 1, sharex=True, squeeze=False,
                                    figsize=(4.8, 1.2 + 1.1 * len(runs)))
        for row, (panel, result) in zip(axes[:, 0], runs):
            _draw(row, panel, result, model)
        axes[-1, 0].set_xlabel(f"time ({SHOWCASES[name][1]})")
        axes[0, 0].set_title(name, fontsize=9)
        figure.tight_layout()
        save_figure(figure, target, overwrite, dpi=100)
        counts = ", ".join(f"{panel.label}: {int(np.asarray(result.spike_count).sum())} spikes"
                           for panel, result in runs)
        caption = f"{model.description}. {counts}."
        entries.append({"name": name, "figure": str(target), "caption": caption})
        lines += [f"## {name}", "", f"![{name}]({target.name})", "", caption, ""]
    save_text(targets[-1], "\n".join(lines), overwrite)
    return entries


def _draw(axes: Axes, panel: Panel, result: Result, model: Model) -> None:
    state = _membrane(model)
    times = result.times if result.dt is not None else np.arange(1, result.n_steps + 1)
    axes.plot(times, result.traces[state][:, 0], linewidth=0.8, label=panel.label)
    spikes = times[result.spike_steps()]
    axes.plot(spikes, np.full(spikes.shape, result.traces[state][:, 0].max()), "|",
              color="tab:red", markersize=6)
    unit = dict((q.name, q.unit) for q in model.states)[state]
    axes.set_ylabel(f"{state} ({unit})" if unit else state, fontsize=8)
    axes.tick_params(labelsize=7)
    axes.legend(loc="lower right", frameon=False, fontsize=7)



def _membrane(model: Model) -> str:
    return "V" if "V" in model.state_names else model.state_names[0]
