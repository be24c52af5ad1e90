"""snnTorch tutorial 2, reproduced with lifgen and set beside the analytic solution: figures and captions.

Every number in a caption is computed here, from the simulation and from the closed form.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence, TypedDict

import numpy as np
import numpy.typing as npt

from ..numerics.analytic import LinearSolution
from ..errors import InputError
from ..frontend.library import load_model
from ..runtime.simulate import Simulator, compile as compile_model
from ..runtime.waveforms import Pulse, Step
from ..results.outputs import save_figure, save_text

TUTORIAL_LIF1 = {"R": 5.0, "C": 1e-3}  # tau = 5 ms
TUTORIAL_LIF2 = {"R": 5.1, "C": 5e-3}  # tau = 25.5 ms
DT = 1e-3
Section = tuple[str, str, Mapping[str, object]]  # (title, caption, the caption's numbers)

if TYPE_CHECKING:  # matplotlib is an optional extra
    from matplotlib.axes import Axes


class Entry(TypedDict):
    """One figure of the gallery: where it is, and what its caption says."""

    name: str
    figure: str
    title: str
    caption: str
    numbers: Mapping[str, object]


def make_gallery(out: str | Path, overwrite: bool = False) -> list[Entry]:
    """Write one figure per tutorial section into `out`, plus README.md with the captions."""
    out = Path(out)
    names = [section.__name__.removeprefix("_") for section in SECTIONS]
    targets = prepare_folder(out, [f"tutorial2_{n}.png" for n in names] + ["README.md"],
                             overwrite)
    from ..results.plotting import pyplot

    plt = pyplot()
    entries: list[Entry] = []
    for name, section, target in zip(names, SECTIONS, targets):
        figure, axes = plt.subplots(figsize=(7.5, 3.6))
        title, caption, numbers = section(axes)
        axes.set_title(title)
        axes.set_xlabel("time (ms)")
        axes.legend(frameon=False, fontsize=8)
        figure.tight_layout()
        save_figure(figure, target, overwrite, dpi=110)
        entries.append({"name": name, "figure": str(target), "title": title,
                        "caption": caption, "numbers": numbers})
    lines = ["# snnTorch tutorial 2, reproduced by lifgen", "",
             "Made by `lifgen gallery` (or `python examples/tutorial.py`). Lapicque's neuron, "
             "forward Euler as snnTorch integrates it, beside the analytic solution.", ""]
    for entry in entries:
        lines += [f"## {entry['title']}", "", f"![{entry['title']}]({Path(entry['figure']).name})",
                  "", entry["caption"], ""]
    save_text(targets[-1], "\n".join(lines), overwrite)
    return entries


def prepare_folder(out: Path, names: Sequence[str], overwrite: bool) -> list[Path]:
    """The paths of `names` in folder `out`, created; refuses to replace files unless `overwrite`."""
    targets = [out / name for name in names]
    existing = [str(p) for p in targets if p.exists() or p.is_symlink()]  # (dangling too)
    if existing and not overwrite:
        raise InputError(f"the gallery would replace {', '.join(existing)}; pass --force "
                         "(overwrite=True) to regenerate it")
    out.mkdir(parents=True, exist_ok=True)
    return targets


def _lapicque(**kwargs: Any) -> Simulator:  # compile() options
    return compile_model("lapicque", dt=DT, **kwargs)


def _exact_trace(params: Mapping[str, float], current: npt.NDArray[np.float64],
                 initial: float = 0.0, reset: str | None = None, n_steps: int | None = None
                 ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The event-driven exact solution (resets at the crossing instants), at the grid times."""
    solution = LinearSolution(load_model("lapicque"))
    n_steps = n_steps or len(current)
    trace, spikes = solution.simulate(n_steps, DT, {"I": current}, params, {"V": initial}, reset)
    if reset is None:
        trace, spikes = solution.simulate(n_steps, DT, {"I": current},
                                          dict(params, threshold=1e300), {"V": initial})
    return trace["V"], spikes


