"""Plots of a simulation: input, membrane with threshold, and spikes (matplotlib, an optional extra)."""

import numpy as np

from .errors import InputError


def pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg") if matplotlib.get_backend().lower() == "agg" else None
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("plotting needs matplotlib: pip install 'lifgen[plot]'") from None
    return plt


def plot_result(result, neuron=0, path=None):
    """Three stacked panels for one neuron: its inputs, its membrane V, and its spikes."""
    plt = pyplot()
    if not 0 <= neuron < result.n_neurons:
        raise InputError(f"neuron {neuron} does not exist (0..{result.n_neurons - 1})")
    unit = (result.time_unit or "time unit of the model") if result.dt is not None else "step"
    times = result.times
    figure, (top, middle, bottom) = plt.subplots(
        3, 1, sharex=True, figsize=(8, 6), gridspec_kw={"height_ratios": [1, 2.5, 0.6]})
    for name in result.inputs:
        top.plot(times, result.input_trace(name, neuron), label=name, drawstyle="steps-pre")
    top.set_ylabel("input")
    top.legend(loc="upper right", frameon=False)
    for name in result.traces:
        middle.plot(times, result.trace(name, neuron), label=name)
    if result.threshold is not None:
        threshold = np.broadcast_to(result.threshold, (result.n_neurons,))[neuron]
        middle.axhline(threshold, color="gray", linestyle="--", label="threshold")
    middle.set_ylabel("state")
    middle.legend(loc="upper right", frameon=False)
    spike_times = times[result.spike_steps(neuron)]
    bottom.vlines(spike_times, 0, 1, color="black")
    bottom.set_yticks([])
    bottom.set_ylabel("spikes")
    bottom.set_xlabel(f"time ({unit})")
    top.set_title(f"{result.model}: neuron {neuron}, {len(spike_times)} spikes")
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=120)
        plt.close(figure)
    return figure


def plot_verification(report, path=None):
    """Two panels: each method's trace (coarsest dt) over the reference, and error against dt."""
    plt = pyplot()
    figure, (traces, errors) = plt.subplots(1, 2, figsize=(11, 4.2))
    times, values = report.reference_trace
    traces.plot(times, values, color="black", linewidth=2.5, alpha=0.35, label="reference")
    methods = list(dict.fromkeys(r["method"] for r in report.rows))
    coarsest = max(r["dt"] for r in report.rows)
    for method in methods:
        t, v = report.traces[(method, coarsest)]
        traces.plot(t, v, linewidth=1, label=f"{method} (dt={coarsest:g})")
    traces.set_xlabel("time")
    traces.set_ylabel(report.state)
    traces.set_title(f"{report.model}: traces")
    traces.legend(frameon=False, fontsize=8)
    for method in methods:
        rows = [r for r in report.rows if r["method"] == method]
        dts = np.array([r["dt"] for r in rows])
        errs = np.array([max(r["max_error"], 1e-300) for r in rows])
        line, = errors.loglog(dts, errs, "o-", label=method)
        order = report.expected_order(method)
        if order is not None:
            reference = errs[0] * (dts / dts[0]) ** order / 3
            errors.loglog(dts, reference, ":", color=line.get_color(), linewidth=1.2)
    errors.axhline(report.noise_floor, color="gray", linestyle="--", linewidth=0.8,
                   label="rounding floor")
    errors.set_xlabel("dt")
    errors.set_ylabel("max error")
    errors.set_title("error against dt (dotted: theoretical slopes)")
    errors.legend(frameon=False, fontsize=8)
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=120)
        plt.close(figure)
    return figure
