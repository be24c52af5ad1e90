"""Issue 14, results a scientist can read: rates and rasters in time units, plots with a panel
and a unit per state, and short reprs for the terminal and HTML for notebooks."""

import html
import importlib.util

import numpy as np
import pytest

import lifgen
from lifgen.errors import InputError


@pytest.fixture(scope="module")
def cuba():
    """200 ms of lif_cuba (ms, mV): 50 neurons, two of them traced."""
    simulator = lifgen.compile("lif_cuba")
    return simulator, simulator.run(2000, 50, record={"V": [0, 3]})


def test_rates_are_in_hertz_when_the_model_has_a_time_unit(cuba):
    _, result = cuba
    assert result.rate_unit == "Hz" and result.duration == pytest.approx(200.0)
    expected = result.spike_count / 0.2  # spikes over 200 ms
    np.testing.assert_allclose(result.rates, expected)
    assert result.rates.mean() > 0


def test_population_rate_bins_a_time_with_a_unit(cuba):
    _, result = cuba
    starts, rate = result.population_rate("10 ms")
    assert starts.size == 20 and starts[1] == pytest.approx(10.0)
    assert rate.sum() * 0.010 == pytest.approx(result.spike_count.sum() / 50)  # spikes per neuron
    same = result.population_rate(10.0)[1]
    np.testing.assert_array_equal(rate, same)
    with pytest.raises(InputError, match="whole number of steps"):
        result.population_rate("0.25 ms")
    with pytest.raises(InputError, match="bin is mV"):
        result.population_rate("5 mV")


def test_spike_event_times_are_flat_and_in_time_units(cuba):
    _, result = cuba
    times, neurons = result.spike_event_times
    assert times.size == neurons.size == result.spike_count.sum()
    assert np.all(np.diff(times) >= 0)
    np.testing.assert_allclose(np.sort(times[neurons == 7]), result.spike_times[7])
    raster = result.raster()
    assert raster.shape == (2000, 50) and raster.sum() == times.size


def test_spike_times_in_brian2s_convention_are_a_step_earlier(cuba):
    """lifgen and NEST stamp the end of the spike's step, (k + 1)*dt; Brian2 its start, k*dt."""
    _, result = cuba
    steps = result.spike_steps(7)
    assert steps.size
    np.testing.assert_allclose(result.spike_times[7], (steps + 1) * 0.1)
    np.testing.assert_allclose(result.spike_times(convention="nest")[7], (steps + 1) * 0.1)
    np.testing.assert_allclose(result.spike_times(convention="brian2")[7], steps * 0.1)
    times, neurons = result.spike_event_times(convention="brian2")
    later, same = result.spike_event_times
    np.testing.assert_allclose(later - times, 0.1)
    np.testing.assert_array_equal(neurons, same)
    with pytest.raises(InputError, match="convention must be one of"):
        result.spike_times(convention="genn")


def test_precise_spike_times_keep_the_crossing_and_brian2s_the_step_start():
    simulator = lifgen.compile("lapicque", method="exact", precise=True,
                               reset_timing="same_step")
    result = simulator.run(300, 1, inputs={"I": 0.5})
    crossing, stamped = result.spike_times[0], result.spike_times(convention="brian2")[0]
    assert crossing.size and np.all(crossing % result.dt > 1e-12)  # off the grid
    np.testing.assert_allclose(stamped, result.spike_steps(0) * result.dt)
    assert np.all((crossing > stamped) & (crossing <= stamped + result.dt))


def test_events_and_raster_agree():
    simulator = lifgen.compile("leaky")
    currents = np.linspace(0.1, 0.6, 8)
    by_raster = simulator.run(300, 8, inputs={"I": currents})
    by_events = simulator.run(300, 8, inputs={"I": currents}, spikes="events")
    np.testing.assert_array_equal(by_raster.raster(), by_events.raster())
    assert by_events.rate_unit == "spikes/step"  # a discrete-time map counts steps
    counts = simulator.run(300, 8, inputs={"I": currents}, spikes="count")
    with pytest.raises(InputError, match="spike counts only"):
        counts.spike_event_times


def test_the_threshold_is_known_per_neuron_from_the_spike_condition():
    result = lifgen.compile("lif_cuba").run(10, 3, params={"V_t": np.array([-50.0, -49.0, -48.0])})
    assert result.threshold_state == "V"
    np.testing.assert_array_equal(result.threshold, [-50.0, -49.0, -48.0])


def test_a_result_prints_a_short_summary_not_its_arrays(cuba):
    _, result = cuba
    text = repr(result)
    assert len(text) < 600 and "lif_cuba" in text and "2000 of 0.1 ms (200 ms)" in text
    assert "V (2 neurons)" in text and "Hz" in text
    page = result._repr_html_()
    assert "<table>" in page and "<svg" in page and page.count("<rect") > 10


def test_simulator_step_map_and_report_show_themselves(cuba):
    simulator, _ = cuba
    page = simulator._repr_html_()
    assert "<details>" in page and "lif_cuba" in page and "exact" in page
    assert "#include" in page.split("<details>")[-1]
    text = repr(simulator.step_map)
    assert text.startswith("<StepMap lif_cuba: exact, dt=0.1>") and "spike if V > V_t" in text
    assert "V &lt;-" in simulator.step_map._repr_html_()
    report = lifgen.verify("lapicque", methods=("euler", "exact"), dts=[1e-3, 5e-4, 2.5e-4])
    assert repr(report) == "<VerificationReport lapicque: 2 methods x 3 dts, passed>"
    assert str(report) == report.to_table()
    page = report._repr_html_()
    assert "<pre>" not in page and "<th style='text-align:left'>max error</th>" in page
    assert "<td style='text-align:left'>euler</td><td style='text-align:left'>ok</td>" in page
    assert page.count("<tr>") >= 1 + 6 + 1 + 2  # header, a row per method and dt, verdicts
    assert html.escape(report.verdict_details()["euler"]) in page
    assert "observed order" in report.verdict_details()["euler"]
    if importlib.util.find_spec("matplotlib"):
        assert "<img src='data:image/png;base64," in page