def _ms(n_steps: int) -> np.ndarray:
    return np.arange(1, n_steps + 1) * DT * 1e3


def _no_stimulus(axes: Axes) -> Section:
    V0, n = 0.9, 100
    euler = _lapicque().run(n, initial={"V": V0}, params=TUTORIAL_LIF1).traces["V"][:, 0]
    tau = TUTORIAL_LIF1["R"] * TUTORIAL_LIF1["C"]
    t = np.arange(0, n + 1) * DT
    analytic = V0 * np.exp(-t / tau)
    axes.plot(t * 1e3, analytic, color="black", alpha=0.4, linewidth=3, label="V0 e^(-t/tau)")
    axes.plot(_ms(n), euler, ".", markersize=3, label="lifgen, Euler (snnTorch)")
    axes.set_ylabel("V (volt)")
    caption = (f"No input, V0 = {V0}: the membrane decays with tau = RC = {tau * 1e3:g} ms. Euler "
               f"multiplies by 1 - dt/tau = {euler[1] / euler[0]:.4f} per step, the exact "
               f"solution by e^(-dt/tau) = {np.exp(-DT / tau):.4f}: after one step {euler[0]:.4f} "
               f"against {analytic[1]:.4f}.")
    return "Without stimulus", caption, {"first_step": float(euler[0]),
                                          "exact_first_step": float(analytic[1])}


def _step(axes: Axes) -> Section:
    n, onset, amplitude = 200, 10, 0.1
    euler = _lapicque().run(n, inputs={"I": Step(amplitude, onset)},
                            params=TUTORIAL_LIF1).traces["V"][:, 0]
    current = Step(amplitude, onset).values(n)
    exact, _ = _exact_trace(TUTORIAL_LIF1, current)
    R, tau = TUTORIAL_LIF1["R"], TUTORIAL_LIF1["R"] * TUTORIAL_LIF1["C"]
    at_tau = onset + int(round(tau / DT)) - 1  # the row that ends tau after the onset
    axes.plot(_ms(n), exact, color="black", alpha=0.4, linewidth=3, label="exact")
    axes.plot(_ms(n), euler, label="lifgen, Euler (snnTorch)")
    axes.axhline(amplitude * R, color="gray", linestyle="--", label="I R")
    axes.set_ylabel("V (volt)")
    caption = (f"A {amplitude} A step from step {onset}: V settles at I R = {amplitude * R:g} V "
               f"(lifgen: {euler[-1]:.10f}). One time constant after the onset the exact solution "
               f"is (1 - 1/e) I R = {exact[at_tau]:.4f} V; Euler, at the same time, "
               f"{euler[at_tau]:.4f} V.")
    return "Step input", caption, {"steady_state": float(euler[-1]),
                                   "exact_at_tau": float(exact[at_tau]),
                                   "euler_at_tau": float(euler[at_tau])}


def _pulses(axes: Axes) -> Section:
    n, peaks = 200, []
    for amplitude, stop in ((0.1, 30), (0.111, 20), (0.147, 15)):
        euler = _lapicque().run(n, inputs={"I": Pulse(amplitude, 10, stop)},
                                params=TUTORIAL_LIF1).traces["V"][:, 0]
        exact, _ = _exact_trace(TUTORIAL_LIF1, Pulse(amplitude, 10, stop).values(n))
        line, = axes.plot(_ms(n), euler, label=f"{amplitude} A for {stop - 10} steps")
        axes.plot(_ms(n), exact, color=line.get_color(), alpha=0.35, linewidth=3)
        peaks.append(float(euler.max()))
    axes.set_ylabel("V (volt)")
    caption = ("Three pulses of about the same charge (0.1 A for 20 steps, 0.111 A for 10, 0.147 A "
               f"for 5) reach about the same peak: {peaks[0]:.5f}, {peaks[1]:.5f} and "
               f"{peaks[2]:.5f} V with Euler. Thick pale lines: the exact solution.")
    return "Pulse inputs", caption, {"peaks": peaks}


