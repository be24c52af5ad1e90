"""Write Brian2 references for lifgen's nonlinear models: the first spike times of each case.

Run in a throwaway environment; lifgen's tests never need Brian2:

    python3 -m venv /tmp/b2env
    /tmp/b2env/bin/pip install brian2 "numpy<2"    # Brian2 2.9 needs NumPy < 2.4
    /tmp/b2env/bin/python tests/reference/make_brian2_refs.py

Each case uses the same equations, parameters, dt and method as lifgen's model file, the
numpy code-generation target, float64, and a constant input from t = 0. Brian2 tests the
threshold after each update and resets in the same step, as these lifgen models do.
"""

import json
import sys
from pathlib import Path

import brian2 as b2
import numpy as np

OUT = Path(__file__).resolve().parent / "brian2"

IZHIKEVICH = """
dV/dt = (0.04*V**2 + 5*V + 140 - u + I)/ms : 1
du/dt = a*(b*V - u)/ms : 1
a : 1
b : 1
c : 1
d : 1
I : 1
"""
IZHIKEVICH_PRESETS = {"regular_spiking": (0.02, 0.2, -65.0, 8.0),
                      "fast_spiking": (0.1, 0.2, -65.0, 2.0)}

ADEX = """
dV/dt = (-g_L*(V - E_L) + g_L*Delta_T*exp((V - V_T)/Delta_T) - w + I)/C : 1
dw/dt = (a*(V - E_L) - w)/tau_w : 1
C : second
g_L : 1
E_L : 1
V_T : 1
Delta_T : 1
a : 1
tau_w : second
b : 1
V_r : 1
V_peak : 1
I : 1
"""
# Naud et al. 2008, Table 1 (C in pF, g_L and a in nS, tau_w in ms, b and I in pA, mV).
ADEX_PRESETS = {
    "tonic": dict(C=200.0, g_L=10.0, E_L=-70.0, a=2.0, tau_w=30.0, b=0.0, V_r=-58.0, I=500.0),
    "adapting": dict(C=200.0, g_L=12.0, E_L=-70.0, a=2.0, tau_w=300.0, b=60.0, V_r=-58.0,
                     I=500.0),
    "bursting": dict(C=200.0, g_L=10.0, E_L=-58.0, a=2.0, tau_w=120.0, b=100.0, V_r=-46.0,
                     I=210.0),
}

HH = """
dV/dt = (I - g_Na*m**3*h*(V - E_Na) - g_K*n**4*(V - E_K) - g_L*(V - E_L))/C : 1
dm/dt = (alpha_m*(1 - m) - beta_m*m)/ms : 1
dh/dt = (alpha_h*(1 - h) - beta_h*h)/ms : 1
dn/dt = (alpha_n*(1 - n) - beta_n*n)/ms : 1
alpha_m = 1/exprel(-(V + 40)/10) : 1
beta_m = 4*exp(-(V + 65)/18) : 1
alpha_h = 0.07*exp(-(V + 65)/20) : 1
beta_h = 1/(1 + exp(-(V + 35)/10)) : 1
alpha_n = 0.1/exprel(-(V + 55)/10) : 1
beta_n = 0.125*exp(-(V + 65)/80) : 1
I : 1
"""
CUBA = """
dV/dt = (-(V - E_L) + g_e + g_i + I)/tau_m : 1 (unless refractory)
dg_e/dt = -g_e/tau_e : 1
dg_i/dt = -g_i/tau_i : 1
I : 1
"""
COBA = """
dV/dt = (-(V - E_L) + g_e*(E_e - V) + g_i*(E_i - V) + I)/tau_m : 1 (unless refractory)
dg_e/dt = -g_e/tau_e : 1
dg_i/dt = -g_i/tau_i : 1
I : 1
"""
# Brette et al. (2007) values, as in Brian2's CUBA and COBA examples; the synaptic states start
# away from zero so that they matter, and the drive keeps the neuron firing.
SYNAPTIC_TIMES = dict(tau_m=20 * b2.ms, tau_e=5 * b2.ms, tau_i=10 * b2.ms)
CUBA_CASE = dict(namespace=dict(SYNAPTIC_TIMES, E_L=-49.0, V_t=-50.0, V_r=-60.0),
                 initial={"V": -60.0, "g_e": 6.0, "g_i": -3.0}, I=2.0, method="exact")