def test_a_simulator_in_a_notebook_shows_its_model_not_its_internals(cuba):
    """Equations in LaTeX, parameters and states with units and values, the method and why;
    the options and the generated C collapsed."""
    simulator, _ = cuba
    page = simulator._repr_html_()
    shown = page.split("<details>")[0]
    assert "$$" in shown and r"\frac{d}{d t} V" in shown and "\\text{spike if }" in shown
    assert "<td style='text-align:left'>tau_m</td><td style='text-align:left'>20</td>" \
           "<td style='text-align:left'>ms</td>" in shown
    assert "<td style='text-align:left'>V</td><td style='text-align:left'>-60</td>" \
           "<td style='text-align:left'>mV</td>" in shown
    assert ">exact<" in shown and html.escape(simulator.method_reason) in shown
    assert "0.1 ms" in shown and "#include" not in shown and "threads" not in shown
    auto = lifgen.compile("adex")
    assert "auto" in auto.method_reason
    assert html.escape(auto.method_reason) in auto._repr_html_().split("<details>")[0]


def test_model_latex_has_no_float_clutter():
    latex = lifgen.load_model("izhikevich")._repr_latex_()
    assert "1.0 I" not in latex and "140.0" not in latex and "5 V" in latex and "0.04" in latex


def test_plot_has_a_panel_and_a_unit_per_state(tmp_path):
    pytest.importorskip("matplotlib")
    result = lifgen.compile("adex").run(2000, inputs={"I": 800.0}, record=["V", "w"])
    figure = result.plot(path=None)
    labels = [axis.get_ylabel() for axis in figure.axes]
    assert labels[0] == "input" and "V (mV)" in labels and "w (pA)" in labels
    assert figure.axes[-1].get_xlabel() == "time (ms)"
    v_axis = figure.axes[labels.index("V (mV)")]
    assert any(line.get_linestyle() == "--" for line in v_axis.get_lines())  # the threshold
    path = tmp_path / "raster.png"
    result.plot_raster(path)
    assert path.stat().st_size > 1000


def test_plot_titles_count_one_spike_in_the_singular():
    pytest.importorskip("matplotlib")
    result = lifgen.compile("leaky").run(12, 1, inputs={"I": lifgen.Pulse(2.0, 0, 1)})
    assert int(result.spike_count.sum()) == 1
    assert result.plot().axes[0].get_title().endswith("neuron 0, 1 spike")
    assert result.plot_raster().axes[0].get_title() == "leaky: 1 spike from 1 neuron"


@pytest.fixture(scope="module")
def crowd():
    """4000 leaky neurons firing at different rates: a raster that used to be a black mass."""
    simulator = lifgen.compile("leaky")
    return simulator.run(200, 4000, inputs={"I": np.linspace(0.0, 0.5, 4000)}, spikes="events")


def _raster_line(figure):
    (line,) = [line for line in figure.axes[0].get_lines() if line.get_xdata().size]
    return line


def test_a_raster_of_thousands_of_neurons_draws_small_dots(crowd):
    pytest.importorskip("matplotlib")
    dense = _raster_line(crowd.plot_raster())
    assert dense.get_marker() == "." and dense.get_markersize() < 1
    assert dense.get_markeredgewidth() == 0
    few = _raster_line(crowd.plot_raster(neurons=np.arange(3980, 4000)))
    assert crowd.plot_raster(neurons=20).axes[0].get_title().endswith("from 20 of 4000 neurons")
    assert few.get_marker() == "|" and few.get_markersize() == 3
    assert dense.get_xdata().size == int(crowd.spike_count.sum())


def test_a_raster_shows_a_subset_of_neurons(crowd):
    pytest.importorskip("matplotlib")
    chosen = [3999, 3000, 2500]
    figure = crowd.plot_raster(neurons=chosen)
    line = _raster_line(figure)
    times, neurons = crowd.spike_event_times
    assert line.get_xdata().size == int(np.isin(neurons, chosen).sum()) > 0
    assert set(np.asarray(line.get_ydata()).tolist()) == {0, 1, 2}  # one row each, index order
    assert figure.axes[0].get_title().endswith("from 3 of 4000 neurons")
    labels = {t.get_text() for t in figure.axes[0].get_yticklabels()}
    assert {"2500", "3000", "3999"} <= labels
    mask = np.zeros(4000, bool)
    mask[[5, 7]] = True
    assert "from 2 of 4000" in crowd.plot_raster(neurons=mask).axes[0].get_title()
    with pytest.raises(InputError, match="indices in 0..3999"):
        crowd.plot_raster(neurons=[4000])


def test_verification_plot_labels_the_tested_dts_only():
    pytest.importorskip("matplotlib")
    report = lifgen.verify("lapicque", methods="euler,rk2")
    figure = report.plot()
    errors = figure.axes[1]
    figure.canvas.draw()
    labels = [t.get_text() for t in errors.get_xticklabels() if t.get_text()]
    assert labels == [f"{dt:g}" for dt in sorted({r["dt"] for r in report.rows})]
    assert not [t for t in errors.xaxis.get_minorticklabels() if t.get_text()]
    boxes = [t.get_window_extent() for t in errors.get_xticklabels() if t.get_text()]
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:]))  # no two labels overlap