def _firing(axes: Axes) -> Section:
    n, onset, amplitude = 200, 10, 0.2
    result = _lapicque().run(n, inputs={"I": Step(amplitude, onset)})
    R, C = 5.1, 5e-3
    tau, v_inf = R * C, amplitude * R
    crossing = tau * np.log(v_inf / (v_inf - 1.0))
    exact, spikes = _exact_trace({**TUTORIAL_LIF2, "threshold": 1.0},
                                 Step(amplitude, onset).values(n), reset="subtract")
    axes.plot(_ms(n), exact, color="black", alpha=0.4, linewidth=3, label="exact, reset at crossing")
    axes.plot(_ms(n), result.traces["V"][:, 0], label="lifgen, Euler (snnTorch)")
    axes.axhline(1.0, color="gray", linestyle="--", label="threshold")
    for s in result.spike_steps():
        axes.axvline((s + 1) * DT * 1e3, color="tab:red", linewidth=1, label="Euler spike")
    axes.set_ylabel("V (volt)")
    steps = result.spike_steps().tolist()
    caption = (f"R = {R}, C = {C}, a {amplitude} A step from step {onset}: V approaches I R = "
               f"{v_inf:g} V, just above the 1 V threshold, and the neuron spikes once in 200 "
               f"steps, at step {steps[0]} (0-based; snnTorch's tutorial plots it at 109). The "
               f"closed form puts the crossing at t* = tau ln(V_inf/(V_inf - theta)) = "
               f"{crossing * 1e3:.3f} ms after the onset, i.e. at {(onset * DT + crossing) * 1e3:.3f}"
               f" ms; the event-driven exact solution spikes at "
               f"{', '.join(f'{s * 1e3:.3f}' for s in spikes)} ms.")
    return "Firing", caption, {"spike_steps": steps, "exact_crossing": float(onset * DT + crossing)}


def _spike_train(seed: int = 0) -> npt.NDArray[np.float64]:
    return (np.random.default_rng(seed).random(200) < 0.4).astype(float)


def _spike_input(axes: Axes) -> Section:
    train = _spike_train()
    result = _lapicque().run(200, inputs={"I": train[:, None]}, initial={"V": 0.5},
                             params={"threshold": 0.5})
    axes.plot(_ms(200), result.traces["V"][:, 0], label="V")
    axes.vlines(_ms(200)[train > 0], 0.0, 0.08, color="gray", linewidth=0.6, label="input spikes")
    axes.axhline(0.5, color="gray", linestyle="--", label="threshold")
    axes.set_ylabel("V (volt)")
    counts = (int(train.sum()), int(np.asarray(result.spike_count)[0]))
    caption = (f"A seeded Bernoulli(0.4) spike train (NumPy seed 0): {counts[0]} input spikes in "
               f"200 steps drive {counts[1]} output spikes (threshold 0.5 V, V0 = 0.5 V). "
               "There is no closed form here: the input is a train of unit pulses.")
    return "Spike inputs", caption, {"input_spikes": counts[0], "output_spikes": counts[1]}


def _resets(axes: Axes) -> Section:
    train = _spike_train()
    counts = {}
    for reset in ("subtract", "zero"):
        result = _lapicque(reset=reset).run(200, inputs={"I": train[:, None]},
                                            initial={"V": 0.5}, params={"threshold": 0.5})
        counts[reset] = int(np.asarray(result.spike_count)[0])
        axes.plot(_ms(200), result.traces["V"][:, 0], label=f"reset {reset}: {counts[reset]} spikes")
    axes.axhline(0.5, color="gray", linestyle="--", label="threshold")
    axes.set_ylabel("V (volt)")
    caption = (f"The same spike train with both reset mechanisms: subtracting the threshold keeps "
               f"the excess and fires {counts['subtract']} times; resetting to zero discards it and "
               f"fires {counts['zero']} times, the sparser code.")
    return "Reset mechanisms", caption, counts


SECTIONS = (_no_stimulus, _step, _pulses, _firing, _spike_input, _resets)