COBA_CASE = dict(namespace=dict(SYNAPTIC_TIMES, E_L=-60.0, E_e=0.0, E_i=-80.0, V_t=-50.0,
                                V_r=-60.0),
                 initial={"V": -60.0, "g_e": 0.4, "g_i": 0.3}, I=20.0,
                 method="exponential_euler")
HH_VALUES = dict(C=1.0, g_Na=120.0, g_K=36.0, g_L=0.3, E_Na=50.0, E_K=-77.0, E_L=-54.387)


def run(equations, namespace, threshold, reset, initial, method, dt_ms, steps, values,
        refractory=False):
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = dt_ms * b2.ms
    group = b2.NeuronGroup(1, equations, threshold=threshold, reset=reset, method=method,
                           namespace=namespace, refractory=refractory)
    for name, value in {**values, **initial}.items():
        setattr(group, name, value)
    monitor = b2.SpikeMonitor(group)
    b2.run(steps * dt_ms * b2.ms)
    return np.round(np.asarray(monitor.t / b2.ms) / dt_ms).astype(int)


def write(name, config, spikes):
    config = dict(config, versions={"brian2": b2.__version__, "numpy": np.__version__,
                                    "python": sys.version.split()[0]})
    np.savez_compressed(OUT / f"{name}.npz", config=json.dumps(config), spike_steps=spikes)
    print(f"{name:32s} {len(spikes):3d} spikes, first {spikes[:5].tolist()}")


def main():
    OUT.mkdir(exist_ok=True)
    for preset, (a, b, c, d) in IZHIKEVICH_PRESETS.items():
        steps = 5000
        spikes = run(IZHIKEVICH, {}, "V >= 30", "V = c\nu = u + d",
                     {"V": -65.0, "u": b * -65.0}, "rk4", 0.1, steps,
                     dict(a=a, b=b, c=c, d=d, I=10.0))
        write(f"izhikevich_{preset}", {"model": "izhikevich", "preset": preset, "method": "rk4",
                                       "dt": 0.1, "steps": steps, "I": 10.0}, spikes)
    for preset, values in ADEX_PRESETS.items():
        steps = 5000
        values = dict(values, V_T=-50.0, Delta_T=2.0, V_peak=-40.0)
        current = values.pop("I")
        brian_values = dict(values, C=values["C"] * b2.ms, tau_w=values["tau_w"] * b2.ms, I=current)
        spikes = run(ADEX, {}, "V > V_peak", "V = V_r\nw = w + b", {"V": -70.0, "w": 0.0},
                     "rk4", 0.1, steps, brian_values)
        write(f"adex_{preset}", {"model": "adex", "preset": preset, "method": "rk4", "dt": 0.1,
                                 "steps": steps, "I": current}, spikes)
    for name, equations, case in (("lif_cuba", CUBA, CUBA_CASE), ("lif_coba", COBA, COBA_CASE)):
        steps = 3000
        spikes = run(equations, case["namespace"], "V > V_t", "V = V_r", case["initial"],
                     case["method"], 0.1, steps, {"I": case["I"]}, refractory=5 * b2.ms)
        write(name, {"model": name, "preset": None, "method": case["method"], "dt": 0.1,
                     "steps": steps, "I": case["I"], "initial": case["initial"]}, spikes)
    for method in ("exponential_euler", "rk4"):
        steps = 20000
        namespace = {k: v for k, v in HH_VALUES.items() if k != "C"}
        namespace["C"] = HH_VALUES["C"] * b2.ms
        spikes = run(HH, namespace, "V > 0", "", {"V": -65.0, "m": 0.0529, "h": 0.5961,
                                                  "n": 0.3177},
                     method, 0.01, steps, {"I": 10.0})
        # Brian2's threshold counts every step above 0 mV with no reset or refractoriness;
        # keep the upward crossings, which is what lifgen's model file asks for.
        crossings = spikes[np.concatenate([[True], np.diff(spikes) > 1])]
        write(f"hodgkin_huxley_{method}", {"model": "hodgkin_huxley", "preset": None,
                                           "method": method, "dt": 0.01, "steps": steps,
                                           "I": 10.0}, crossings)


if __name__ == "__main__":
    main()
